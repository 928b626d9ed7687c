"""Reading a file: its bytes, its encoding, its CSV records in batches, and the worker pool.

The file is streamed, never read whole into memory: it is checked once for its encoding, then
parsed in batches of records. :func:`batches_normalise` turns those into validated rows, in
forked worker processes when asked; a worker that dies or stops answering stops the import
with :data:`WORKER_LOST` instead of leaving it waiting. :class:`Spool` keeps validated batches
on disk for runs that must read the whole file before writing anything.
"""

from __future__ import annotations

import codecs
import collections
import csv
import io
import multiprocessing
import os
import pickle
import queue
import re
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import IO

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from customers.services.importing.results import ImportFileError
from customers.services.importing.rows import Row, Spec, rows_normalise
from customers.services.importing.xlsx import FILE_XLS_OLD, XLS_MAGIC, XLSX_MAGIC, XlsxFile

READ_CHUNK = 1 << 16
# The largest cell read, in characters: a 2-MB note is fine, a 100-MB "cell" is not a customer
# record. The csv module enforces it while parsing, before the cell is held in memory.
MAX_CELL_CHARS = 16 * 2**20
# A batch of 2,000 records takes a worker well under a second; a minute means it is gone.
WORKER_TIMEOUT = 60.0

FILE_EMPTY = _("The file is empty.")
FILE_BINARY = _("This is not a text CSV file (it contains binary data).")
FILE_ENCODING = _(
    "The file is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8 and try again."
)
FILE_FIELD_TOO_LARGE = _("Record %(record)s has a cell larger than the %(limit)s MB allowed.")
FILE_CSV_BROKEN = _("The file is not valid CSV near record %(record)s: %(error)s.")
WORKER_LOST = _(
    "The import stopped at record %(record)s: a worker process reading the file ended or "
    "stopped answering (killed, or out of memory). Import the file again; records already "
    "imported come out unchanged."
)

# One batch of records as parsed: the number of its first record and each record's cells.
RawBatch = tuple[int, list[list[str]]]
# One batch as validated: each row with the cells it came from (for the rejected-rows file).
Batch = list[tuple[Row, list[str]]]


class CountingReader(io.RawIOBase):
    """A read-only binary stream that counts the bytes read (for the progress bar)."""

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_CONTROL_TEXT = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def encoding_detect(raw: IO[bytes]) -> str:
    """Return "utf-16", "utf-8-sig" or "cp1252" after checking every byte; rewind the file.

    UTF-16 only with its byte-order mark (Excel's "Unicode text"); else UTF-8, else
    Windows-1252. Never a lossy decoding.
    """
    raw.seek(0)
    head = raw.read(READ_CHUNK)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _utf16_checked(raw)
    if not head.strip() or head.strip() == codecs.BOM_UTF8:
        raise ImportFileError(FILE_EMPTY, code="empty")
    if _CONTROL.search(head):
        raise ImportFileError(FILE_BINARY, code="binary")
    for candidate in ("utf-8-sig", "cp1252"):
        raw.seek(0)
        decoder = codecs.getincrementaldecoder(candidate)(errors="strict")
        try:
            while chunk := raw.read(READ_CHUNK):
                if b"\x00" in chunk:
                    raise ImportFileError(FILE_BINARY, code="binary")
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        raw.seek(0)
        return candidate
    raise ImportFileError(FILE_ENCODING, code="encoding")


def _utf16_checked(raw: IO[bytes]) -> str:
    raw.seek(0)
    decoder = codecs.getincrementaldecoder("utf-16")(errors="strict")
    text_seen = False
    try:
        while chunk := raw.read(READ_CHUNK):
            text = decoder.decode(chunk)
            if _CONTROL_TEXT.search(text):
                raise ImportFileError(FILE_BINARY, code="binary")
            text_seen = text_seen or bool(text.strip())
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise ImportFileError(FILE_ENCODING, code="encoding") from exc
    if not text_seen:
        raise ImportFileError(FILE_EMPTY, code="empty")
    raw.seek(0)
    return "utf-16"


def file_size(source: IO[bytes]) -> int:
    position = source.tell()
    size = source.seek(0, os.SEEK_END)
    source.seek(position)
    return size


class TextFile:
    """A binary upload opened as text in its own encoding, counting the bytes read."""

    def __init__(self, source: IO[bytes]):
        encoding = encoding_detect(source)
        self.size = file_size(source)
        self.counter = CountingReader(source)
        self.text = io.TextIOWrapper(
            io.BufferedReader(self.counter, READ_CHUNK),
            encoding=encoding,
            errors="strict",
            newline="",
        )

    @property
    def position(self) -> int:
        """Bytes read so far."""
        return self.counter.count

    def header_line(self) -> str:
        """The first line that is not blank (empty when there is none)."""
        line = self.text.readline()
        while line and not line.strip():
            line = self.text.readline()
        return line

    def batches(self, delimiter: str, batch_size: int) -> Iterator[RawBatch]:
        """The CSV records after the header line, in batches (see :func:`record_batches`)."""
        return record_batches(self.text, delimiter, batch_size)

    def close(self) -> None:
        """Let go of the source without closing it (the caller opened it)."""
        self.text.detach()


def source_open(source: IO[bytes]) -> TextFile | XlsxFile:
    """Open an upload as CSV text or, by its first bytes, as an Excel workbook."""
    source.seek(0)
    magic = source.read(4)
    source.seek(0)
    if magic == XLSX_MAGIC:
        return XlsxFile(source, file_size(source))
    if magic == XLS_MAGIC:
        raise ImportFileError(FILE_XLS_OLD, code="xls")
    return TextFile(source)


def file_sample(source: IO[bytes], rows: int = 5) -> tuple[list[str], list[list[str]]]:
    """The header's column names and the first ``rows`` records that are not empty.

    What the mapping page shows and ``--mapping`` resolves against; the source is rewound.
    """
    from customers.services.importing.formats import header_parse

    file = source_open(source)
    try:
        header = header_parse(file.header_line())
        samples: list[list[str]] = []
        for _start, batch in file.batches(header.delimiter, rows):
            samples.extend(cells for cells in batch if any(c.strip() for c in cells))
            if len(samples) >= rows:
                break
    finally:
        file.close()
        source.seek(0)
    return header.names, samples[:rows]


def record_batches(text: IO[str], delimiter: str, batch_size: int) -> Iterator[RawBatch]:
    """Parse the CSV records after the header, ``batch_size`` at a time.

    Raises :class:`ImportFileError` naming the record when the CSV breaks or a cell is longer
    than :data:`MAX_CELL_CHARS`.
    """
    csv.field_size_limit(MAX_CELL_CHARS)
    reader = csv.reader(text, delimiter=delimiter, strict=False)
    batch: list[list[str]] = []
    start = 1
    try:
        for cells in reader:
            batch.append(cells)
            if len(batch) >= batch_size:
                yield start, batch
                start += len(batch)
                batch = []
    except csv.Error as exc:
        record = start + len(batch)
        if "field larger than field limit" in str(exc):
            raise ImportFileError(
                FILE_FIELD_TOO_LARGE,
                code="field_too_large",
                params={"record": record, "limit": MAX_CELL_CHARS // 2**20},
            ) from exc
        raise ImportFileError(
            FILE_CSV_BROKEN, code="csv", params={"record": record, "error": exc}
        ) from exc
    except UnicodeDecodeError as exc:  # checked up front; a file changed while read
        raise ImportFileError(FILE_ENCODING, code="encoding") from exc
    if batch:
        yield start, batch


def batches_normalise(raw: Iterator[RawBatch], spec: Spec, workers: int) -> Iterator[Batch]:
    """Yield batches of (normalised row, raw cells), normalising in worker processes if asked.

    Phone validation costs ~50 µs a number, the largest share of a row's cost: forked workers
    take it off the process that talks to the database. At most a few batches are in flight, so
    memory stays flat whatever the file size. A file of one batch is done in this process.
    """
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for start, batch in raw:
            yield _paired(rows_normalise(start, batch, spec), batch)
        return
    first = next(raw, None)
    if first is None:
        return
    second = next(raw, None)
    if second is None:
        yield _paired(rows_normalise(first[0], first[1], spec), first[1])
        return
    yield from _pooled(_chain(first, second, raw), spec, workers)


def _pooled(raw: Iterator[RawBatch], spec: Spec, workers: int) -> Iterator[Batch]:
    """Normalise in a pool of forked processes, yielding the batches in file order."""
    in_flight: collections.deque = collections.deque()
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    finished = False
    try:
        for start, batch in raw:
            in_flight.append((start, pool.submit(rows_normalise, start, batch, spec), batch))
            while len(in_flight) > workers * 2:
                yield _awaited(*in_flight.popleft())
        while in_flight:
            yield _awaited(*in_flight.popleft())
        finished = True
    except BrokenProcessPool as exc:  # raised by submit() once a worker has died
        record = in_flight[0][0] if in_flight else 1
        raise ImportFileError(WORKER_LOST, code="worker_lost", params={"record": record}) from exc
    finally:
        if not finished:
            # An import that stopped (an error, a dead or silent worker) waits for no worker.
            _pool_kill(pool)
        pool.shutdown(wait=True, cancel_futures=True)


def _pool_kill(pool: ProcessPoolExecutor) -> None:
    # The executor has no public way to stop a worker that is stuck; its process table is it.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.kill()


def _awaited(start: int, future, batch: list[list[str]]) -> Batch:
    try:
        rows = future.result(timeout=WORKER_TIMEOUT)
    except (BrokenProcessPool, FutureTimeout) as exc:
        raise ImportFileError(WORKER_LOST, code="worker_lost", params={"record": start}) from exc
    return _paired(rows, batch)


def _paired(rows: list[Row], batch: list[list[str]]) -> Batch:
    return list(zip(rows, batch, strict=True))


def _chain(first: RawBatch, second: RawBatch, rest: Iterator[RawBatch]) -> Iterator[RawBatch]:
    yield first
    yield second
    yield from rest


def default_workers() -> int:
    """Worker processes the command uses: the setting, else the machine's cores (at most 4)."""
    configured = getattr(settings, "BACKOFFICE_IMPORT_WORKERS", None)
    if configured is not None:
        return max(1, int(configured))
    return max(1, min(4, os.cpu_count() or 1))


class Spool:
    """Validated batches kept in a temporary file, to be read back in order.

    A run that must lock everything it will touch before writing (see plan.py) reads the
    whole file first; the spool keeps memory flat whatever the size, and reading a pickled
    batch back costs a small share of validating it again.
    """

    def __init__(self):
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.positions: list[int] = []  # the source's bytes read when each batch was parsed

    def add(self, batch: Batch, position: int) -> None:
        pickle.dump(batch, self.file, protocol=pickle.HIGHEST_PROTOCOL)
        self.positions.append(position)

    def __iter__(self) -> Iterator[tuple[Batch, int]]:
        self.file.seek(0)
        for position in self.positions:
            yield pickle.load(self.file), position  # noqa: S301 - our own file

    def close(self) -> None:
        self.file.close()


# Batches validated ahead of the one being written: enough to keep the database busy, few
# enough that memory stays flat.
AHEAD = 2


class BatchesAhead:
    """Validate a file's batches in one background thread while the caller writes.

    The thread only reads the file and normalises rows (through the worker pool, when there is
    one); it never touches the database, so its work overlaps the database's, which releases the
    GIL. Batches come out in file order, each with the source's :attr:`position` as it stood when
    that batch was parsed; an exception raised by the reading comes out of the iteration
    unchanged. :meth:`close` stops and joins the thread: none is left after an import.
    """

    def __init__(self, batches: Iterator[Batch], file, depth: int = AHEAD):
        self.size = file.size
        self.position = 0
        self._batches = batches
        self._file = file
        self._queue: queue.Queue = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="import-read-ahead", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for batch in self._batches:
                if not self._put((batch, self._file.position, None)):
                    return
            self._put((None, None, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            self._put((None, None, exc))
        finally:
            self._batches.close()  # runs here: a generator is closed by the thread running it

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Batch]:
        while True:
            batch, position, error = self._queue.get()
            if error is not None:
                raise error
            if batch is None:
                return
            self.position = position
            yield batch

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
