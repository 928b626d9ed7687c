"""The formats the importer reads: their columns, how a header is recognised, what maps where.

A format is a mapping from the column names a platform writes to our record's field names (see
rows.py); recognising a file is choosing that mapping from its header row. A saved column
mapping for an unknown header is one more such mapping.
"""

from __future__ import annotations

import collections
import csv
import re
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
# A file of any other header, read through a column mapping (mapping.py).
MAPPED = "mapped"
FORMAT_LABELS = {
    SHOPIFY: _("Shopify customer CSV"),
    ECWID: _("Ecwid customer import"),
    SHIPSTATION: _("ShipStation CustomerImportSample.csv"),
    BACKOFFICE: _("this back office's export"),
    MAPPED: _("a file read through a column mapping"),
}
# Targets that are not fields: a password (dropped, never echoed) and a column read and ignored.
PASSWORD, IGNORED = "_password", "_ignored"

# Shopify's import template and current export (2023 on), in the template's order.
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
# Shopify's export adds its id and the totals of the customer's orders there.
SHOPIFY_EXPORT_ONLY = {
    "Customer ID": "shopify_id",
    "Total Spent": "total_spent",
    "Total Orders": "total_orders",
}
# The exports before 2023 name the default address's columns without the prefix, and give the
# province and country names beside their codes; before 2022 email consent is Accepts Marketing.
SHOPIFY_LEGACY = {
    "Company": "address_company",
    "Address1": "address1",
    "Address2": "address2",
    "City": "city",
    "Province": "province_name",
    "Province Code": "province_code",
    "Country": "country_name",
    "Country Code": "country_code",
    "Zip": "postal_code",
    "Accepts Marketing": "email_consent",
}
SHOPIFY_DEFINING = ("First Name", "Last Name", "Email")
SHOPIFY_CONSENT = ("Accepts Email Marketing", "Accepts Marketing")
SHOPIFY_ADDRESS1 = ("Default Address Address1", "Address1")
# A customer metafield column, ``Birth date (customer.metafields.facts.birth_date)``.
METAFIELD = re.compile(r"\(customer\.metafields\.([^)]*)\)$")
BIRTH_METAFIELD = re.compile(r"birth", re.IGNORECASE)
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
ECWID_HEADERS = ({"name", "email"}, {"name", "email", "password"})
SHIPSTATION_COLUMNS = {
    "Username": "username",
    "Email": "email",
    "Email Address": "email",
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
    "Phone Number": "phone",
}
SHIPSTATION_REQUIRED = (
    "Username",
    "Address Line 1",
    "City",
    "State",
    "Postal Code",
    "Country Code",
)
SHIPSTATION_EMAIL = ("Email", "Email Address")
SHIPSTATION_NAME_COLUMNS = ("Full Name", "First Name", "Last Name", "Company Name")
SHIPSTATION_NAMES = ("full_name", "first_name", "last_name", "company")

FORMAT_COLUMNS = {
    BACKOFFICE: {**SHOPIFY_COLUMNS, **SHOPIFY_EXPORT_ONLY, **BACKOFFICE_EXTRA},
    SHOPIFY: {**SHOPIFY_LEGACY, **SHOPIFY_COLUMNS, **SHOPIFY_EXPORT_ONLY},
    SHIPSTATION: SHIPSTATION_COLUMNS,
    ECWID: ECWID_COLUMNS,
}
KNOWN_HEADERS = set().union(*FORMAT_COLUMNS.values())
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
    """Pick the delimiter that makes the first line the most column names we understand.

    Known names count first, then names a mapping would suggest a field for, then the number of
    cells: ``Nom;Courriel;Téléphone`` is three columns, not one.
    """
    from customers.services.importing.mapping import field_suggest

    best: tuple[int, int, int, str, list[str]] | None = None
    for delimiter in DELIMITERS:
        cells = next(csv.reader([line], delimiter=delimiter))
        names = [cell.strip() for cell in cells]
        known = sum(name in KNOWN_HEADERS for name in names)
        understood = sum(field_suggest(name) != MAPPING_IGNORE for name in names if name)
        score = (known, understood, len(names))
        if best is None or score > best[:3]:
            best = (*score, delimiter, names)
    return Header(delimiter=best[3], names=best[4])


def header_check(names: list[str]) -> None:
    """Refuse a header that names a column twice (which of the two cells would count?)."""
    counts = collections.Counter(name for name in names if name)
    duplicates = [name for name, n in counts.items() if n > 1]
    if duplicates:
        raise ImportFileError(
            FILE_DUPLICATE_COLUMN, code="duplicate_column", params={"column": duplicates[0]}
        )


def format_known(names: list[str]) -> str | None:
    """The known format whose defining columns the header has, or None (see the policy)."""
    present = {name for name in names if name}
    # Only our own export's column names (the export lets staff choose the columns).
    ours = present <= FORMAT_COLUMNS[BACKOFFICE].keys() and bool(present & {"Email", "Phone"})
    if ours and present & BACKOFFICE_EXTRA.keys():
        return BACKOFFICE
    shopify = set(SHOPIFY_DEFINING) <= present and _any(SHOPIFY_CONSENT, present)
    if shopify and _any(SHOPIFY_ADDRESS1, present):
        return SHOPIFY
    if ours:
        return BACKOFFICE
    if (
        set(SHIPSTATION_REQUIRED) <= present
        and _any(SHIPSTATION_EMAIL, present)
        and _any(SHIPSTATION_NAME_COLUMNS, present)
    ):
        return SHIPSTATION
    if present in ECWID_HEADERS:
        return ECWID
    return None


def format_recognise(names: list[str], mapping: dict[str, str] | None = None) -> str:
    """Return the format of a header: a known one, or MAPPED when a column mapping is given.

    Raises :class:`ImportFileError` (``unknown_header``) for any other header: it is never
    guessed. A mapping is checked against the header first (``mapping_check``).
    """
    if mapping is not None:
        mapping_check(names, mapping)
        return MAPPED
    fmt = format_known(names)
    if fmt is None:
        shown = ", ".join(_clip(name) for name in names[:20] if name) or "—"
        raise ImportFileError(FILE_UNKNOWN_HEADER, code="unknown_header", params={"found": shown})
    return fmt


def columns_plan(names: list[str], fmt: str, mapping: dict[str, str] | None = None) -> ColumnPlan:
    """Map each column of a header of format ``fmt`` to its field, a secret or nothing."""
    columns = _mapped_columns(mapping) if fmt == MAPPED else FORMAT_COLUMNS[fmt]
    mapped = []
    ignored = []
    secret = set()
    for index, name in enumerate(names):
        target = columns.get(name)
        if target is None and fmt == SHOPIFY:
            target = _metafield(name)
        if target == PASSWORD:
            secret.add(index)
        elif target is None or target == IGNORED:
            if name:
                ignored.append(name)
        else:
            mapped.append((index, target, name))
    return ColumnPlan(
        format=fmt,
        mapped=tuple(mapped),
        ignored=tuple(ignored),
        secret=frozenset(secret),
        width=len(names),
    )


def _metafield(name: str) -> str | None:
    found = METAFIELD.search(name)
    return "date_of_birth" if found and BIRTH_METAFIELD.search(found.group(1)) else None


def _any(names: tuple[str, ...], present: set[str]) -> bool:
    return any(name in present for name in names)


# -- column mappings: {header as written: field}, for a file of no known format
MAPPING_IGNORE = "ignore"
# The fields a column can be mapped to, in the order the mapping page offers them.
MAPPING_FIELDS = {
    "email": _("Email"),
    "phone": _("Phone"),
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "full_name": _("Full name (split into first and last name)"),
    "company": _("Company"),
    "date_of_birth": _("Date of birth"),
    "email_consent": _("Accepts email marketing"),
    "sms_consent": _("Accepts SMS marketing"),
    "tax_exempt": _("Tax exempt"),
    "tags": _("Tags"),
    "note": _("Note"),
    "group": _("Group"),
    "username": _("Username (the other platform's customer id)"),
    "address_company": _("Address: company"),
    "address1": _("Address line 1"),
    "address2": _("Address line 2"),
    "city": _("City"),
    "province_code": _("Province / state code"),
    "postal_code": _("ZIP / postal code"),
    "country_code": _("Country (code or name)"),
    "address_phone": _("Address: phone"),
    "total_spent": _("Total spent on the previous platform"),
    "total_orders": _("Total orders on the previous platform"),
    "shopify_id": _("Shopify customer ID"),
    "status": _("Status (new customers only)"),
    "source": _("Source channel"),
    "email_consent_state": _("Email marketing status"),
    "sms_consent_state": _("SMS marketing status"),
    PASSWORD: _("Password (never imported)"),
}
MAPPING_NOT_IN_FILE = _("The mapping names the column %(column)s, which the file does not have.")
MAPPING_UNKNOWN_FIELD = _("The mapping maps %(column)s to %(field)s, which is not a field.")
MAPPING_FIELD_TWICE = _("The mapping maps two columns to %(field)s: %(columns)s.")
MAPPING_NO_KEY = _("Map a column to Email or to Phone: every customer needs one of them.")


def mapping_check(names: list[str], mapping: dict[str, str]) -> None:
    """Refuse a mapping that names no key column, a column twice or a column not in the file."""
    present = {name for name in names if name}
    by_field: dict[str, list[str]] = collections.defaultdict(list)
    for column, target in mapping.items():
        if column not in present:
            raise ImportFileError(
                MAPPING_NOT_IN_FILE, code="mapping_column", params={"column": _clip(column)}
            )
        if target == MAPPING_IGNORE:
            continue
        if target not in MAPPING_FIELDS:
            raise ImportFileError(
                MAPPING_UNKNOWN_FIELD,
                code="mapping_field",
                params={"column": _clip(column), "field": _clip(str(target))},
            )
        by_field[target].append(column)
    for target, columns in by_field.items():
        if len(columns) > 1 and target != PASSWORD:
            raise ImportFileError(
                MAPPING_FIELD_TWICE,
                code="mapping_twice",
                params={"field": MAPPING_FIELDS[target], "columns": ", ".join(columns)},
            )
    if not by_field.keys() & {"email", "phone"}:
        raise ImportFileError(MAPPING_NO_KEY, code="mapping_no_key")


def _mapped_columns(mapping: dict[str, str] | None) -> dict[str, str]:
    return {
        column: IGNORED if target == MAPPING_IGNORE else target
        for column, target in (mapping or {}).items()
    }


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
