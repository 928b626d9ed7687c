"""CSV and xlsx export of customers: the Shopify columns plus what Shopify lacks, spreadsheet-safe.

One implementation for the admin download and the ``export_customers`` command; CSV and xlsx
write the same escaped rows (``customers_export_rows``). Rows are
streamed in chunks (a constant number of queries per chunk), so a million customers never sit in
memory. The output re-imports through customers/services/importing.py without loss. Every
export, this one and the personal-data export, leaves an ``ExportRecord``: who, which selection,
which columns, how many rows.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell

from customers.audit.events import Actor, actor_fields
from customers.models import (
    Address,
    Consent,
    Customer,
    ExportKind,
    ExportOrigin,
    ExportRecord,
    Note,
)

CHUNK_SIZE = 2000
DELIMITERS = (",", ";")
# Cells a spreadsheet would evaluate (OWASP CSV injection), and our escape for them.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
BOM = "\ufeff"
CSV, XLSX = "csv", "xlsx"
FILE_FORMATS = (CSV, XLSX)
# Columns an xlsx file holds as numbers (a spreadsheet sums them); every other cell is text.
NUMBER_COLUMNS = {"Total Spent": Decimal, "Total Orders": int}
SHEET_TITLE = "Customers"

UNKNOWN_COLUMN = _("Unknown column: %(column)s.")
NO_COLUMNS = _("Choose at least one column.")
BAD_DELIMITER = _("The delimiter must be a comma or a semicolon.")


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _default_address(customer: Customer) -> Address | None:
    found = customer.default_addresses
    return found[0] if found else None


def _or_blank(value) -> str:
    return "" if value is None else str(value)


def _address(attr: str) -> Callable[[Customer], str]:
    def get(customer: Customer) -> str:
        address = _default_address(customer)
        return getattr(address, attr) if address is not None else ""

    return get


# Header -> value. The first 17 are Shopify's import template, in its order.
COLUMNS: dict[str, Callable[[Customer], str]] = {
    "First Name": lambda c: c.first_name,
    "Last Name": lambda c: c.last_name,
    "Email": lambda c: c.email,
    "Accepts Email Marketing": lambda c: _yes(c.email_consent == Consent.SUBSCRIBED),
    "Default Address Company": _address("company"),
    "Default Address Address1": _address("address1"),
    "Default Address Address2": _address("address2"),
    "Default Address City": _address("city"),
    "Default Address Province Code": _address("province_code"),
    "Default Address Country Code": _address("country_code"),
    "Default Address Zip": _address("postal_code"),
    "Default Address Phone": _address("phone"),
    "Phone": lambda c: c.phone,
    "Accepts SMS Marketing": lambda c: _yes(c.sms_consent == Consent.SUBSCRIBED),
    "Tags": lambda c: ", ".join(sorted((t.name for t in c.tags.all()), key=str.lower)),
    "Note": lambda c: "\n\n".join(note.body for note in c.export_notes),
    "Tax Exempt": lambda c: _yes(c.tax_exempt),
    "Company": lambda c: c.company,
    "Username": lambda c: c.username,
    "Date of Birth": lambda c: c.date_of_birth.isoformat() if c.date_of_birth else "",
    "Group": lambda c: c.group.name if c.group_id else "",
    "Status": lambda c: c.status,
    "Source": lambda c: c.source,
    "Email Marketing Status": lambda c: c.email_consent,
    "SMS Marketing Status": lambda c: c.sms_consent,
    # What the previous platform knew (a Shopify export's columns), kept apart from our orders.
    "Customer ID": lambda c: c.shopify_id,
    "Total Spent": lambda c: _or_blank(c.previous_total_spent),
    "Total Orders": lambda c: _or_blank(c.previous_total_orders),
}
SHOPIFY_HEADERS = list(COLUMNS)[:17]
ALL_HEADERS = list(COLUMNS)


def cell_escape(value: str) -> str:
    """Prefix a cell a spreadsheet would evaluate with an apostrophe.

    A cell that already starts with apostrophes before such a character gets one more, so that
    the importer, which drops exactly one, gives back the stored text unchanged.
    """
    if value and value.lstrip(ESCAPE).startswith(FORMULA_START):
        return ESCAPE + value
    return value


def cell_unescape(value: str) -> str:
    """Undo :func:`cell_escape` (the importer's side)."""
    if value.startswith(ESCAPE) and value.lstrip(ESCAPE).startswith(FORMULA_START):
        return value[1:]
    return value


def customers_exportable() -> QuerySet[Customer]:
    """Every customer an export of "all" holds: merged and erased records are no customers."""
    return Customer.objects.exportable()


def export_check(*, columns: Sequence[str], delimiter: str) -> None:
    """Refuse unknown columns or delimiters with a clear message."""
    if not columns:
        raise ValidationError(NO_COLUMNS, code="no_columns")
    for column in columns:
        if column not in COLUMNS:
            raise ValidationError(UNKNOWN_COLUMN, code="unknown_column", params={"column": column})
    if delimiter not in DELIMITERS:
        raise ValidationError(BAD_DELIMITER, code="delimiter")


@transaction.atomic
def export_record_create(
    *,
    actor: Actor,
    kind: str,
    origin: str,
    selection: dict,
    columns: Sequence[str],
    rows: int,
) -> ExportRecord:
    """Record that ``actor`` exported ``rows`` rows of ``selection`` with these columns."""
    return ExportRecord.objects.create(
        **actor_fields(actor),
        kind=kind,
        origin=origin,
        selection=selection,
        columns=list(columns),
        rows=rows,
    )


def export_selection(*, scope: str, filters: str = "", ids: Sequence[int] = ()) -> dict:
    """Describe what an export covers, for its record: everything, a filtered list, or ids.

    ``filters`` is the customer list's query string; it is kept as a mapping of lists (the
    search term, each filter) so that the record reads without URL decoding.
    """
    description: dict = {"scope": scope}
    if scope == "filtered":
        description["filters"] = {key: values for key, values in QueryDict(filters).lists()}
    if scope == "selected":
        description["ids"] = sorted(int(pk) for pk in ids)
    return description


class _Line:
    """A file-like object csv.writer writes one line into."""

    def write(self, value: str) -> str:
        return value


def customers_export_rows(
    *,
    queryset: QuerySet[Customer],
    columns: Sequence[str] | None = None,
    delimiter: str = ",",
    actor: Actor = None,
    origin: str = ExportOrigin.ADMIN,
    selection: dict | None = None,
) -> Iterator[list[str]]:
    """Yield the header, then each customer's cells as escaped text; record the export.

    The record is written when the first row is asked for, before any data leaves, with the
    number of rows the queryset holds then.
    """
    columns = list(columns or ALL_HEADERS)
    export_check(columns=columns, delimiter=delimiter)
    export_record_create(
        actor=actor,
        kind=ExportKind.CUSTOMERS,
        origin=origin,
        selection=selection if selection is not None else {},
        columns=columns,
        rows=queryset.order_by().count(),
    )
    getters = [COLUMNS[name] for name in columns]
    yield columns
    for customer in _rows(queryset):
        yield [cell_escape(str(get(customer))) for get in getters]


def customers_export_lines(
    *,
    queryset: QuerySet[Customer],
    columns: Sequence[str] | None = None,
    delimiter: str = ",",
    bom: bool = True,
    actor: Actor = None,
    origin: str = ExportOrigin.ADMIN,
    selection: dict | None = None,
) -> Iterator[str]:
    """Yield the CSV export of ``queryset`` line by line (header first); record the export."""
    rows = customers_export_rows(
        queryset=queryset,
        columns=columns,
        delimiter=delimiter,
        actor=actor,
        origin=origin,
        selection=selection,
    )
    writer = csv.writer(_Line(), delimiter=delimiter, lineterminator="\r\n")
    header = writer.writerow(next(rows))
    yield (BOM + header) if bom else header
    for row in rows:
        yield writer.writerow(row)


def xlsx_write(rows: Iterable[Sequence[str]], target: str | IO[bytes]) -> None:
    """Write ``rows`` (header first, as ``customers_export_rows`` gives them) as an xlsx file.

    A write-only workbook keeps one row in memory (openpyxl spools the sheet to a temporary
    file). Cells are text, already escaped, except the number columns; none is a formula.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE)
    rows = iter(rows)
    header = list(next(rows))
    sheet.append([_xlsx_text(sheet, name) for name in header])
    numbers = {i: NUMBER_COLUMNS[name] for i, name in enumerate(header) if name in NUMBER_COLUMNS}
    try:
        for row in rows:
            sheet.append(
                [
                    _xlsx_number(value, numbers[i]) if i in numbers else _xlsx_text(sheet, value)
                    for i, value in enumerate(row)
                ]
            )
    except BaseException:
        # A cancelled job stops here: openpyxl removes its spooled sheet only on save or when
        # the process exits, and a worker process lives long.
        writer = getattr(sheet, "_writer", None)
        if writer is not None:
            if getattr(sheet, "_rows", None) is not None:
                sheet._rows.close()  # its XML element first, then the file under it
            writer.close()
            writer.cleanup()
        raise
    workbook.save(target)


def _xlsx_number(value: str, kind: type) -> int | Decimal | None:
    # A negative amount was escaped like any cell starting with "-"; as a number it is safe.
    return kind(cell_unescape(value)) if value else None


def _xlsx_text(sheet, value: str) -> WriteOnlyCell | None:
    if not value:
        return None
    # Control characters are not allowed in an xlsx file; once they are gone the text may start
    # like a formula, so it is escaped again.
    cleaned = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = WriteOnlyCell(sheet, cleaned if cleaned == value else cell_escape(cleaned))
    cell.data_type = "s"  # text, whatever it looks like: never a formula
    return cell


def _rows(queryset: QuerySet[Customer]) -> Iterable[Customer]:
    return (
        queryset.order_by("pk")
        .select_related("group")
        .prefetch_related(
            "tags",
            Prefetch(
                "addresses",
                queryset=Address.objects.filter(is_default=True),
                to_attr="default_addresses",
            ),
            Prefetch(
                "notes", queryset=Note.objects.order_by("created_at", "pk"), to_attr="export_notes"
            ),
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )
