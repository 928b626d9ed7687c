"""A segment as the target of the list's actions: ``?segment=ID`` plus "select all" carries it
through every confirmation page, the export and the email, and a job re-evaluates it."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import TestCase
from django.urls import reverse

from backoffice.jobs.models import Job
from backoffice.jobs.tasks import run_job
from customers.models import Customer, Status
from customers.selectors.filtersets import CustomerFilterSet
from customers.services.segments import segment_create
from tests.customers.bulk_helpers import LIST_URL, confirm, messages_of, start

pytestmark = pytest.mark.django_db

EXPORT_URL = reverse("admin:customers_customer_export")
CODENAMES = ["view_customer", "tag_customer", "email_customer", "export_customer", "view_segment"]


@pytest.fixture
def people(make_customer, make_order):
    crowd = {}
    for first, last, spent in [
        ("Ann", "Smith", "150.00"),
        ("Bob", "Smith", "20.00"),
        ("Cy", "Jones", "300.00"),
        ("Dee", "Brown", "120.00"),
    ]:
        crowd[first] = make_customer(
            first_name=first, last_name=last, email=f"{first.lower()}@example.com"
        )
        make_order(crowd[first], total=spent)
    return crowd


@pytest.fixture
def big_spenders(people, make_staff):
    author = make_staff("view_segment", "add_segment")
    return segment_create(
        actor=author, name="VIP big spenders", conditions={"total_spent_min": "100"}
    )


@pytest.fixture
def clerk(client, make_staff):
    user = make_staff(*CODENAMES)
    client.force_login(user)
    client.user = user
    return client


def names(queryset) -> set[str]:
    return set(queryset.values_list("first_name", flat=True))


def segment_url(segment, extra: str = "") -> str:
    return f"{LIST_URL}?segment={segment.pk}{extra}"


def test_the_list_opened_on_a_segment_shows_its_members(clerk, big_spenders):
    response = clerk.get(segment_url(big_spenders))
    assert response.status_code == 200
    listed = {row.first_name for row in response.context["cl"].result_list}
    assert listed == {"Ann", "Cy", "Dee"}


def test_a_bulk_tag_on_a_segment_names_it_and_tags_its_members(clerk, people, big_spenders):
    one = people["Ann"]
    page = start(clerk, "add_tags", url=segment_url(big_spenders), select_across=True, ids=[one.pk])
    assert page.status_code == 200
    text = page.content.decode()
    assert "All 3 customers matching the list's filters are selected." in text
    assert "Segment: VIP big spenders" in text
    response = confirm(clerk, page, tags="Spring")
    assert messages_of(response) == ["Tag “Spring” added to 3 customers."]
    assert names(Customer.objects.filter(tags__name="Spring")) == {"Ann", "Cy", "Dee"}


def test_an_export_of_a_segment_writes_its_members(clerk, big_spenders):
    data = {
        "scope": "filtered",
        "filters": f"segment={big_spenders.pk}",
        "columns": ["Email"],
        "delimiter": ",",
        "file_format": "csv",
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = clerk.post(EXPORT_URL, data)
    assert response.status_code == 200, response.content[:500]
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert sorted(rows[1:]) == [["ann@example.com"], ["cy@example.com"], ["dee@example.com"]]


def test_an_email_to_a_segment_reaches_its_members(
    clerk, people, big_spenders, mailoutbox, django_capture_on_commit_callbacks
):
    url = segment_url(big_spenders)
    with django_capture_on_commit_callbacks(execute=True):
        page = start(clerk, "send_email", url=url, select_across=True, ids=[people["Ann"].pk])
        assert "Segment: VIP big spenders" in page.content.decode()
        response = confirm(clerk, page, subject="Thanks", body="Hello {first_name}")
    assert messages_of(response) == ["Email sent to 3 customers."]
    assert sorted(m.to[0] for m in mailoutbox) == [
        "ann@example.com",
        "cy@example.com",
        "dee@example.com",
    ]


def test_a_job_on_a_segment_acts_on_its_members_when_it_runs(
    clerk, people, big_spenders, make_customer, make_order, settings
):
    settings.BACKOFFICE_BULK_JOB_THRESHOLD = 2  # the database queue: nothing runs in the request
    url = segment_url(big_spenders)
    page = start(clerk, "add_tags", url=url, select_across=True, ids=[people["Ann"].pk])
    confirm(clerk, page, follow=False, tags="Spring")
    job = Job.objects.get()
    assert job.total == 3 and job.params["selection"]["query"] == f"segment={big_spenders.pk}"
    # Before the worker runs: Bob spends enough, Cy is archived, a new big spender arrives.
    make_order(people["Bob"], total="500.00")
    Customer.objects.filter(pk=people["Cy"].pk).update(status=Status.ARCHIVED)
    make_order(make_customer(first_name="Eve", email="eve@example.com"), total="999.00")
    assert run_job.call(job.pk) == "done"
    job.refresh_from_db()
    assert job.result["selected"] == job.total == job.done == 4
    assert job.message == "Tag “Spring” added to 4 customers."
    assert names(Customer.objects.filter(tags__name="Spring")) == {"Ann", "Bob", "Dee", "Eve"}


def test_someone_elses_unshared_segment_selects_nobody(rf, make_staff, people):
    author = make_staff("view_segment", "add_segment", username="ann")
    private = segment_create(
        actor=author, name="Ann's", conditions={"total_spent_min": "100"}, shared=False
    )
    request = rf.get(LIST_URL)

    def seen_by(user) -> set[str]:
        request.user = user
        data = {"segment": str(private.pk)}
        return names(CustomerFilterSet(data, queryset=Customer.objects.all(), request=request).qs)

    assert seen_by(author) == {"Ann", "Cy", "Dee"}
    assert seen_by(make_staff(*CODENAMES, username="bob")) == set()
    assert seen_by(make_staff("view_customer", username="cy")) == set()


def test_the_list_opened_on_someone_elses_unshared_segment_lists_nobody(clerk, make_staff, people):
    author = make_staff("view_segment", "add_segment", username="ann")
    private = segment_create(
        actor=author, name="Ann's", conditions={"total_spent_min": "100"}, shared=False
    )
    response = clerk.get(segment_url(private))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    # Its select-all does not reach the members either.
    assert response.context["cl"].queryset.count() == 0
