"""Writing: the audit trail, idempotent re-imports, atomicity and a constant query cost."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Address, Customer, CustomerEvent, EventKind, Note, Tag, TaggedCustomer
from customers.services.importing import customers_import
from tests.customers.importing.helpers import FIXTURES, run, shopify

pytestmark = pytest.mark.django_db


def test_one_imported_event_per_customer_names_the_file_and_changes():
    run(FIXTURES / "shopify_rules.csv")
    elodie = Customer.objects.get(email="elodie@example.fr")
    event = CustomerEvent.objects.get(customer=elodie)
    assert event.kind == EventKind.IMPORTED and event.actor_label == "test"
    assert event.data["file"] == "test.csv" and event.data["records"] == [1, 9]
    assert event.data["created"] is True
    assert CustomerEvent.objects.count() == Customer.objects.count() == 4


@pytest.mark.parametrize("name", ["shopify_export.csv", "shipstation.csv", "quoted_newlines.csv"])
def test_importing_the_same_file_again_changes_nothing(name):
    first = run(FIXTURES / name)
    versions = dict(Customer.objects.values_list("email", "version"))
    counts = [m.objects.count() for m in (CustomerEvent, Note, Address, TaggedCustomer, Tag)]
    again = run(FIXTURES / name)
    succeeded = first.created + first.updated + first.unchanged
    assert (again.created, again.updated, again.unchanged) == (0, 0, succeeded)
    assert dict(Customer.objects.values_list("email", "version")) == versions
    assert [
        m.objects.count() for m in (CustomerEvent, Note, Address, TaggedCustomer, Tag)
    ] == counts


def test_all_or_nothing_rejects_the_whole_file():
    result = run(FIXTURES / "shopify_rules.csv", all_or_nothing=True)
    assert not result.committed and len(result.errors) == 4
    assert not Customer.objects.exists() and not Tag.objects.exists()
    assert not CustomerEvent.objects.exists()


def test_dry_run_writes_nothing_but_reports_everything():
    result = run(FIXTURES / "shopify_rules.csv", dry_run=True)
    assert result.created == 4 and not result.committed
    assert not Customer.objects.exists() and not Tag.objects.exists()


def test_a_rejected_row_creates_no_tag_or_group():
    result = run("Email,Tags,Group\r\nbad@,Orphan,Ghosts\r\n")
    assert len(result.errors) == 1
    assert not Tag.objects.exists()


def test_queries_do_not_grow_with_rows(make_customer):
    def file(n, offset=0):
        rows = [
            f"N{i},,c{i + offset}@example.com,yes,,{i} Main St,,Boston,MA,US,02114,,"
            f'(617) 555-{i % 10000:04d},,"t{i % 5}, all",note {i},no'
            for i in range(n)
        ]
        return shopify(*rows)

    run(file(5, offset=10_000))  # tags exist, caches warm
    with CaptureQueriesContext(connection) as small:
        run(file(10))
    with CaptureQueriesContext(connection) as large:
        run(file(300, offset=1000))
    assert len(large.captured_queries) == len(small.captured_queries)
    with CaptureQueriesContext(connection) as update:
        result = run(file(300, offset=1000).replace("yes", "no"))
    assert result.updated == 300
    assert len(update.captured_queries) <= len(small.captured_queries) + 6


def test_batches_split_a_file_without_changing_the_outcome(make_customer):
    rows = [f"N{i},,dup{i % 3}@example.com,,,,,,,,,,,,tag{i},," for i in range(10)]
    result = customers_import(
        actor="test",
        source=io.BytesIO(shopify(*rows).encode()),
        filename="f.csv",
        batch_size=4,
    )
    assert (result.created, result.updated) == (3, 7)
    assert result.repeated_keys == 7
    assert TaggedCustomer.objects.count() == 10
