"""The formats the importer reads: their columns, how a header is recognised, what maps where.

A format is a mapping from the column names a platform writes to our record's field names (see
rows.py); recognising a file is choosing that mapping from its header row. A saved column
mapping for an unknown header is one more such mapping.
"""

from __future__ import annotations

import collections
import csv
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from customers.services.importing.results import ImportFileError

FILE_UNKNOWN_HEADER = _(
    "The first row is not a known header. Expected the columns of a Shopify customer CSV, an "
    "Ecwid customer import, a ShipStation CustomerImportSample.csv or this back office's export; "
    "found: %(found)s."
)
FILE_DUPLICATE_COLUMN = _("The header names the column %(column)s more than once.")
WARN_PASSWORD = _("The password column was ignored: passwords are never imported.")
WARN_IGNORED = _("Columns ignored: %(columns)s.")

SHOPIFY, ECWID, SHIPSTATION, BACKOFFICE = "shopify", "ecwid", "shipstation", "backoffice"
FORMAT_LABELS = {
    SHOPIFY: _("Shopify customer CSV"),
    ECWID: _("Ecwid customer import"),
    SHIPSTATION: _("ShipStation CustomerImportSample.csv"),
    BACKOFFICE: _("this back office's export"),
}
# Targets that are not fields: a password (dropped, never echoed) and a column read and ignored.
PASSWORD, IGNORED = "_password", "_ignored"

SHOPIFY_COLUMNS = {
    "First Name": "first_name",
    "Last Name": "last_name",
    "Email": "email",
    "Accepts Email Marketing": "email_consent",
    "Default Address Company": "address_company",
    "Default Address Address1": "address1",
    "Default Address Address2": "address2",
    "Default Address City": "city",
    "Default Address Province Code": "province_code",
    "Default Address Country Code": "country_code",
    "Default Address Zip": "postal_code",
    "Default Address Phone": "address_phone",
    "Phone": "phone",
    "Accepts SMS Marketing": "sms_consent",
    "Tags": "tags",
    "Note": "note",
    "Tax Exempt": "tax_exempt",
}
# Shopify's own export adds these: read and ignored (totals come from order history).
SHOPIFY_EXPORT_ONLY = {"Customer ID": IGNORED, "Total Spent": IGNORED, "Total Orders": IGNORED}
# What our export adds to the Shopify columns, so that nothing is lost on the way back.
BACKOFFICE_EXTRA = {
    "Company": "company",
    "Username": "username",
    "Date of Birth": "date_of_birth",
    "Group": "group",
    "Status": "status",
    "Source": "source",
    "Email Marketing Status": "email_consent_state",
    "SMS Marketing Status": "sms_consent_state",
}
ECWID_COLUMNS = {"name": "full_name", "email": "email", "password": PASSWORD}
SHIPSTATION_COLUMNS = {
    "Username": "username",
    "Email": "email",
    "Full Name": "full_name",
    "First Name": "first_name",
    "Last Name": "last_name",
    "Company Name": "company",
    "Address Line 1": "address1",
    "Address Line 2": "address2",
    "City": "city",
    "State": "province_code",
    "Postal Code": "postal_code",
    "Country Code": "country_code",
    "Phone": "phone",
}
SHIPSTATION_REQUIRED = (
    "Username",
    "Address Line 1",
    "City",
    "State",
    "Postal Code",
    "Country Code",
)
SHIPSTATION_NAMES = ("full_name", "first_name", "last_name", "company")

FORMAT_COLUMNS = {
    BACKOFFICE: {**SHOPIFY_COLUMNS, **SHOPIFY_EXPORT_ONLY, **BACKOFFICE_EXTRA},
    SHOPIFY: {**SHOPIFY_COLUMNS, **SHOPIFY_EXPORT_ONLY},
    SHIPSTATION: SHIPSTATION_COLUMNS,
    ECWID: ECWID_COLUMNS,
}
KNOWN_HEADERS = set().union(*FORMAT_COLUMNS.values())
SHIPSTATION_ONLY = SHIPSTATION_COLUMNS.keys() - FORMAT_COLUMNS[BACKOFFICE].keys()
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class Header:
    """The first row of a file: its delimiter and its column names, trimmed."""

    delimiter: str
    names: list[str]


@dataclass(frozen=True)
class ColumnPlan:
    """What each column of a recognised file becomes."""

    format: str
    mapped: tuple[tuple[int, str, str], ...]  # (index, field, header as written)
    ignored: tuple[str, ...]  # unknown columns, named in a warning
    secret: frozenset[int]  # password columns: never stored nor echoed
    width: int

    def warnings(self) -> list[str]:
        found = []
        if self.secret:
            found.append(str(WARN_PASSWORD))
        if self.ignored:
            found.append(str(WARN_IGNORED) % {"columns": ", ".join(self.ignored)})
        return found


def header_parse(line: str) -> Header:
    """Pick the delimiter that makes the first line the most known column names."""
    best: tuple[int, int, str, list[str]] | None = None
    for delimiter in DELIMITERS:
        cells = next(csv.reader([line], delimiter=delimiter))
        names = [cell.strip() for cell in cells]
        score = (sum(name in KNOWN_HEADERS for name in names), len(names))
        if best is None or score > best[:2]:
            best = (*score, delimiter, names)
    return Header(delimiter=best[2], names=best[3])


def header_check(names: list[str]) -> None:
    """Refuse a header that names a column twice (which of the two cells would count?)."""
    counts = collections.Counter(name for name in names if name)
    duplicates = [name for name, n in counts.items() if n > 1]
    if duplicates:
        raise ImportFileError(
            FILE_DUPLICATE_COLUMN, code="duplicate_column", params={"column": duplicates[0]}
        )


def format_recognise(names: list[str]) -> str:
    """Return the format a header belongs to, by its column names."""
    present = set(names)
    if present & SHIPSTATION_ONLY:
        fmt = SHIPSTATION
    elif present & BACKOFFICE_EXTRA.keys():
        fmt = BACKOFFICE
    elif present & ECWID_COLUMNS.keys() and not present & SHOPIFY_COLUMNS.keys():
        fmt = ECWID
    else:
        # Shopify's columns, or only those it shares with ShipStation (First Name, Email, ...).
        fmt = SHOPIFY
    known = present & FORMAT_COLUMNS[fmt].keys()
    mapped = {FORMAT_COLUMNS[fmt].get(name) for name in names}
    if not known or not mapped & {"email", "phone"}:
        shown = ", ".join(_clip(name) for name in names[:20] if name) or "—"
        raise ImportFileError(FILE_UNKNOWN_HEADER, code="unknown_header", params={"found": shown})
    return fmt


def columns_plan(names: list[str], fmt: str) -> ColumnPlan:
    """Map each column of a header of format ``fmt`` to its field, a secret or nothing."""
    columns = FORMAT_COLUMNS[fmt]
    mapped = []
    ignored = []
    secret = set()
    for index, name in enumerate(names):
        target = columns.get(name)
        if target == PASSWORD:
            secret.add(index)
        elif target is None:
            if name:
                ignored.append(name)
        elif target != IGNORED:
            mapped.append((index, target, name))
    return ColumnPlan(
        format=fmt,
        mapped=tuple(mapped),
        ignored=tuple(ignored),
        secret=frozenset(secret),
        width=len(names),
    )


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
