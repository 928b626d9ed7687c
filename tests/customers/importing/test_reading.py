"""Reading the bytes: encodings, delimiters, CSV records, cell limits, the worker pool."""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import threading
import time

import pytest

from customers.models import Customer, Note
from customers.services import importing
from customers.services.importing import ImportFileError, customers_import, reading
from tests.customers.importing.helpers import (
    FIXTURES,
    SHOPIFY_HEADER,
    command,
    errors,
    run,
    shopify,
)

pytestmark = pytest.mark.django_db


def test_windows_1252_file_is_decoded_without_replacement():
    result = run(FIXTURES / "windows1252.csv")
    assert result.created == 1
    customer = Customer.objects.get()
    assert (customer.first_name, customer.last_name) == ("Hélène", "Müller €")


def test_utf8_bom_and_semicolons():
    result = run(FIXTURES / "utf8_bom_semicolon.csv")
    assert result.created == 1 and not result.errors
    customer = Customer.objects.get()
    assert customer.first_name == "Inès"
    assert sorted(customer.tags.names()) == ["Madrid", "VIP"]


def test_tab_separated_file():
    assert run(FIXTURES / "tabs.csv").created == 1


def test_quoted_newlines_count_records_not_lines():
    result = run(FIXTURES / "quoted_newlines.csv")
    assert result.created == 2
    note = Note.objects.get()
    assert note.body.startswith("first line\nsecond line, with a comma")
    assert [r.record for r in result.reports] == [1, 2]


def test_a_two_megabyte_line_is_read_and_judged_by_length():
    note = "n" * (2 * 2**20)
    name = "x" * (2 * 2**20)
    result = run(
        shopify(f"A,,a@example.com,,,,,,,,,,,,,{note},", f"{name},,b@example.com,,,,,,,,,,,,,,")
    )
    assert result.created == 1
    assert len(Note.objects.get().body) == 2 * 2**20
    assert "First name is longer than 150 characters" in errors(result)[2]


def test_a_row_with_a_thousand_columns_is_rejected_alone():
    wide = "A,,a@example.com" + ",x" * 1000
    result = run(shopify(wide, "B,,b@example.com,,,,,,,,,,,,,,"))
    assert errors(result)[1] == str(importing.TOO_MANY_CELLS) % {"count": 1003, "header": 17}
    assert list(Customer.objects.values_list("email", flat=True)) == ["b@example.com"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", importing.FILE_EMPTY),
        (b"\xef\xbb\xbf\r\n", importing.FILE_EMPTY),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), importing.FILE_BINARY),
        (b"Email\r\n\x81\x8d\x8f\r\n", importing.FILE_ENCODING),
        ((FIXTURES / "header_only.csv").read_bytes(), importing.FILE_NO_ROWS),
        (SHOPIFY_HEADER.encode() + b"\r\n,,,\r\n", importing.FILE_NO_ROWS),
    ],
    ids=["empty", "bom-only", "binary", "not-cp1252", "header-only", "blank-rows-only"],
)
def test_unreadable_files_are_rejected_whole(data, message, make_customer):
    make_customer(email="keep@example.com")
    with pytest.raises(ImportFileError) as exc:
        run(data)
    assert exc.value.messages == [str(message)]
    assert Customer.objects.count() == 1


def test_worker_processes_give_the_same_result_as_one_process():
    rows = [
        f"N{i},,w{i % 40}@example.com,,,,,,,,,,(617) 555-{i:04d},,tag{i % 3},,"
        if i % 7
        else f"Bad{i},,not-an-email,,,,,,,,,,,,,,"
        for i in range(120)
    ]
    data = shopify(*rows).encode()
    results = []
    for workers in (1, 2):
        result = customers_import(
            actor="test",
            source=io.BytesIO(data),
            filename="f.csv",
            workers=workers,
            batch_size=25,
            dry_run=True,
        )
        results.append(
            (result.created, result.updated, [(e.record, e.message) for e in result.errors])
        )
    assert results[0] == results[1]
    assert results[0][0] == 40 and len(results[0][2]) == 18


@pytest.mark.parametrize("all_or_nothing", [False, True], ids=["batch-by-batch", "all-or-nothing"])
def test_a_cell_over_the_limit_rejects_the_file_naming_its_record(all_or_nothing):
    huge = "n" * (importing.MAX_CELL_CHARS + 1)  # 17 MB: a note nobody typed
    data = shopify(
        "A,,a@example.com,,,,,,,,,,,,,short note,", f"B,,b@example.com,,,,,,,,,,,,,{huge},"
    )
    with pytest.raises(ImportFileError) as exc:
        run(data, all_or_nothing=all_or_nothing)
    assert exc.value.code == "field_too_large"
    assert exc.value.messages == [str(importing.FILE_FIELD_TOO_LARGE) % {"record": 2, "limit": 16}]
    assert not Customer.objects.exists() and not Note.objects.exists()


def test_the_command_reports_a_cell_over_the_limit_and_exits_2(tmp_path):
    huge = "x" * (importing.MAX_CELL_CHARS + 1)
    path = tmp_path / "huge.csv"
    path.write_text(shopify(f"{huge},,a@example.com,,,,,,,,,,,,,,"), encoding="utf-8")
    status, outputs, _err = command(str(path))
    assert status == 2
    assert outputs[0]["errors"] == [
        {"record": 0, "message": str(importing.FILE_FIELD_TOO_LARGE) % {"record": 1, "limit": 16}}
    ]
    assert not Customer.objects.exists()


def _pool_workers() -> list[multiprocessing.Process]:
    return [p for p in multiprocessing.active_children() if p.is_alive()]


@pytest.mark.parametrize("all_or_nothing", [False, True], ids=["batch-by-batch", "all-or-nothing"])
def test_a_killed_worker_stops_the_import_within_seconds(all_or_nothing):
    rows = [f"N{i},,k{i}@example.com,,,,,,,,,,(617) 555-{i:04d},,,," for i in range(2000)]
    killed = []

    def kill_one_worker(_position: int) -> None:
        if not killed:
            workers = _pool_workers()
            assert workers, "the import runs no worker process"
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append(workers[0].pid)

    started = time.monotonic()
    with pytest.raises(ImportFileError) as exc:
        customers_import(
            actor="test",
            source=io.BytesIO(shopify(*rows).encode()),
            filename="f.csv",
            workers=2,
            batch_size=20,
            all_or_nothing=all_or_nothing,
            on_progress=kill_one_worker,
        )
    assert time.monotonic() - started < 15
    assert exc.value.code == "worker_lost"
    record = exc.value.params["record"]
    assert exc.value.messages == [str(importing.WORKER_LOST) % {"record": record}]
    assert 1 < record < 2000 and (record - 1) % 20 == 0  # the first record of a batch
    assert not _pool_workers()  # no worker is left behind
    if all_or_nothing:
        assert not Customer.objects.exists()
    else:
        # The batches before the dead worker's were committed; the records after were not.
        assert Customer.objects.count() == record - 1


def test_a_worker_that_stops_answering_stops_the_import(monkeypatch):
    monkeypatch.setattr(reading, "WORKER_TIMEOUT", 0.5)
    rows = [f"N{i},,s{i}@example.com,,,,,,,,,,,,,," for i in range(400)]
    stopped = []

    def stop_every_worker(_position: int) -> None:
        if not stopped:
            for worker in _pool_workers():
                os.kill(worker.pid, signal.SIGSTOP)
                stopped.append(worker.pid)

    started = time.monotonic()
    with pytest.raises(ImportFileError) as exc:
        customers_import(
            actor="test",
            source=io.BytesIO(shopify(*rows).encode()),
            filename="f.csv",
            workers=2,
            batch_size=20,
            on_progress=stop_every_worker,
        )
    assert time.monotonic() - started < 15
    assert exc.value.code == "worker_lost" and stopped
    assert not _pool_workers()


def _threads_opening_connections(monkeypatch) -> list[str]:
    """Record the thread of every query and every new database connection."""
    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper

    seen: list[str] = []
    connect = BaseDatabaseWrapper.connect

    def connect_recorded(self):
        seen.append(threading.current_thread().name)
        return connect(self)

    monkeypatch.setattr(BaseDatabaseWrapper, "connect", connect_recorded)
    for alias in connections:
        connections[alias].execute_wrappers.append(
            lambda execute, sql, params, many, context: (
                seen.append(threading.current_thread().name),
                execute(sql, params, many, context),
            )[1]
        )
    return seen


@pytest.mark.parametrize(
    "options",
    [{}, {"all_or_nothing": True}, {"dry_run": True, "per_batch": True}, {"workers": 2}],
    ids=["batch-by-batch", "all-or-nothing", "preview", "workers"],
)
def test_the_read_ahead_thread_never_touches_the_database_and_ends(monkeypatch, options):
    from django.db import connections

    rows = [f"N{i},,p{i}@example.com,,,,,,,,,,,,,," for i in range(90)]
    before = set(threading.enumerate())
    seen = _threads_opening_connections(monkeypatch)
    try:
        result = run(shopify(*rows), batch_size=20, **options)
    finally:
        for alias in connections:
            connections[alias].execute_wrappers.clear()
    assert result.created == 90
    assert [r.record for r in result.reports] == list(range(1, 91))  # file order
    assert seen and set(seen) == {threading.main_thread().name}
    assert set(threading.enumerate()) == before


def test_a_reading_error_in_the_thread_surfaces_with_its_message_and_the_thread_ends():
    huge = "n" * (importing.MAX_CELL_CHARS + 1)
    rows = [f"N{i},,p{i}@example.com,,,,,,,,,,,,,," for i in range(50)]
    before = set(threading.enumerate())
    with pytest.raises(ImportFileError) as exc:
        run(shopify(*rows, f"B,,b@example.com,,,,,,,,,,,,,{huge},"), batch_size=10)
    assert exc.value.messages == [str(importing.FILE_FIELD_TOO_LARGE) % {"record": 51, "limit": 16}]
    assert Customer.objects.count() == 50  # the batches before it committed, in order
    assert set(threading.enumerate()) == before


def test_a_stop_between_batches_ends_the_read_ahead_thread():
    rows = [f"N{i},,p{i}@example.com,,,,,,,,,,,,,," for i in range(100)]
    before = set(threading.enumerate())
    answers = iter([False, True])
    result = run(shopify(*rows), batch_size=10, should_stop=lambda: next(answers, True))
    assert Customer.objects.count() == 20 == result.created
    assert set(threading.enumerate()) == before
