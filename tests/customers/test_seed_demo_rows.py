"""seed_demo writes its rows set-based: they must say what the services would have written."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from customers.models import Customer, CustomerEvent, EventKind, Order, TaggedCustomer, TaggedOrder
from customers.services.order_summary import rebuild_order_summaries

pytestmark = pytest.mark.django_db

SUMMARY = ("pk", "order_count", "total_spent", "last_order_at", "spent_unconverted")


@pytest.fixture(autouse=True)
def _developer_machine(settings):
    settings.DEBUG = True


def test_the_seeded_order_summaries_are_the_ones_the_orders_give():
    call_command("seed_demo", customers=400, stdout=None)
    seeded = list(Customer.objects.order_by("pk").values_list(*SUMMARY))

    rebuild_order_summaries()

    assert list(Customer.objects.order_by("pk").values_list(*SUMMARY)) == seeded
    assert any(row[1] > 0 for row in seeded) and any(row[1] == 0 for row in seeded)
    assert any(row[4] for row in seeded)  # orders in other currencies are kept apart


def test_each_order_has_its_event_and_its_customers_tags():
    call_command("seed_demo", customers=300, stdout=None)

    orders = Order.objects.count()
    assert orders > 0
    recorded = CustomerEvent.objects.filter(kind=EventKind.ORDER_RECORDED)
    assert recorded.count() == orders
    one = recorded.order_by("pk").first()
    order = Order.objects.get(pk=one.data["order"])
    assert one.customer_id == order.customer_id
    assert one.data == {
        "order": order.pk,
        "number": order.number,
        "total": str(order.total),
        "currency": order.currency,
        "source": order.source,
    }
    assert CustomerEvent.objects.filter(kind=EventKind.CREATED).count() == Customer.objects.count()
    customer_tags = {}
    for customer_id, tag_id in TaggedCustomer.objects.values_list("content_object_id", "tag_id"):
        customer_tags.setdefault(customer_id, set()).add(tag_id)
    order_tags = {}
    for order_id, tag_id in TaggedOrder.objects.values_list("content_object_id", "tag_id"):
        order_tags.setdefault(order_id, set()).add(tag_id)
    for order_id, customer_id in Order.objects.values_list("pk", "customer_id"):
        assert order_tags.get(order_id, set()) == customer_tags.get(customer_id, set())
