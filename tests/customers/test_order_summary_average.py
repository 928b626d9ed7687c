"""The summary's counted orders and average order value equal the aggregate, on every path."""

from __future__ import annotations

import datetime
import importlib
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from customers.models import Customer, Order
from customers.services.merge import customer_unmerge, customers_merge
from customers.services.orders import orders_record

pytestmark = pytest.mark.django_db

T0 = timezone.make_aware(datetime.datetime(2026, 3, 1, 12, 0))
CENT = Decimal("0.01")


@pytest.fixture(autouse=True)
def _store_currency(settings):
    settings.BACKOFFICE_STORE_CURRENCY = "EUR"


def order(customer, number, total, currency="EUR", rate=None) -> Order:
    return Order(
        number=number,
        customer=customer,
        total=Decimal(total),
        currency=currency,
        exchange_rate=None if rate is None else Decimal(rate),
        source="shopify",
        placed_at=T0,
    )


def stored(customer) -> tuple:
    customer.refresh_from_db()
    return customer.counted_order_count, customer.average_order_value


def aggregate(customer) -> tuple:
    """Counted orders and their mean, the slow way, in Python."""
    counted = [
        o.total if o.currency == "EUR" else o.total * o.exchange_rate
        for o in Order.objects.filter(customer=customer)
        if o.currency == "EUR" or o.exchange_rate is not None
    ]
    if not counted:
        return 0, None
    return len(counted), (sum(counted) / len(counted)).quantize(CENT, rounding=ROUND_HALF_UP)


@pytest.fixture
def histories(make_customer):
    """Customers with orders in euros, in dollars at a stored rate, and in pounds without one."""
    ines = make_customer(email="ines@example.com")
    jon = make_customer(email="jon@example.com")
    kai = make_customer(email="kai@example.com")
    nobody = make_customer(email="nobody@example.com")
    orders_record(
        actor="test",
        orders=[
            order(ines, "#1", "19.99"),
            order(ines, "#2", "45.50"),
            order(ines, "#3", "120.00", currency="USD", rate="0.92"),
            order(jon, "#4", "30.00", currency="GBP"),
            order(kai, "#5", "30.00", currency="GBP"),
            order(kai, "#6", "12.34"),
        ],
    )
    return ines, jon, kai, nobody


def test_recording_keeps_counted_orders_and_average(histories):
    ines, jon, kai, nobody = histories
    # (19.99 + 45.50 + 110.40) / 3 = 58.63
    assert stored(ines) == aggregate(ines) == (3, Decimal("58.63"))
    assert stored(jon) == aggregate(jon) == (0, None)  # only pounds, no rate: no average
    assert stored(kai) == aggregate(kai) == (1, Decimal("12.34"))
    assert stored(nobody) == aggregate(nobody) == (0, None)


def test_merge_and_unmerge_keep_the_average(histories, superuser):
    ines, jon, kai, _nobody = histories
    result = customers_merge(actor=superuser, survivor_id=ines.pk, absorbed_ids=[kai.pk])
    assert stored(ines) == aggregate(ines) == (4, Decimal("47.06"))
    assert stored(kai) == (0, None)
    customer_unmerge(actor=superuser, merge_id=result.merge.pk)
    assert stored(ines) == aggregate(ines) == (3, Decimal("58.63"))
    assert stored(kai) == aggregate(kai)


def test_the_rebuild_command_restores_the_aggregate(histories):
    Customer.objects.update(counted_order_count=7, average_order_value=Decimal("1.00"))
    call_command("rebuild_order_summaries", stdout=StringIO())
    for customer in histories:
        assert stored(customer) == aggregate(customer)


def test_the_migration_fills_what_the_refresh_computes(histories):
    Customer.objects.update(counted_order_count=0, average_order_value=None)
    migration = importlib.import_module("customers.migrations.0007_customer_counted_orders")
    migration.counted_fill(apps, None)
    for customer in histories:
        assert stored(customer) == aggregate(customer)
