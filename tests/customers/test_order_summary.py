"""The order summary on each customer equals the aggregate of its orders, after every path."""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Max
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer, Order
from customers.services.merge import customer_unmerge, customers_merge
from customers.services.order_summary import order_summaries_refresh
from customers.services.orders import orders_record
from customers.services.privacy import customer_request_erasure, customers_process_erasure

pytestmark = pytest.mark.django_db

T0 = timezone.make_aware(datetime.datetime(2026, 3, 1, 12, 0))


@pytest.fixture(autouse=True)
def _store_currency(settings):
    settings.BACKOFFICE_STORE_CURRENCY = "EUR"


def order(customer, number, total, currency="EUR", rate=None, days=0) -> Order:
    return Order(
        number=number,
        customer=customer,
        total=Decimal(total),
        currency=currency,
        exchange_rate=None if rate is None else Decimal(rate),
        source="shopify",
        placed_at=T0 + datetime.timedelta(days=days),
    )


def summary(customer) -> tuple:
    customer.refresh_from_db()
    return (
        customer.order_count,
        customer.total_spent,
        customer.last_order_at,
        customer.spent_unconverted,
    )


def aggregate(customer) -> tuple:
    """The summary computed the slow way, from the orders, in Python."""
    orders = list(Order.objects.filter(customer=customer))
    spent = sum(
        (o.total if o.currency == "EUR" else o.total * o.exchange_rate)
        for o in orders
        if o.currency == "EUR" or o.exchange_rate is not None
    )
    apart: dict[str, Decimal] = {}
    for o in orders:
        if o.currency != "EUR" and o.exchange_rate is None:
            apart[o.currency] = apart.get(o.currency, Decimal(0)) + o.total
    return (
        len(orders),
        Decimal(spent).quantize(Decimal("0.01")),
        max((o.placed_at for o in orders), default=None),
        {currency: str(amount) for currency, amount in apart.items()},
    )


def test_recorded_orders_are_counted_converted_or_shown_apart(make_customer):
    alice = make_customer(email="alice@example.com")
    orders_record(
        actor="test",
        orders=[
            order(alice, "#1", "100.00"),
            order(alice, "#2", "50.00", currency="USD", rate="0.9", days=3),
            order(alice, "#3", "20.00", currency="GBP", days=1),
            order(alice, "#4", "5.00", currency="GBP", days=2),
        ],
    )
    assert summary(alice) == (
        4,
        Decimal("145.00"),
        T0 + datetime.timedelta(days=3),
        {"GBP": "25.00"},
    )
    assert summary(alice) == aggregate(alice)


def test_merge_moves_the_summary_and_unmerge_gives_it_back(make_customer, superuser):
    keep = make_customer(email="keep@example.com")
    fold = make_customer(email="fold@example.com")
    orders_record(actor="test", orders=[order(keep, "#1", "10.00"), order(fold, "#2", "30.00")])
    orders_record(actor="test", orders=[order(fold, "#3", "7.50", days=5)])
    result = customers_merge(actor=superuser, survivor_id=keep.pk, absorbed_ids=[fold.pk])
    assert summary(keep)[:3] == (3, Decimal("47.50"), T0 + datetime.timedelta(days=5))
    assert summary(fold)[:3] == (0, Decimal("0.00"), None)

    customer_unmerge(actor=superuser, merge_id=result.merge.pk)
    assert summary(keep) == aggregate(keep) == (1, Decimal("10.00"), T0, {})
    assert summary(fold) == aggregate(fold)
    assert summary(fold)[0] == 2


def test_an_order_for_a_merged_customer_counts_for_its_survivor(make_customer, superuser):
    keep = make_customer(email="keep@example.com")
    fold = make_customer(email="fold@example.com")
    customers_merge(actor=superuser, survivor_id=keep.pk, absorbed_ids=[fold.pk])
    orders_record(actor="test", orders=[order(fold, "#9", "12.00")])
    assert summary(keep)[:2] == (1, Decimal("12.00"))
    assert summary(fold)[:2] == (0, Decimal("0.00"))


def test_erasure_keeps_the_orders_and_their_summary(make_customer, superuser):
    gone = make_customer(email="gone@example.com")
    orders_record(actor="test", orders=[order(gone, "#1", "80.00", days=-400)])
    customer_request_erasure(actor=superuser, customer_id=gone.pk)
    customers_process_erasure(actor="test", now=timezone.now() + datetime.timedelta(days=400))
    gone.refresh_from_db()
    assert gone.status == "redacted"
    assert summary(gone) == aggregate(gone) == (1, Decimal("80.00"), gone.last_order_at, {})


def test_the_command_rebuilds_every_summary_to_the_aggregate(make_customer):
    people = [make_customer(email=f"p{i}@example.com") for i in range(5)]
    orders_record(
        actor="test",
        orders=[
            order(p, f"#{i}-{n}", "9.99", days=n) for i, p in enumerate(people) for n in range(i)
        ],
    )
    Customer.objects.update(order_count=99, total_spent=1, last_order_at=None)
    out = StringIO()
    call_command("rebuild_order_summaries", stdout=out)
    assert "Rebuilt the order summary of 5 customers" in out.getvalue()
    expected = {
        row["customer"]: (row["n"], row["last"])
        for row in Order.objects.values("customer").annotate(n=Count("pk"), last=Max("placed_at"))
    }
    for person in people:
        assert summary(person) == aggregate(person)
        count, last = expected.get(person.pk, (0, None))
        assert summary(person)[0::2] == (count, last)


def test_refreshing_costs_the_same_queries_for_one_customer_or_many(make_customer):
    people = [make_customer(email=f"q{i}@example.com") for i in range(40)]
    Order.objects.bulk_create(
        [order(p, f"#{p.pk}-{n}", "1.00", currency="GBP") for p in people for n in range(3)]
    )

    def queries(ids) -> int:
        with CaptureQueriesContext(connection) as ctx:
            order_summaries_refresh(customer_ids=ids)
        return len(ctx)

    assert queries([people[0].pk]) == queries([p.pk for p in people])
    assert summary(people[7]) == (3, Decimal("0.00"), T0, {"GBP": "3.00"})
