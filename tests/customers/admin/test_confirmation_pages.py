"""Every action of the customer list, confirmed through its own page's form, ticked and
"select all": the selection the page posts back is exactly the one that is acted on."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from customers.models import Customer, Status
from groups.models import CustomerGroup
from tests.customers.admin.browser_form import page_form, submit
from tests.customers.bulk_helpers import LIST_URL, start

pytestmark = pytest.mark.django_db

CODENAMES = [
    "view_customer",
    "change_customer",
    "tag_customer",
    "group_customer",
    "archive_customer",
    "email_customer",
    "delete_customer",
    "merge_customer",
    "export_customer",
    "request_erasure_customer",
]
# Three Smiths match the search; the list shows Jones too, who is never selected.
SEARCH = "?q=smith"
TICKED = {"Ann", "Bob"}
ALL_SMITHS = {"Ann", "Bob", "Cy"}


def names(queryset) -> set[str]:
    return set(queryset.values_list("first_name", flat=True))


def exported_names(response, mails) -> set[str]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return {row["First Name"] for row in csv.DictReader(io.StringIO(text))}


def merged_names(response, mails) -> set[str]:
    merged = Customer.objects.filter(status=Status.MERGED)
    survivors = {c.merged_into_id for c in merged}
    if not survivors:
        return set()
    assert len(survivors) == 1, survivors
    return names(merged) | names(Customer.objects.filter(pk__in=survivors))


@dataclass
class Case:
    outcome: Callable  # (response, mails) -> first names the action took effect on
    setup: Callable[[list[Customer]], None] = lambda customers: None
    typed: Callable[[], dict] = dict
    query: str = SEARCH
    button: str | None = None
    follow: bool = True
    extra: dict = field(default_factory=dict)


def _tag_all(customers):
    for customer in customers:
        customer.tags.add("VIP")


def _group_all(customers):
    group = CustomerGroup.objects.create(name="Wholesale")
    Customer.objects.update(group=group)


def _archive_all(customers):
    Customer.objects.update(status=Status.ARCHIVED)


def _request_all(customers):
    Customer.objects.update(erasure_requested_at=timezone.now())


CASES = {
    "add_tags": Case(
        outcome=lambda response, mails: names(Customer.objects.filter(tags__name="VIP")),
        typed=lambda: {"tags": "VIP"},
    ),
    "remove_tags": Case(
        outcome=lambda response, mails: names(Customer.objects.exclude(tags__name="VIP")),
        setup=_tag_all,
        typed=lambda: {"tags": "VIP"},
    ),
    "assign_group": Case(
        outcome=lambda response, mails: names(Customer.objects.filter(group__name="Retail")),
        typed=lambda: {"group": str(CustomerGroup.objects.create(name="Retail").pk)},
    ),
    "remove_group": Case(
        outcome=lambda response, mails: names(Customer.objects.filter(group=None)),
        setup=_group_all,
    ),
    "archive": Case(
        outcome=lambda response, mails: names(Customer.objects.filter(status=Status.ARCHIVED))
    ),
    "unarchive": Case(
        outcome=lambda response, mails: names(Customer.objects.filter(status=Status.ACTIVE)),
        setup=_archive_all,
        query=SEARCH + "&status=archived",
    ),
    "send_email": Case(
        outcome=lambda response, mails: {m.to[0].split("@")[0].capitalize() for m in mails},
        typed=lambda: {"subject": "Hello {first_name}", "body": "Our new hours."},
    ),
    "delete_customers": Case(
        outcome=lambda response, mails: {"Ann", "Bob", "Cy", "Dee"} - names(Customer.objects.all())
    ),
    "merge_selected": Case(outcome=merged_names, button="_confirm"),
    "export_selected": Case(outcome=exported_names, follow=False),
    "request_erasure": Case(
        outcome=lambda response, mails: names(
            Customer.objects.filter(erasure_requested_at__isnull=False)
        )
    ),
    "cancel_erasure": Case(
        outcome=lambda response, mails: names(Customer.objects.filter(erasure_requested_at=None)),
        setup=_request_all,
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
    client.force_login(make_staff(*CODENAMES))
    return client


@pytest.mark.parametrize("select_across", [False, True], ids=["ticked", "select-all"])
@pytest.mark.parametrize("action", CASES)
def test_each_confirmation_page_posts_back_its_selection(
    clerk, people, action, select_across, mailoutbox, django_capture_on_commit_callbacks
):
    case = CASES[action]
    case.setup(people)
    ann, bob = people[0], people[1]
    url = LIST_URL + case.query
    if select_across:
        # The browser posts the visible page's ids with select_across=1.
        page = start(clerk, action, url=url, select_across=True, ids=[ann.pk])
        expected = ALL_SMITHS
    else:
        page = start(clerk, action, [ann, bob], url=url)
        expected = TICKED
    assert page.status_code == 200
    if action != "export_selected":  # its outcome is the download, not data
        assert case.outcome(page, mailoutbox) == set(), "acted before the confirmation"
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(clerk, page, button=case.button, follow=case.follow, **case.typed())
    assert response.status_code == 200, response
    assert case.outcome(response, mailoutbox) == expected


def test_erasure_select_all_posts_the_filters_not_every_id(clerk, people):
    """The bug: "Request erasure" on "select all N" posted no selection and did nothing."""
    ann = people[0]
    page = start(clerk, "request_erasure", url=LIST_URL + SEARCH, select_across=True, ids=[ann.pk])
    url, payload = page_form(page)
    assert url == LIST_URL + SEARCH
    assert payload == {
        "action": ["request_erasure"],
        "select_across": ["1"],
        "_selection_count": ["3"],
        "_selected_action": [str(ann.pk)],
        "post": ["yes"],
    }
    response = submit(clerk, page)
    assert [str(m) for m in response.context["messages"]] == ["Erasure requested for 3 customers."]
