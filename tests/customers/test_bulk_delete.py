"""Guarded deletion: only customers with nothing to lose go; every kept one is reported."""

from __future__ import annotations

import html
import re
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.audit.events import event_lines, note_added_event
from customers.models import (
    Address,
    Customer,
    CustomerEvent,
    CustomerMerge,
    EventKind,
    Note,
    Order,
    Status,
    Tag,
    TaggedCustomer,
)
from customers.services.deletion import (
    CASCADED,
    UNLINKED,
    DeleteBlock,
    customers_delete,
    customers_deletion_plan,
)
from customers.services.merge import customer_unmerge, customers_merge
from tests.customers.bulk_helpers import (
    LIST_URL,
    confirm,
    events,
    messages_of,
    start,
)
from tests.customers.test_editing import change_url, page_form_data

pytestmark = pytest.mark.django_db


def kept_lines(response) -> list[str]:
    page = response.content.decode()
    block = re.search(r'<ul class="kept-customers">(.*?)</ul>', page, re.S)
    if not block:
        return []
    items = re.findall(r"<li>(.*?)</li>", block[1])
    return [html.unescape(re.sub(r"<[^>]+>", "", li)).strip() for li in items]


@pytest.fixture
def delete_client(client, make_staff):
    client.force_login(make_staff("view_customer", "delete_customer"))
    return client


@pytest.mark.parametrize(
    ("blocker", "reason"),
    [
        ("orders", "has order history"),
        ("erasure", "has a pending erasure request"),
        ("subscription", "has an active subscription"),
    ],
)
def test_each_block_on_its_own_keeps_the_customer(
    delete_client, make_customer, make_order, blocker, reason
):
    customer = make_customer(
        first_name="Ana",
        last_name="Ruiz",
        email="ana@example.es",
        erasure_requested_at=timezone.now() if blocker == "erasure" else None,
        has_active_subscription=blocker == "subscription",
    )
    if blocker == "orders":
        make_order(customer)
    page = start(delete_client, "delete_customers", [customer])
    assert page.status_code == 200
    assert "0 customers will be deleted" in page.content.decode()
    assert kept_lines(page) == [f"Ana Ruiz <ana@example.es> — {reason}"]
    response = confirm(delete_client, page)
    assert messages_of(response) == [
        "0 customers deleted.",
        f"1 customer kept: 1 {reason}.",
    ]
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert events(EventKind.DELETED) == []


def test_mixed_selection_deletes_only_the_deletable_and_lists_every_kept_reason(
    delete_client, make_customer, make_order, make_address
):
    free = [make_customer(first_name="Free", last_name=str(i), tags=["VIP"]) for i in range(2)]
    make_address(free[0])
    note = Note.objects.create(customer=free[0], body="call back")
    note_added_event(actor="test", customer=free[0], note=note)
    buyer = make_customer(first_name="Buyer", last_name="One", email="buyer@example.com")
    order = make_order(buyer)
    everything = make_customer(
        first_name="All",
        last_name="Three",
        email="all3@example.com",
        erasure_requested_at=timezone.now(),
        has_active_subscription=True,
    )
    make_order(everything)
    survivor = make_customer(first_name="Kept", last_name="Target", email="t@example.com")
    make_customer(email="t@example.com", status=Status.MERGED, merged_into=survivor)
    selected = [*free, buyer, everything, survivor]

    page = start(delete_client, "delete_customers", selected)
    html = page.content.decode()
    assert "2 customers will be deleted" in html
    assert "3 customers will be kept" in html
    # Each kept customer once, with all its reasons.
    assert sorted(kept_lines(page)) == sorted(
        [
            "Buyer One <buyer@example.com> — has order history",
            "All Three <all3@example.com> — has order history; has a pending erasure request; "
            "has an active subscription",
            "Kept Target <t@example.com> — other customers were merged into it",
        ]
    )
    assert Customer.objects.count() == 6  # nothing happened yet

    response = confirm(delete_client, page)
    assert messages_of(response) == [
        "2 customers deleted.",
        "3 customers kept: 2 have order history, 1 has a pending erasure request, "
        "1 has an active subscription, 1 has other customers merged into it.",
    ]
    assert not Customer.objects.filter(pk__in=[c.pk for c in free]).exists()
    assert Customer.objects.filter(pk__in=[buyer.pk, everything.pk, survivor.pk]).count() == 3
    assert Order.objects.get(pk=order.pk).customer_id == buyer.pk
    assert Order.objects.count() == 2
    assert not Address.objects.exists() and not Note.objects.exists()
    assert not TaggedCustomer.objects.filter(content_object_id__in=[c.pk for c in free]).exists()
    assert Tag.objects.filter(name="VIP").exists()
    deleted = events(EventKind.DELETED)
    assert [(e.customer_id, e.customer_ref) for e in deleted] == [(None, c.pk) for c in free]
    # The deletion keeps the id and the reason, nothing of the person.
    assert [e.data for e in deleted] == [{"reason": "guarded_delete"}] * 2
    # The customer's earlier trail survives the row, its values scrubbed in the same step.
    note_event = CustomerEvent.objects.get(kind=EventKind.NOTE_ADDED)
    assert (note_event.customer_id, note_event.customer_ref) == (None, free[0].pk)
    assert note_event.data == {"id": note.pk, "body": "[redacted]"}


def test_merged_records_are_kept_for_the_merge_history(make_customer, superuser):
    target = make_customer(email="x@example.com")
    merged = make_customer(email="x@example.com", status=Status.MERGED, merged_into=target)
    plan = customers_deletion_plan(customers=[target.pk, merged.pk])
    assert plan.deletable == []
    assert {k.pk: k.reasons for k in plan.kept} == {
        target.pk: [DeleteBlock.ABSORBED],
        merged.pk: [DeleteBlock.MERGED],
    }
    result = customers_delete(actor=superuser, customers=Customer.objects.all())
    assert (result.deleted, len(result.kept)) == (0, 2)


def test_plan_agrees_with_the_deletable_queryset(make_customer, make_order):
    customers = [make_customer() for _ in range(4)]
    make_order(customers[0])
    Customer.objects.filter(pk=customers[1].pk).update(has_active_subscription=True)
    plan = customers_deletion_plan(customers=Customer.objects.all())
    assert sorted(plan.deletable) == sorted(
        Customer.objects.deletable().values_list("pk", flat=True)
    )


def test_delete_without_permission(client, make_staff, make_customer):
    customer = make_customer()
    client.force_login(make_staff("view_customer", "change_customer"))
    change = client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    assert reverse("admin:customers_customer_delete", args=[customer.pk]) not in (
        change.content.decode()
    )
    delete_url = reverse("admin:customers_customer_delete", args=[customer.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_change_page_delete_button_goes_through_the_guard(delete_client, make_customer, make_order):
    buyer = make_customer(first_name="Buyer", last_name="One")
    make_order(buyer)
    free = make_customer(first_name="Free", last_name="One")
    change = delete_client.get(reverse("admin:customers_customer_change", args=[free.pk]))
    delete_url = reverse("admin:customers_customer_delete", args=[free.pk])
    assert delete_url in change.content.decode()

    blocked_url = reverse("admin:customers_customer_delete", args=[buyer.pk])
    page = delete_client.get(blocked_url)
    assert "“Buyer One” cannot be deleted" in page.content.decode()
    assert kept_lines(page) == ["has order history"]
    assert 'name="post"' not in page.content.decode()
    delete_client.post(blocked_url, {"post": "yes"})
    assert Customer.objects.filter(pk=buyer.pk).exists()

    page = delete_client.get(delete_url)
    assert "1 customer will be deleted" in page.content.decode()
    response = delete_client.post(delete_url, {"post": "yes"}, follow=True)
    assert response.redirect_chain[-1][0] == LIST_URL
    assert messages_of(response) == ["1 customer deleted."]
    assert not Customer.objects.filter(pk=free.pk).exists()
    assert [e.customer_ref for e in events(EventKind.DELETED)] == [free.pk]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_an_order_recorded_during_the_delete_keeps_its_customer():
    """The guard is read under the row lock: an order committed meanwhile wins over the delete."""
    import threading

    from django.db import connection, connections, transaction

    from customers.services.orders import orders_record

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises whole transactions; row locks need PostgreSQL")
    customer = Customer.objects.create(email="race@example.com")
    order_pending = threading.Event()

    def record_order():
        try:
            with transaction.atomic():
                orders_record(
                    actor="shopify",
                    orders=[Order(number="R1", customer=customer, total="5", source="shopify")],
                )
                order_pending.set()  # the order holds a key lock on the customer row
                threading.Event().wait(0.5)
        finally:
            connections.close_all()

    other = threading.Thread(target=record_order)
    other.start()
    assert order_pending.wait(10)
    result = customers_delete(actor="test", customers=[customer.pk])  # waits for the commit
    other.join()
    assert result.deleted == 0
    assert [k.reasons for k in result.kept] == [[DeleteBlock.ORDERS]]
    assert Customer.objects.filter(pk=customer.pk).exists()


def _deletable_customers(make_customer, make_address, count: int) -> list[Customer]:
    customers = [make_customer(tags=["VIP", f"t{i % 3}"]) for i in range(count)]
    for customer in customers:
        make_address(customer)
        note = Note.objects.create(customer=customer, body="note")
        note_added_event(actor="test", customer=customer, note=note)
    return customers


def test_delete_costs_the_same_queries_for_5_or_150_customers(
    make_customer, make_address, superuser
):
    counts = []
    for size in (5, 150):
        ids = [c.pk for c in _deletable_customers(make_customer, make_address, size)]
        with CaptureQueriesContext(connection) as queries:
            result = customers_delete(actor=superuser, customers=ids)
        assert result.deleted == size
        counts.append(len(queries))
    assert counts[0] == counts[1]
    # One DELETE per table that goes with a customer; the duplicate keys' counts cost 4-5 more.
    assert counts[1] <= 21
    assert not Address.objects.exists() and not Note.objects.exists()
    assert not TaggedCustomer.objects.exists()
    assert not CustomerEvent.objects.filter(customer__isnull=False).exists()
    assert CustomerEvent.objects.filter(kind=EventKind.NOTE_ADDED).count() == 155


def test_every_relation_to_a_customer_is_deleted_unlinked_or_guarded():
    """A relation added later must be handled by the deletion (or this fails)."""
    handled = {(model, column) for model, column in (*CASCADED, *UNLINKED)}
    guarded = {(Order, "customer_id"), (Customer, "merged_into_id"), (CustomerMerge, "survivor_id")}
    relations = {(r.related_model, r.field.attname) for r in Customer._meta.related_objects}
    assert relations == handled | guarded


def test_survivor_of_an_undone_merge_can_be_deleted_but_not_of_a_live_one(make_customer, superuser):
    survivor, absorbed = make_customer(), make_customer()
    result = customers_merge(actor=superuser, survivor_id=survivor.pk, absorbed_ids=[absorbed.pk])
    plan = customers_deletion_plan(customers=[survivor.pk])
    assert [k.reasons for k in plan.kept] == [[DeleteBlock.ABSORBED]]
    # Even when the absorbed record no longer points at it, the merge record does.
    Customer.objects.filter(pk=absorbed.pk).update(status=Status.REDACTED, merged_into=None)
    assert customers_deletion_plan(customers=[survivor.pk]).deletable == []
    Customer.objects.filter(pk=absorbed.pk).update(status=Status.MERGED, merged_into=survivor)

    customer_unmerge(actor=superuser, merge_id=result.merge.pk)
    deleted = customers_delete(actor=superuser, customers=[survivor.pk, absorbed.pk])
    assert deleted.deleted == 2
    assert not CustomerMerge.objects.exists()
    assert CustomerEvent.objects.filter(kind=EventKind.UNMERGED).exists()  # the trail stays


def test_a_deleted_customers_trail_and_admin_log_keep_nothing_of_the_person(
    superuser, delete_client, make_customer
):
    admin_client = Client()
    admin_client.force_login(superuser)

    customer = make_customer(first_name="Delia", last_name="Deletable-Smith", email="delia@ex.com")
    kept = make_customer(first_name="Karl", last_name="Kept", email="karl@ex.com")
    for who, note in ((customer, "private note about Delia"), (kept, "Karl's note")):
        data = page_form_data(admin_client.get(change_url(who)))
        data.update({"last_name": who.last_name + "-Jones", "notes-0-body": note})
        assert admin_client.post(change_url(who), data).status_code == 302
    assert LogEntry.objects.filter(object_repr__contains="Delia").exists()

    page = start(delete_client, "delete_customers", [customer])
    assert messages_of(confirm(delete_client, page)) == ["1 customer deleted."]

    trail = list(
        CustomerEvent.objects.filter(customer_ref=customer.pk).values("kind", "data")
    ) + list(LogEntry.objects.filter(object_id=str(customer.pk)).values())
    dump = repr(trail)
    for text in ("Delia", "Deletable", "Jones", "delia@ex.com", "private note"):
        assert text not in dump, text
    assert {"kind": EventKind.DELETED, "data": {"reason": "guarded_delete"}} in trail
    deleted = CustomerEvent.objects.get(customer_ref=customer.pk, kind=EventKind.DELETED)
    assert event_lines(deleted) == [
        "Deleted through the guarded delete; no personal data was kept."
    ]
    # Another customer's trail is untouched.
    dump = repr(list(CustomerEvent.objects.filter(customer_ref=kept.pk).values("data")))
    assert "Kept-Jones" in dump and "Karl's note" in dump
    assert LogEntry.objects.filter(object_repr__contains="Karl").exists()


def test_the_erasure_command_scrubs_the_trail_of_customers_deleted_by_earlier_versions(
    make_customer,
):
    gone = make_customer(first_name="Olga", email="olga@example.com")
    note = Note.objects.create(customer=gone, body="Olga's secret")
    note_added_event(actor="test", customer=gone, note=note)
    ref = gone.pk
    Note.objects.filter(pk=note.pk).delete()
    gone.delete()  # as the old deletion left it: the event still names her
    CustomerEvent.objects.create(
        customer_ref=ref, kind=EventKind.DELETED, data={"customer": "Olga <olga@example.com>"}
    )
    out = StringIO()
    call_command("process_erasure_requests", stdout=out)
    assert "Scrubbed the history of 1 deleted customer(s)." in out.getvalue()
    trail = dict(CustomerEvent.objects.filter(customer_ref=ref).values_list("kind", "data"))
    assert trail == {
        EventKind.NOTE_ADDED: {"id": note.pk, "body": "[redacted]"},
        EventKind.DELETED: {"reason": "guarded_delete"},
    }
    out = StringIO()
    call_command("process_erasure_requests", stdout=out)
    assert "Scrubbed" not in out.getvalue()
