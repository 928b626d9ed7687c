"""Imports beside other writers on PostgreSQL: row locks, lock order, conflicts."""

from __future__ import annotations

import io
import threading
import time

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

import customers.services.importing as importing
from customers.models import Customer, TaggedCustomer
from customers.services.importing import customers_import, plan, write
from customers.services.tagging import customers_add_tags
from tests.customers.importing.helpers import command, shopify

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks across connections")


def _in_thread(target, *args, **kwargs) -> tuple[threading.Thread, dict]:
    """Run ``target`` on its own database connection; the dict gets its result or error."""
    outcome: dict = {}

    def body():
        try:
            outcome["result"] = target(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=body)
    thread.start()
    return thread, outcome


def _import(data: bytes, **options):
    return customers_import(actor="test", source=io.BytesIO(data), filename="f.csv", **options)


def _waiting_for_a_lock(timeout: float = 10.0) -> bool:
    """Wait until some other connection waits on a lock (a row or the import lock)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


def test_two_imports_at_once_never_create_two_customers_for_one_key(monkeypatch):
    rows = [f"N{i},,,,,,,,,,,,(617) 555-{i:04d},,,," for i in range(120)]  # phone-keyed
    data = shopify(*rows).encode()
    real_insert = write.customers_insert

    def slow_insert(new, run):
        # Widen the gap between matching and inserting, where two imports used to race.
        time.sleep(0.05)
        real_insert(new, run)

    monkeypatch.setattr(write, "customers_insert", slow_insert)
    barrier = threading.Barrier(2)

    def one_import():
        barrier.wait()
        return _import(data, batch_size=20)

    runs = [_in_thread(one_import) for _ in range(2)]
    for thread, _outcome in runs:
        thread.join(60)
    results = [outcome["result"] for _thread, outcome in runs]
    assert Customer.objects.count() == 120
    assert Customer.objects.values("phone").distinct().count() == 120
    assert sum(r.created for r in results) == 120
    assert sum(r.unchanged for r in results) == 120
    assert not any(r.errors for r in results)


def test_a_customer_created_meanwhile_makes_a_conflict_not_a_traceback(monkeypatch, tmp_path):
    real_insert = write.customers_insert

    def clerk_creates_the_same_customer_first(new, run):
        # A clerk saves ann@ after the import looked her up and before its COPY.
        thread, outcome = _in_thread(Customer.objects.create, email="ann@example.com")
        thread.join(10)
        assert "error" not in outcome
        real_insert(new, run)

    monkeypatch.setattr(write, "customers_insert", clerk_creates_the_same_customer_first)
    path = tmp_path / "clerk.csv"
    path.write_text(
        shopify("Ann,,ann@example.com,,,,,,,,,,,,,,", "Bob,,bob@example.com,,,,,,,,,,,,,,")
    )
    # Through the command: on PostgreSQL the insert is a COPY, whose error is psycopg's own.
    status, outputs, _err = command(str(path))
    assert status == 3
    message = importing.sentence(str(importing.CONFLICT))
    assert outputs[0]["errors"] == [
        {"record": 1, "message": message},
        {"record": 2, "message": message},
    ]
    # The batch wrote nothing: only the clerk's customer exists.
    assert list(Customer.objects.values_list("email", flat=True)) == ["ann@example.com"]


@pytest.mark.parametrize(
    "options",
    [{}, {"dry_run": True}, {"all_or_nothing": True}],
    ids=["batch-by-batch", "dry-run", "all-or-nothing"],
)
def test_every_import_path_locks_in_primary_key_order(monkeypatch, make_customer, options):
    stored = [make_customer(email=f"c{i}@example.com") for i in range(6)]
    # The file names the customers newest first: file order is the reverse of key order.
    rows = [f"New{c.pk},,{c.email},,,,,,,,,,,,,," for c in reversed(stored)]
    locked: list[list[int]] = []
    real_lock = plan.selection_lock

    def recording_lock(ids):
        got = real_lock(ids)
        locked.append(got)
        return got

    monkeypatch.setattr(plan, "selection_lock", recording_lock)
    with CaptureQueriesContext(connection) as queries:
        result = _import(shopify(*rows).encode(), batch_size=2, **options)
    assert result.updated == 6
    for_update = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    # Every row lock goes through the lock helper, one ordered statement per call.
    assert len(for_update) == len(locked)
    ids = sorted(c.pk for c in stored)
    if options:
        # One transaction: everything it will touch, locked once, up front, in key order.
        assert locked == [ids]
    else:
        # A transaction per batch, each locking its own customers in key order.
        assert locked == [ids[4:6], ids[2:4], ids[0:2]]


def test_an_all_or_nothing_import_and_a_bulk_action_do_not_deadlock(monkeypatch, make_customer):
    stored = [make_customer(email=f"d{i}@example.com") for i in range(4)]
    rows = [f"New,,{c.email},,,,,,,,,,,,,," for c in reversed(stored)]
    real_apply = importing.batch_apply
    paused = []

    def pause_after_the_first_batch(batch, run, report):
        real_apply(batch, run, report)
        if not paused:
            paused.append(True)
            # A clerk tags every customer now: the tagging locks in key order and waits.
            tagging = _in_thread(
                customers_add_tags,
                actor="clerk",
                customers=[c.pk for c in stored],
                names=["Rush"],
            )
            paused.append(tagging)
            assert _waiting_for_a_lock()

    monkeypatch.setattr(importing, "batch_apply", pause_after_the_first_batch)
    result = _import(shopify(*rows).encode(), batch_size=2, all_or_nothing=True)
    thread, outcome = paused[1]
    thread.join(30)
    assert result.committed and result.updated == 4 and not result.errors
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].changed == 4
    assert set(Customer.objects.values_list("first_name", flat=True)) == {"New"}
    assert TaggedCustomer.objects.filter(tag__name="Rush").count() == 4
