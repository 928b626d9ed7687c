"""CSV import of customers: Shopify, Ecwid, ShipStation and our own export, one engine for all.

The rules are shared/IMPORT_POLICY.md. The admin page and the ``import_customers`` command are
adapters over :func:`customers_import`, which runs the stages in order, batch by batch:

- ``formats``: the header row -> the format and what each column maps to;
- ``reading``: bytes -> text -> CSV records in batches, validated in worker processes;
- ``rows``: one record -> a validated :class:`~.rows.Row` (no database access);
- ``plan``: a batch of rows -> matched, locked customers and each record's outcome;
- ``write``: the plan -> a handful of set-based statements;
- ``results``: the reports and totals every stage adds to.

Each batch costs one lookup (locking the customers it matches, in primary-key order), a few
reads of their addresses, tags and notes, and bulk writes, whatever its size. A rejected row
writes nothing: every row of a batch is checked before anything of it is written.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from typing import IO

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext_lazy as _

from customers.audit.events import Actor
from customers.selectors.matching import matching_strategy
from customers.services.importing.formats import (
    BACKOFFICE,
    ECWID,
    FILE_DUPLICATE_COLUMN,
    FILE_UNKNOWN_HEADER,
    FORMAT_COLUMNS,
    FORMAT_LABELS,
    SHIPSTATION,
    SHIPSTATION_COLUMNS,
    SHOPIFY,
    SHOPIFY_COLUMNS,
    WARN_IGNORED,
    WARN_PASSWORD,
    ColumnPlan,
    Header,
    columns_plan,
    format_recognise,
    header_check,
    header_parse,
)
from customers.services.importing.plan import (
    MILITARY_ADDRESS,
    NO_KEY,
    NO_KEY_EMAIL_ONLY,
    NO_KEY_PHONE_ONLY,
    SKIP_ARCHIVED,
    SKIP_CHANNEL,
    WARN_GROUP_CREATED,
    WARN_STATUS,
    Run,
    batch_keys,
    batch_plan,
    customers_lock_all,
    imports_serialise,
)
from customers.services.importing.reading import (
    FILE_BINARY,
    FILE_CSV_BROKEN,
    FILE_EMPTY,
    FILE_ENCODING,
    FILE_FIELD_TOO_LARGE,
    MAX_CELL_CHARS,
    WORKER_LOST,
    Batch,
    BatchesAhead,
    Spool,
    TextFile,
    batches_normalise,
    default_workers,
    source_open,
)
from customers.services.importing.results import (
    CREATED,
    ERROR,
    SKIPPED,
    UNCHANGED,
    UPDATED,
    ImportFileError,
    ImportResult,
    RowError,
    RowReport,
    describe,
    sentence,
)
from customers.services.importing.rows import (
    COLUMN_PHONE_INVALID,
    EMAIL_INVALID,
    NOT_A_CHOICE,
    NOT_A_COUNTRY,
    NOT_A_DATE,
    NOT_YES_NO,
    SHIPSTATION_MISSING,
    SHIPSTATION_NO_NAME,
    TOO_LONG,
    TOO_MANY_CELLS,
    spec_build,
)
from customers.services.importing.write import batch_write

BATCH_SIZE = 2000
# A batch-by-batch run on SQLite pauses SQLITE_WRITER_GAP seconds between two batches once
# SQLITE_WRITER_EVERY seconds have passed since its last pause. A writer waiting for SQLite's
# lock polls it (its busy handler sleeps up to 100 ms at a time): batches back to back would
# take the lock again before it looks, and a clerk's save would wait for the whole file. Every
# 0.4 s keeps a clerk's save under a second (test_import_jobs); it costs about a fifth of a
# SQLite import's time, and once a second made the clerk wait 1.2 s.
SQLITE_WRITER_GAP = 0.1
SQLITE_WRITER_EVERY = 0.4

# The garbage collector's thresholds while a file is imported. A batch allocates hundreds of
# thousands of short-lived objects (cells, rows, model instances, event payloads), none of them
# in a reference cycle: at Python's default (700 allocations) the collector ran a thousand times
# per 20,000 rows, and its full passes over Django's own objects took a quarter of the main
# process's CPU. Memory stays as flat with these: there is nothing cyclic for it to find.
GC_THRESHOLDS = (50_000, 20, 10)

FILE_NO_ROWS = _("The file has a header but no customer rows.")
CONFLICT = _(
    "Could not be saved because the same customers were changed at the same time; "
    "import the file again."
)

__all__ = [
    "BACKOFFICE",
    "BATCH_SIZE",
    "COLUMN_PHONE_INVALID",
    "CONFLICT",
    "CREATED",
    "ECWID",
    "EMAIL_INVALID",
    "ERROR",
    "FILE_BINARY",
    "FILE_CSV_BROKEN",
    "FILE_DUPLICATE_COLUMN",
    "FILE_EMPTY",
    "FILE_ENCODING",
    "FILE_FIELD_TOO_LARGE",
    "FILE_NO_ROWS",
    "FILE_UNKNOWN_HEADER",
    "FORMAT_COLUMNS",
    "FORMAT_LABELS",
    "MAX_CELL_CHARS",
    "MILITARY_ADDRESS",
    "NOT_A_CHOICE",
    "NOT_A_COUNTRY",
    "NOT_A_DATE",
    "NOT_YES_NO",
    "NO_KEY",
    "NO_KEY_EMAIL_ONLY",
    "NO_KEY_PHONE_ONLY",
    "SHIPSTATION",
    "SHIPSTATION_COLUMNS",
    "SHIPSTATION_MISSING",
    "SHIPSTATION_NO_NAME",
    "SHOPIFY",
    "SHOPIFY_COLUMNS",
    "SKIPPED",
    "SKIP_ARCHIVED",
    "SKIP_CHANNEL",
    "TOO_LONG",
    "TOO_MANY_CELLS",
    "UNCHANGED",
    "UPDATED",
    "WARN_GROUP_CREATED",
    "WARN_IGNORED",
    "WARN_PASSWORD",
    "WARN_STATUS",
    "WORKER_LOST",
    "ImportFileError",
    "ImportResult",
    "RowError",
    "RowReport",
    "batch_apply",
    "batch_check",
    "customers_import",
    "default_workers",
    "describe",
]

OnRow = Callable[[RowReport], None]
OnProgress = Callable[[int], None]
# Asked between batches (a job's cancel check); True stops the import there.
ShouldStop = Callable[[], bool]


def customers_import(
    *,
    actor: Actor,
    source: IO[bytes],
    filename: str,
    dry_run: bool = False,
    all_or_nothing: bool = False,
    per_batch: bool = False,
    on_row: OnRow | None = None,
    on_progress: OnProgress | None = None,
    should_stop: ShouldStop | None = None,
    workers: int = 1,
    batch_size: int = BATCH_SIZE,
    mapping: dict[str, str] | None = None,
) -> ImportResult:
    """Import one CSV file of customers; return what happened.

    ``source`` is a seekable binary file; it is read twice (once to check its encoding), never
    whole into memory. Without ``dry_run`` or ``all_or_nothing`` each batch commits on its own, so
    the valid rows of a huge file are saved even if a later batch meets an error; with either, the
    whole file is validated first, then applied in one transaction that is rolled back at the end
    (dry run) or on the first error. ``on_row`` receives every record's :class:`RowReport` (the
    admin preview stores them); ``on_progress`` receives a position in the file's bytes that
    grows to its size; ``workers`` > 1 normalises records in that many forked processes (the
    command on big files); ``mapping`` reads a file of any header through a column mapping
    (mapping.py). Raises :class:`ImportFileError` when the file cannot be read at all.

    ``per_batch`` (with ``dry_run``: the admin preview) plans each batch in its own transaction,
    rolled back at once, and writes nothing, so no lock is held across the file and other staff
    keep saving customers meanwhile; a key repeated in a later batch is then previewed against
    the database as it stands, not against the earlier record. ``should_stop`` is asked
    between batches: when it answers True the import stops there; batch by batch, the committed
    batches stay (the result counts them), in one transaction everything is rolled back.
    """
    result = ImportResult(file=filename, dry_run=dry_run, all_or_nothing=all_or_nothing)
    run = Run(actor=actor, result=result, strategy=matching_strategy())
    file = source_open(source)
    ahead: BatchesAhead | None = None
    # Before the worker processes fork: they inherit the thresholds.
    with _collector_relaxed():
        try:
            header, columns = header_read(file, result, mapping)
            if columns.secret:
                # A password is never stored nor echoed, not even in the rejected-rows file.
                on_row = _without(on_row, columns.secret)
            raw = file.batches(header.delimiter, batch_size)
            batches = batches_normalise(raw, spec_build(columns), workers)
            # Parsing the next batches overlaps writing this one; read positions come with them.
            ahead = BatchesAhead(batches, file)
            report = _reporter(result, on_row)
            progress = _Between(on_progress, should_stop)
            if dry_run and per_batch:
                _check_batch_by_batch(ahead, run, report, progress)
            elif dry_run or all_or_nothing:
                _apply_in_one_transaction(ahead, run, report, progress)
            else:
                _apply_batch_by_batch(ahead, run, report, progress)
        finally:
            if ahead is not None:
                ahead.close()
            file.close()
    return result


@contextlib.contextmanager
def _collector_relaxed() -> Iterator[None]:
    """Collect garbage less often while the import runs (see GC_THRESHOLDS)."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def header_read(
    file: TextFile, result: ImportResult, mapping: dict[str, str] | None = None
) -> tuple[Header, ColumnPlan]:
    """Read the header row: its delimiter, its format, what each column becomes."""
    header = header_parse(file.header_line())
    result.header = header.names
    header_check(header.names)
    result.format = format_recognise(header.names, mapping)
    columns = columns_plan(header.names, result.format, mapping)
    for warning in columns.warnings():
        result.warn(warning)
    if columns.secret:
        result.header = [n for i, n in enumerate(header.names) if i not in columns.secret]
    return header, columns


def batch_apply(batch: Batch, run: Run, report: OnRow) -> None:
    """Plan and write one batch in its own transaction (a savepoint inside a longer one).

    Another writer changing the same customers meanwhile rejects the batch's records with
    :data:`CONFLICT`; nothing of the batch is written.
    """
    locked = set(run.locked)
    try:
        with transaction.atomic():
            imports_serialise()
            plan = batch_plan(batch, run)
            batch_write(plan.order, run)
    except IntegrityError:
        # The batch was rolled back: its locks and the tags and groups it created are gone.
        run.locked = locked
        run.forget_writes()
        _report_conflict(batch, report)
        return
    for row_report, change in plan.placed:
        row_report.customer_id = change.customer.pk
    for row_report in sorted(plan.reports, key=lambda r: r.record):
        report(row_report)


def batch_check(batch: Batch, run: Run, report: OnRow) -> None:
    """Plan one batch and report what it would do, writing nothing (the preview's step).

    Its transaction, rolled back at once, lasts as long as the planning only (a group the file
    names may be created meanwhile): what the write would add to it changes no outcome.
    """
    run.locked = set()
    try:
        with transaction.atomic():
            plan = batch_plan(batch, run)
            transaction.set_rollback(True)
    except IntegrityError:
        _report_conflict(batch, report)
        return
    finally:
        run.forget_writes()
    for row_report in sorted(plan.reports, key=lambda r: r.record):
        report(row_report)


def _report_conflict(batch: Batch, report: OnRow) -> None:
    message = sentence(str(CONFLICT))
    for row, cells in batch:
        if not row.blank:
            report(RowReport(row.record, ERROR, message=message, cells=cells))


class _Between:
    """What runs between two batches: the progress report, then the stop question."""

    def __init__(self, on_progress: OnProgress | None, should_stop: ShouldStop | None):
        self.on_progress = on_progress
        self.should_stop = should_stop
        self.stopped = False

    def __call__(self, position: int) -> bool:
        """Report ``position``; return True when the import must stop here."""
        if self.on_progress is not None:
            self.on_progress(position)
        if self.should_stop is not None and self.should_stop():
            self.stopped = True
        return self.stopped


class _WriterGap:
    """Between batches on SQLite, now and then leave the lock free long enough to be taken."""

    def __init__(self):
        self.last = time.monotonic()

    def __call__(self) -> None:
        if connection.vendor != "sqlite" or time.monotonic() - self.last < SQLITE_WRITER_EVERY:
            return
        time.sleep(SQLITE_WRITER_GAP)
        self.last = time.monotonic()


def _apply_batch_by_batch(batches: BatchesAhead, run: Run, report, progress) -> None:
    """Commit each batch on its own: a huge file's valid rows are saved batch after batch."""
    seen_rows = False
    let_other_writers_in = _WriterGap()
    for batch in batches:
        seen_rows = seen_rows or _has_rows(batch)
        run.locked = set()  # the previous batch's transaction released its locks
        batch_apply(batch, run, report)
        let_other_writers_in()
        if progress(batches.position):
            break
    if not seen_rows and not progress.stopped:
        raise ImportFileError(FILE_NO_ROWS, code="no_rows")
    run.result.committed = True


def _check_batch_by_batch(batches: BatchesAhead, run: Run, report, progress) -> None:
    """Check each batch on its own, writing nothing: a preview that holds no lock (and on
    SQLite no write lock) longer than one batch's planning."""
    seen_rows = False
    let_other_writers_in = _WriterGap()
    for batch in batches:
        seen_rows = seen_rows or _has_rows(batch)
        batch_check(batch, run, report)
        let_other_writers_in()
        if progress(batches.position):
            break
    if not seen_rows and not progress.stopped:
        raise ImportFileError(FILE_NO_ROWS, code="no_rows")


def _apply_in_one_transaction(batches: BatchesAhead, run: Run, report, progress) -> None:
    """Apply the whole file in one transaction, locking what it matches in primary-key order.

    With row locks (PostgreSQL) the file is validated first, into a spool, so that every
    customer it matches is locked before the first write: locking batch by batch would lock
    in file order. The first half of the progress is then reading, the second applying.
    SQLite's IMMEDIATE transaction excludes every other writer: it applies while reading.
    """
    spool = Spool() if connection.features.has_select_for_update else None
    try:
        if spool is not None:
            emails, phones = _spool_fill(spool, batches, run, progress)
            if progress.stopped:
                return  # stopped while validating: nothing was written
            staged = iter(spool)
        else:
            staged = ((batch, None) for batch in batches)
        seen_rows = False
        with transaction.atomic():
            imports_serialise()
            if spool is not None:
                customers_lock_all(emails=emails, phones=phones, run=run)
            for batch, position in staged:
                seen_rows = seen_rows or _has_rows(batch)
                batch_apply(batch, run, report)
                read = batches.position if position is None else (batches.size + position) // 2
                if progress(read):
                    break
            if not seen_rows and not progress.stopped:
                raise ImportFileError(FILE_NO_ROWS, code="no_rows")
            run.result.committed = (
                not run.result.dry_run and not run.result.errors and not progress.stopped
            )
            if not run.result.committed:
                transaction.set_rollback(True)
    finally:
        if spool is not None:
            spool.close()


def _spool_fill(spool: Spool, batches: BatchesAhead, run: Run, progress):
    """Validate every batch into the spool; return the emails and phones they will look up."""
    emails: set[str] = set()
    phones: set[str] = set()
    seen_rows = False
    for batch in batches:
        seen_rows = seen_rows or _has_rows(batch)
        batch_emails, batch_phones = batch_keys(batch, run.strategy)
        emails |= batch_emails
        phones |= batch_phones
        spool.add(batch, batches.position)
        if progress(batches.position // 2):
            break
    if not seen_rows and not progress.stopped:
        raise ImportFileError(FILE_NO_ROWS, code="no_rows")
    return emails, phones


def _has_rows(batch: Batch) -> bool:
    return any(not row.blank for row, _cells in batch)


def _reporter(result: ImportResult, on_row: OnRow | None) -> OnRow:
    def report(row_report: RowReport) -> None:
        result.count(row_report)
        if on_row is not None:
            on_row(row_report)

    return report


def _without(on_row: OnRow | None, secret: frozenset[int]) -> OnRow | None:
    if on_row is None:
        return None

    def report(row_report: RowReport) -> None:
        if row_report.cells is not None:
            row_report.cells = [c for i, c in enumerate(row_report.cells) if i not in secret]
        on_row(row_report)

    return report
