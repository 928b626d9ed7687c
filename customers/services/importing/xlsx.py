"""Reading an Excel ``.xlsx`` file like a CSV file: its first sheet's rows as text cells.

openpyxl in read-only mode streams the sheet's XML, so memory stays flat whatever the number of
rows; ``data_only`` reads the values Excel cached for formulas: a formula is never evaluated
here. Cells become the text the policy reads (see :func:`cell_text`); the rest of the import
cannot tell the file was not CSV.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import zipfile
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from customers.services.importing.results import ImportFileError

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"
# How much bigger than the upload its unzipped parts may be: a spreadsheet compresses about
# tenfold; a "zip bomb" a thousandfold.
MAX_EXPANSION = 30

FILE_XLSX_BROKEN = _("This Excel file cannot be read (%(error)s); save it again as .xlsx or CSV.")
FILE_XLS_OLD = _("Old Excel .xls files are not read; save the file as .xlsx or CSV UTF-8.")
FILE_XLSX_TOO_BIG = _(
    "This Excel file unpacks to more than %(limit)s MB; save it as CSV UTF-8 instead."
)
FILE_XLSX_NO_SHEET = _("This Excel file has no worksheet.")


def cell_text(value) -> str:
    """One cell as the text a CSV export of the sheet would hold.

    A whole number stays its digits (``2025550123.0`` -> ``2025550123``, so phones and ZIPs
    come back); a date is ``YYYY-MM-DD``; a boolean ``yes``/``no``.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return str(value)


def archive_check(source: IO[bytes], size: int) -> None:
    """Refuse an archive that unpacks to far more than its size (before openpyxl opens it)."""
    limit = max(size, settings.BACKOFFICE_IMPORT_MAX_BYTES) * MAX_EXPANSION
    try:
        with zipfile.ZipFile(source) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(
            FILE_XLSX_BROKEN, code="xlsx", params={"error": type(exc).__name__}
        ) from exc
    finally:
        source.seek(0)
    if unpacked > limit:
        raise ImportFileError(
            FILE_XLSX_TOO_BIG, code="xlsx_too_big", params={"limit": limit // 2**20}
        )


class XlsxFile:
    """The first sheet of a workbook, read row by row: the same surface as reading.TextFile."""

    def __init__(self, source: IO[bytes], size: int):
        import openpyxl  # noqa: PLC0415 - only Excel uploads need it

        archive_check(source, size)
        self.size = size
        try:
            self.book = openpyxl.load_workbook(source, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises KeyError, ValueError, its own, ...
            raise ImportFileError(
                FILE_XLSX_BROKEN, code="xlsx", params={"error": type(exc).__name__}
            ) from exc
        if not self.book.worksheets:
            self.book.close()
            raise ImportFileError(FILE_XLSX_NO_SHEET, code="xlsx_no_sheet")
        sheet = self.book.worksheets[0]
        self.total = sheet.max_row or 0
        self.rows = sheet.iter_rows(values_only=True)
        self.done = 0

    @property
    def position(self) -> int:
        """An estimate of the bytes read: the share of rows read, of the file's size."""
        if not self.total:
            return 0
        return min(self.size, self.size * self.done // self.total)

    def header_line(self) -> str:
        """The first row that is not empty, written as a CSV line (empty when there is none)."""
        for row in self.rows:
            self.done += 1
            cells = [cell_text(value) for value in row]
            if any(cell.strip() for cell in cells):
                while cells and not cells[-1].strip():
                    cells.pop()
                out = io.StringIO()
                csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerow(cells)
                return out.getvalue()
        return ""

    def batches(self, _delimiter: str, batch_size: int) -> Iterator[tuple[int, list[list[str]]]]:
        """The records after the header, ``batch_size`` at a time, numbered from 1."""
        batch: list[list[str]] = []
        start = 1
        for row in self.rows:
            self.done += 1
            batch.append([cell_text(value) for value in row])
            if len(batch) >= batch_size:
                yield start, batch
                start += len(batch)
                batch = []
        if batch:
            yield start, batch

    def close(self) -> None:
        self.book.close()
