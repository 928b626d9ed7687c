"""Bulk actions of the customer list as staff use them: tags, groups, archive, selection."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer, EventKind, Status, Tag, TaggedCustomer
from groups.models import CustomerGroup
from tests.customers.bulk_helpers import (
    LIST_URL,
    action_choices,
    confirm,
    events,
    hidden_fields,
    messages_of,
    run,
    start,
)

pytestmark = pytest.mark.django_db

ALL_ACTIONS = {
    "add_tags": "tag_customer",
    "remove_tags": "tag_customer",
    "assign_group": "group_customer",
    "remove_group": "group_customer",
    "archive": "archive_customer",
    "unarchive": "archive_customer",
    "send_email": "email_customer",
    "delete_customers": "delete_customer",
}


def tags_of(customer) -> set[str]:
    return set(customer.tags.names())


@pytest.fixture
def staff_client(client, make_staff):
    """A logged-in staff user with the view permission plus the codenames given."""

    def login(*codenames):
        client.force_login(make_staff("view_customer", *codenames))
        return client

    return login


# Permissions


@pytest.mark.parametrize(("action", "codename"), ALL_ACTIONS.items())
def test_each_action_needs_its_own_permission(staff_client, action, codename):
    client = staff_client(codename)
    offered = action_choices(client)
    assert action in offered
    others = {a for a, c in ALL_ACTIONS.items() if c != codename}
    assert not offered & others


def test_djangos_unguarded_delete_selected_is_not_offered(admin_client):
    assert "delete_selected" not in action_choices(admin_client)
    assert set(ALL_ACTIONS) <= action_choices(admin_client)


FORGED = {
    "add_tags": {"tags": "Forged"},
    "remove_tags": {"tags": "Keep"},
    "assign_group": {"new_group": "Forged"},
    "remove_group": {},
    "archive": {},
    "unarchive": {},
    "send_email": {"subject": "Hi", "body": "Hello"},
    "delete_customers": {},
}


@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_forged_post_without_the_permission_changes_nothing(
    staff_client, make_customer, mailoutbox, action
):
    group = CustomerGroup.objects.create(name="Keep")
    customer = make_customer(tags=["Keep"], group=group)
    archived = make_customer(status=Status.ARCHIVED)
    others = [c for a, c in ALL_ACTIONS.items() if c != ALL_ACTIONS[action]]
    client = staff_client("change_customer", *set(others))
    assert action not in action_choices(client)
    for step in ({"index": "0"}, {"post": "yes"}):
        response = client.post(
            LIST_URL + "?status=all",
            {
                "action": action,
                "select_across": "0",
                "_selected_action": [customer.pk, archived.pk],
                **step,
                **FORGED[action],
            },
            follow=True,
        )
        assert response.status_code == 200
        assert "No action selected." in messages_of(response)
    customer.refresh_from_db()
    archived.refresh_from_db()
    assert (customer.status, customer.group, customer.version) == (Status.ACTIVE, group, 1)
    assert archived.status == Status.ARCHIVED
    assert tags_of(customer) == {"Keep"}
    assert not Tag.objects.filter(name="Forged").exists()
    assert not CustomerGroup.objects.filter(name="Forged").exists()
    assert Customer.objects.count() == 2
    assert mailoutbox == []
    assert not events(EventKind.TAGS_ADDED) + events(EventKind.DELETED)


# Tags


def test_add_tags_matches_case_insensitively_and_creates_new_tags_once(staff_client, make_customer):
    vip = Tag.objects.create(name="VIP")
    a = make_customer(tags=["VIP"])
    b, c = make_customer(), make_customer()
    untouched = make_customer()
    client = staff_client("tag_customer")

    page = start(client, "add_tags", [a, b, c])
    assert page.status_code == 200
    html = page.content.decode()
    assert "3 customers are selected" in html
    assert '<datalist id="customer-tag-suggestions"><option value="VIP">' in html
    response = confirm(client, page, tags="vip, Newsletter, newsletter")

    assert messages_of(response) == [  # in the order typed
        "Tag “VIP” added to 2 customers.",
        "Tag “Newsletter” added to 3 customers.",
    ]
    assert Tag.objects.filter(name__iexact="vip").get() == vip
    assert Tag.objects.filter(name__iexact="newsletter").count() == 1
    for customer in (a, b, c):
        assert tags_of(customer) == {"VIP", "Newsletter"}
    assert tags_of(untouched) == set()
    by_customer = {e.customer_ref: e for e in events(EventKind.TAGS_ADDED)}
    assert by_customer[a.pk].data == {"tags": ["Newsletter"]}
    assert by_customer[b.pk].data == {"tags": ["VIP", "Newsletter"]}
    assert by_customer[b.pk].actor == response.wsgi_request.user
    # Tags are link rows: the customer rows (and their versions) are not rewritten.
    versions = dict(Customer.objects.values_list("pk", "version"))
    assert (versions[a.pk], versions[b.pk], versions[untouched.pk]) == (1, 1, 1)


def test_add_tags_needs_a_tag(staff_client, make_customer):
    customer = make_customer()
    client = staff_client("tag_customer")
    response = confirm(client, start(client, "add_tags", [customer]), tags=" , ")
    assert response.status_code == 200
    assert "Give at least one tag." in response.content.decode()
    assert TaggedCustomer.objects.count() == 0


def test_remove_tags_counts_each_tag_and_ignores_missing_ones(staff_client, make_customer):
    a = make_customer(tags=["VIP", "B2B"])
    b = make_customer(tags=["B2B"])
    c = make_customer()
    client = staff_client("tag_customer")
    response = run(client, "remove_tags", [a, b, c], tags="vip, b2b, Nope")
    assert sorted(messages_of(response)) == [
        "Tag “B2B” removed from 2 customers.",
        "Tag “Nope” removed from 0 customers.",
        "Tag “VIP” removed from 1 customer.",
    ]
    assert tags_of(a) == tags_of(b) == tags_of(c) == set()
    assert Tag.objects.filter(name="VIP").exists()  # the tag itself stays in the store's set
    assert {e.customer_ref: e.data for e in events(EventKind.TAGS_REMOVED)} == {
        a.pk: {"tags": ["VIP", "B2B"]},
        b.pk: {"tags": ["B2B"]},
    }


# Groups


def test_assign_group_to_an_existing_group(staff_client, make_customer):
    old = CustomerGroup.objects.create(name="Retail")
    wholesale = CustomerGroup.objects.create(name="Wholesale")
    a = make_customer(group=old)
    b = make_customer()
    c = make_customer(group=wholesale)
    client = staff_client("group_customer")
    page = start(client, "assign_group", [a, b, c])
    assert "new_group" not in page.context["form"].fields  # may not create groups
    response = confirm(client, page, group=str(wholesale.pk))
    assert messages_of(response) == [
        "2 customers moved to group “Wholesale”.",
        "1 customer was already in it.",
    ]
    assert set(Customer.objects.values_list("group__name", flat=True)) == {"Wholesale"}
    assert {e.customer_ref: e.data for e in events(EventKind.GROUP_CHANGED)} == {
        a.pk: {"from": "Retail", "to": "Wholesale"},
        b.pk: {"from": None, "to": "Wholesale"},
    }
    assert Customer.objects.get(pk=c.pk).version == 1


def test_assign_group_creates_a_group_by_name_or_reuses_it(staff_client, make_customer):
    a, b = make_customer(), make_customer()
    client = staff_client("group_customer", "add_customergroup")
    response = run(client, "assign_group", [a], new_group="  Trade fair 2026 ")
    assert messages_of(response)[:2] == [
        "Group “Trade fair 2026” created.",
        "1 customer moved to group “Trade fair 2026”.",
    ]
    response = run(client, "assign_group", [b], new_group="TRADE FAIR 2026")
    assert messages_of(response) == ["1 customer moved to group “Trade fair 2026”."]
    assert CustomerGroup.objects.count() == 1
    assert set(Customer.objects.values_list("group__name", flat=True)) == {"Trade fair 2026"}


def test_assign_group_refuses_both_or_neither(staff_client, make_customer):
    group = CustomerGroup.objects.create(name="G")
    customer = make_customer()
    client = staff_client("group_customer", "add_customergroup")
    page = start(client, "assign_group", [customer])
    for data, text in (
        ({"group": str(group.pk), "new_group": "New"}, "not both"),
        ({}, "Choose a group or type the name of a new one."),
    ):
        response = confirm(client, page, **data)
        assert response.status_code == 200
        assert text in response.content.decode()
    assert Customer.objects.get().group is None
    assert CustomerGroup.objects.count() == 1


def test_remove_from_group(staff_client, make_customer):
    group = CustomerGroup.objects.create(name="Retail")
    a, b = make_customer(group=group), make_customer()
    response = run(staff_client("group_customer"), "remove_group", [a, b])
    assert messages_of(response) == [
        "1 customer removed from its group.",
        "1 customer was in no group.",
    ]
    assert Customer.objects.filter(group__isnull=False).count() == 0
    assert [e.data for e in events(EventKind.GROUP_CHANGED)] == [{"from": "Retail", "to": None}]


# Archive


def test_archive_hides_customers_from_the_default_list_and_keeps_their_orders(
    staff_client, make_customer, make_order
):
    a = make_customer(email="a@example.com")
    make_order(a)
    b = make_customer(email="b@example.com")
    redacted = make_customer(status=Status.REDACTED, email="", phone="")
    client = staff_client("archive_customer")
    response = run(client, "archive", [a, b, redacted])
    assert messages_of(response) == [
        "2 customers archived.",
        "1 customer was not active and was left as it was.",
    ]
    assert set(Customer.objects.filter(status=Status.ARCHIVED).values_list("pk", flat=True)) == {
        a.pk,
        b.pk,
    }
    assert a.orders.count() == 1
    listed = {c.pk for c in client.get(LIST_URL).context["cl"].result_list}
    assert listed == {redacted.pk}
    assert len(events(EventKind.ARCHIVED)) == 2

    response = run(client, "unarchive", [a, b], url=LIST_URL + "?status=archived")
    assert messages_of(response) == ["2 customers unarchived."]
    assert Customer.objects.filter(status=Status.ACTIVE).count() == 2
    assert [e.data for e in events(EventKind.UNARCHIVED)] == [
        {"status": ["archived", "active"]}
    ] * 2
    assert Customer.objects.get(pk=a.pk).version == 3


# Select all N across a filtered list


SELECT_ALL = {
    "add_tags": ({"tags": "Fair"}, lambda c: tags_of(c) == {"Old", "Fair"}),
    "remove_tags": ({"tags": "Old"}, lambda c: tags_of(c) == set()),
    "assign_group": ({"group": "NEW"}, lambda c: c.group and c.group.name == "New"),
    "remove_group": ({}, lambda c: c.group is None),
    "archive": ({}, lambda c: c.status == Status.ARCHIVED),
    "delete_customers": ({}, lambda c: not Customer.objects.filter(pk=c.pk).exists()),
}


@pytest.mark.parametrize("action", SELECT_ALL)
def test_select_all_across_a_filtered_list(admin_client, make_customer, action):
    """25 customers match the filter, 10 are on the page: all 25 change, nobody else."""
    data, changed = SELECT_ALL[action]
    fair = CustomerGroup.objects.create(name="Fair")
    new = CustomerGroup.objects.create(name="New")
    data = {k: str(new.pk) if v == "NEW" else v for k, v in data.items()}
    matching = [make_customer(group=fair, tags=["Old"]) for _ in range(25)]
    other = [make_customer(tags=["Old"]) for _ in range(5)]
    hidden = make_customer(group=fair, tags=["Old"], status=Status.ARCHIVED)
    url = f"{LIST_URL}?group__id__exact={fair.pk}&per_page=10"
    page_ids = [c.pk for c in admin_client.get(url).context["cl"].result_list]
    assert len(page_ids) == 10

    page = start(admin_client, action, url=url, select_across=True, ids=page_ids)
    assert page.status_code == 200
    html = page.content.decode()
    assert "All 25 customers matching the list's filters are selected." in html
    assert "<li>Group: Fair</li>" in html
    assert "<li>Status: Current (not archived or merged)</li>" in html
    _url, fields = hidden_fields(page)
    assert len(fields) <= 4 + len(page_ids)  # never one field per selected customer
    response = confirm(admin_client, page, **data)
    assert response.status_code == 200, response.content.decode()
    assert messages_of(response)
    for customer in matching:
        if action != "delete_customers":
            customer.refresh_from_db()
        assert changed(customer), (action, customer)
    for customer in [*other, hidden]:
        customer.refresh_from_db()
        assert tags_of(customer) == {"Old"} and customer.version == 1


def test_unarchive_all_across_the_archived_filter(admin_client, make_customer):
    archived = [make_customer(status=Status.ARCHIVED) for _ in range(12)]
    active = make_customer()
    url = f"{LIST_URL}?status=archived&per_page=10"
    page_ids = [c.pk for c in admin_client.get(url).context["cl"].result_list]
    page = start(admin_client, "unarchive", url=url, select_across=True, ids=page_ids)
    response = confirm(admin_client, page)
    assert messages_of(response) == ["12 customers unarchived."]
    assert Customer.objects.filter(status=Status.ACTIVE).count() == 13
    assert {e.customer_ref for e in events(EventKind.UNARCHIVED)} == {c.pk for c in archived}
    active.refresh_from_db()
    assert active.version == 1


def test_selection_that_changed_before_confirming_is_shown_again(admin_client, make_customer):
    group = CustomerGroup.objects.create(name="Fair")
    first = [make_customer(group=group) for _ in range(3)]
    url = f"{LIST_URL}?group__id__exact={group.pk}"
    page = start(admin_client, "archive", first, url=url, select_across=True)
    late = make_customer(group=group)  # joins the filter between the two steps
    response = confirm(admin_client, page)
    assert response.status_code == 200
    assert "The list changed since you looked at it" in response.content.decode()
    assert not Customer.objects.filter(status=Status.ARCHIVED).exists()
    response = confirm(admin_client, response)  # the new page carries the new count
    assert messages_of(response) == ["4 customers archived."]
    late.refresh_from_db()
    assert late.status == Status.ARCHIVED


# Bounded queries


CONFIRM_DATA = {
    "add_tags": {"tags": "A, B"},
    "remove_tags": {"tags": "Old"},
    "assign_group": {"new_group": "Fair"},
    "remove_group": {},
    "archive": {},
    "unarchive": {},
    "send_email": {"subject": "Hi {first_name}", "body": "Hello {email}"},
    "delete_customers": {},
}


@pytest.mark.parametrize("action", CONFIRM_DATA)
def test_each_action_costs_the_same_queries_for_5_and_50_customers(
    admin_client, make_customer, make_order, action
):
    Tag.objects.create(name="A")
    Tag.objects.create(name="B")
    CustomerGroup.objects.create(name="Fair")

    def queries(n: int) -> int:
        group = CustomerGroup.objects.create(name=f"G{n}")
        status = Status.ARCHIVED if action == "unarchive" else Status.ACTIVE
        customers = [make_customer(group=group, tags=["Old"], status=status) for _ in range(n)]
        make_order(customers[0])  # one blocked customer on the delete page
        url = f"{LIST_URL}?group__id__exact={group.pk}&status=all"
        page = start(admin_client, action, customers, url=url, select_across=True)
        with CaptureQueriesContext(connection) as ctx:
            response = confirm(admin_client, page, follow=False, **CONFIRM_DATA[action])
        assert response.status_code == 302, response.content.decode()
        return len(ctx.captured_queries)

    assert queries(5) == queries(50)
