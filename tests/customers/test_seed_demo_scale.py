"""seed_demo on a big database: a reset that does not load what it deletes."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.management.commands.seed_demo import Command
from customers.models import (
    Customer,
    CustomerEvent,
    CustomerMerge,
    DuplicateKey,
    Order,
    Tag,
    TaggedCustomer,
)
from customers.services.merge import customers_merge

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _developer_machine(settings):
    settings.DEBUG = True  # as on a developer's machine, where seed_demo runs


def test_reset_empties_merges_orders_events_and_keys_in_the_same_statements_at_any_size(
    admin_user,
):
    counts = []
    for size in (20, 80):
        call_command("seed_demo", customers=size, reset=True)
        survivor, absorbed = Customer.objects.filter(email__gt="").order_by("pk")[:2]
        customers_merge(actor=admin_user, survivor_id=survivor.pk, absorbed_ids=[absorbed.pk])
        assert CustomerMerge.objects.exists() and Order.objects.exists()
        with CaptureQueriesContext(connection) as ctx:
            Command()._reset()
        counts.append(len(ctx.captured_queries))
        for model in (Customer, Order, CustomerEvent, CustomerMerge, DuplicateKey, Tag):
            assert not model.objects.exists(), model
        assert not TaggedCustomer.objects.exists()
    assert counts[0] == counts[1]
    call_command("seed_demo", customers=10, reset=True)
    assert Customer.objects.count() == 14


def test_the_statements_kept_with_debug_on_do_not_grow_with_the_count(monkeypatch):
    # Django keeps the last 9,000 statements with DEBUG on; a chunk's INSERTs are hundreds of
    # kilobytes each at the real chunk size, so the seed must not keep them all.
    monkeypatch.setattr("customers.management.commands.seed_demo.SEED_CHUNK", 5)
    kept = []
    for size in (10, 40):
        call_command("seed_demo", customers=size, reset=True, stdout=io.StringIO())
        assert Customer.objects.count() == size + 4
        kept.append(len(connection.queries))
    assert kept[0] == kept[1] > 0
