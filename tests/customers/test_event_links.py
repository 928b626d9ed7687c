"""The audit row's links carry no database constraint: deletions still null them."""

from __future__ import annotations

from customers.audit.events import customer_created_event
from customers.models import CustomerEvent
from customers.services.deletion import customers_delete


def test_deleting_a_staff_user_nulls_the_actor_and_keeps_the_label(make_customer, superuser):
    customer = make_customer()
    event = customer_created_event(actor=superuser, customer=customer, related={})
    superuser.delete()
    event.refresh_from_db()
    assert event.actor_id is None
    assert event.actor_label == "boss"


def test_deleting_customers_nulls_their_events_link_and_keeps_the_id(make_customer, superuser):
    gone, kept = make_customer(), make_customer()
    customer_created_event(actor=superuser, customer=gone, related={})
    customer_created_event(actor=superuser, customer=kept, related={})
    customers_delete(actor=superuser, customers=[gone.pk])
    rows = CustomerEvent.objects.order_by("customer_ref", "pk").values_list(
        "customer_ref", "customer_id", "kind"
    )
    assert list(rows) == [
        (gone.pk, None, "created"),
        (gone.pk, None, "deleted"),
        (kept.pk, kept.pk, "created"),
    ]
