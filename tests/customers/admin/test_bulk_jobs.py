""" "Select all N" above BACKOFFICE_BULK_JOB_THRESHOLD: the confirmed page starts a job that
re-reads the list's selection, runs the same service in batches and says the same sentences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from backoffice.jobs.models import Job
from backoffice.jobs.tasks import run_job
from customers.models import Customer, CustomerEvent, EventKind, Status
from groups.models import CustomerGroup
from tests.customers.admin.browser_form import submit
from tests.customers.bulk_helpers import LIST_URL, messages_of, start

pytestmark = pytest.mark.django_db

CODENAMES = [
    "view_customer",
    "tag_customer",
    "group_customer",
    "archive_customer",
    "delete_customer",
]
SEARCH = "?q=smith"


def names(queryset) -> set[str]:
    return set(queryset.values_list("first_name", flat=True))


@dataclass
class Case:
    outcome: Callable[[], set[str]]  # the first names the action took effect on
    message: str  # what the job says, word for word the immediate path's messages
    setup: Callable[[], None] = lambda: None
    typed: Callable[[], dict] = dict
    query: str = SEARCH
    extra: dict = field(default_factory=dict)


def _tag_all():
    for customer in Customer.objects.all():
        customer.tags.add("VIP")


def _group_all():
    Customer.objects.update(group=CustomerGroup.objects.create(name="Wholesale"))


CASES = {
    "add_tags": Case(
        outcome=lambda: names(Customer.objects.filter(tags__name="VIP")),
        message="Tag “VIP” added to 3 customers.",
        typed=lambda: {"tags": "VIP"},
    ),
    "remove_tags": Case(
        outcome=lambda: names(Customer.objects.exclude(tags__name="VIP")),
        message="Tag “VIP” removed from 3 customers.",
        setup=_tag_all,
        typed=lambda: {"tags": "vip"},
    ),
    "assign_group": Case(
        outcome=lambda: names(Customer.objects.filter(group__name="Retail")),
        message="3 customers moved to group “Retail”.",
        typed=lambda: {"group": str(CustomerGroup.objects.create(name="Retail").pk)},
    ),
    "remove_group": Case(
        outcome=lambda: names(Customer.objects.filter(group=None)),
        message="3 customers removed from their group.",
        setup=_group_all,
    ),
    "archive": Case(
        outcome=lambda: names(Customer.objects.filter(status=Status.ARCHIVED)),
        message="3 customers archived.",
    ),
    "unarchive": Case(
        outcome=lambda: names(Customer.objects.filter(status=Status.ACTIVE)),
        message="3 customers unarchived.",
        setup=lambda: Customer.objects.update(status=Status.ARCHIVED),
        query=SEARCH + "&status=archived",
    ),
    "delete_customers": Case(
        outcome=lambda: {"Ann", "Bob", "Cy", "Dee"} - names(Customer.objects.all()),
        message="3 customers deleted.",
    ),
}


@pytest.fixture
def people(make_customer):
    return [
        make_customer(first_name=first, last_name=last, email=f"{first.lower()}@example.com")
        for first, last in [("Ann", "Smith"), ("Bob", "Smith"), ("Cy", "Smith"), ("Dee", "Jones")]
    ]


@pytest.fixture
def clerk(client, make_staff):
    user = make_staff(*CODENAMES)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def jobs_above_two(settings, monkeypatch):
    """Three Smiths are above the threshold; batches of two make the job take two batches."""
    settings.BACKOFFICE_BULK_JOB_THRESHOLD = 2
    settings.BACKOFFICE_BULK_JOB_BATCH = 2
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    monkeypatch.setattr("backoffice.jobs.progress.PROGRESS_INTERVAL", 0)


def job_url(job: Job) -> str:
    return reverse("admin:jobs_job_change", args=[job.pk])


@pytest.mark.parametrize("action", CASES)
def test_select_all_above_the_threshold_runs_the_action_as_a_job(
    clerk, people, action, jobs_above_two, django_capture_on_commit_callbacks
):
    case = CASES[action]
    case.setup()
    page = start(clerk, action, url=LIST_URL + case.query, select_across=True, ids=[people[0].pk])
    assert page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(clerk, page, follow=False, **case.typed())
        assert case.outcome() == set(), "acted in the request"
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == job_url(job)
    assert (job.kind, job.state) == (f"customers.bulk.{action}", "done")
    assert job.owner_id == clerk.user.pk
    assert (job.done, job.total) == (3, 3)
    assert job.message == case.message
    assert job.result["selected"] == 3
    assert case.outcome() == {"Ann", "Bob", "Cy"}
    shown = clerk.get(job_url(job))
    assert shown.status_code == 200 and case.message in shown.content.decode()


def test_the_job_says_what_was_left_alone_too(
    clerk, people, jobs_above_two, django_capture_on_commit_callbacks
):
    Customer.objects.filter(first_name="Bob").update(status=Status.ARCHIVED)
    url = LIST_URL + SEARCH + "&status=all"
    page = start(clerk, "archive", url=url, select_across=True, ids=[people[0].pk])
    with django_capture_on_commit_callbacks(execute=True):
        submit(clerk, page, follow=False)
    job = Job.objects.get()
    assert job.message == (
        "2 customers archived. 1 customer was not active and was left as it was."
    )
    assert [line[1] for line in job.result["lines"]] == [
        "2 customers archived.",
        "1 customer was not active and was left as it was.",
    ]
    events = CustomerEvent.objects.filter(kind=EventKind.ARCHIVED)
    assert sorted(events.values_list("customer__first_name", flat=True)) == ["Ann", "Cy"]


def test_at_the_threshold_the_action_runs_in_the_request_as_before(clerk, people, settings):
    settings.BACKOFFICE_BULK_JOB_THRESHOLD = 3
    page = start(clerk, "archive", url=LIST_URL + SEARCH, select_across=True, ids=[people[0].pk])
    response = submit(clerk, page)
    assert messages_of(response) == ["3 customers archived."]
    assert not Job.objects.exists()
    assert names(Customer.objects.filter(status=Status.ARCHIVED)) == {"Ann", "Bob", "Cy"}


def test_a_double_click_starts_one_job(clerk, people, settings):
    settings.BACKOFFICE_BULK_JOB_THRESHOLD = 2  # the database queue: nothing runs here
    page = start(clerk, "add_tags", url=LIST_URL + SEARCH, select_across=True, ids=[people[0].pk])
    first = submit(clerk, page, follow=False, tags="VIP")
    second = submit(clerk, page, follow=False, tags="VIP")
    job = Job.objects.get()
    assert first["Location"] == second["Location"] == job_url(job)
    assert job.state == "queued" and job.params["data"] == {"tags": ["VIP"]}
    # Another tag is another confirmation: its own job.
    submit(clerk, page, follow=False, tags="Wholesale")
    assert Job.objects.count() == 2


def test_the_job_reads_the_list_again_when_it_runs(clerk, people, make_customer, settings):
    settings.BACKOFFICE_BULK_JOB_THRESHOLD = 2
    page = start(clerk, "archive", url=LIST_URL + SEARCH, select_across=True, ids=[people[0].pk])
    submit(clerk, page, follow=False)
    job = Job.objects.get()
    # While it waits in the queue: a new Smith matches, an archived one no longer does.
    make_customer(first_name="Eve", last_name="Smith")
    Customer.objects.filter(first_name="Cy").update(status=Status.ARCHIVED)
    assert run_job.call(job.pk) == "done"
    job.refresh_from_db()
    assert job.result["selected"] == job.done == job.total == 3
    assert job.message == "3 customers archived."
    assert names(Customer.objects.filter(status=Status.ARCHIVED)) == {"Ann", "Bob", "Cy", "Eve"}


def test_ticked_customers_above_the_threshold_are_exactly_those(
    clerk, people, jobs_above_two, django_capture_on_commit_callbacks
):
    ann, bob, cy, dee = people
    page = start(clerk, "archive", [ann, cy, dee])
    with django_capture_on_commit_callbacks(execute=True):
        submit(clerk, page, follow=False)
    assert Job.objects.get().params["selection"]["ids"] == sorted([ann.pk, cy.pk, dee.pk])
    assert names(Customer.objects.filter(status=Status.ARCHIVED)) == {"Ann", "Cy", "Dee"}


def test_cancel_stops_between_batches_and_reports_what_was_committed(clerk, people, settings):
    settings.BACKOFFICE_BULK_JOB_THRESHOLD = 2
    settings.BACKOFFICE_BULK_JOB_BATCH = 2
    page = start(clerk, "archive", url=LIST_URL + SEARCH, select_across=True, ids=[people[0].pk])
    submit(clerk, page, follow=False)
    job = Job.objects.get()
    # The click on Cancel lands as the worker takes the job: the first batch still commits.
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("backoffice.jobs.progress.PROGRESS_INTERVAL", 0)
        assert run_job.call(job.pk) == "cancelled"
    job.refresh_from_db()
    assert (job.done, job.total) == (2, 3)
    assert job.message == "2 customers archived."
    assert job.result == {"selected": 3, "done": 2, "lines": [[25, "2 customers archived."]]}
    assert names(Customer.objects.filter(status=Status.ARCHIVED)) == {"Ann", "Bob"}


def test_a_job_of_the_delete_action_keeps_the_undeletable_and_says_why(
    clerk, people, make_order, jobs_above_two, django_capture_on_commit_callbacks
):
    make_order(people[1])
    url = LIST_URL + SEARCH
    page = start(clerk, "delete_customers", url=url, select_across=True, ids=[people[0].pk])
    assert page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        submit(clerk, page, follow=False)
    job = Job.objects.get()
    assert job.message == "2 customers deleted. 1 customer kept: 1 has order history."
    assert names(Customer.objects.all()) == {"Bob", "Dee"}


def test_a_group_created_by_the_job_is_created_once_and_said_once(
    client, make_staff, people, jobs_above_two, django_capture_on_commit_callbacks
):
    user = make_staff("view_customer", "group_customer", "add_customergroup")
    client.force_login(user)
    url = LIST_URL + SEARCH
    page = start(client, "assign_group", url=url, select_across=True, ids=[people[0].pk])
    with django_capture_on_commit_callbacks(execute=True):
        submit(client, page, follow=False, new_group="Retail")
    job = Job.objects.get()
    assert job.message == "Group “Retail” created. 3 customers moved to group “Retail”."
    assert CustomerGroup.objects.filter(name__iexact="retail").count() == 1
    assert names(Customer.objects.filter(group__name="Retail")) == {"Ann", "Bob", "Cy"}


def test_a_job_speaks_the_language_of_the_page_that_started_it(
    clerk, people, jobs_above_two, settings, django_capture_on_commit_callbacks
):
    clerk.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    page = start(clerk, "archive", url=LIST_URL + SEARCH, select_across=True, ids=[people[0].pk])
    with django_capture_on_commit_callbacks(execute=True):
        submit(clerk, page, follow=False)
    assert Job.objects.get().message == "3 clients archivés."
