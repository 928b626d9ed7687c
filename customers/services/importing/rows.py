"""One record's cells -> a validated record: clean values, or the problems that reject it.

No database access: this stage runs in worker processes for big files (reading.py). Each field
family has its own reader; :func:`row_normalise` calls them in order (the address first, since
the phone is read with the row's country).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from customers.models import Address, Channel, Consent, Customer, Status, Tag
from customers.phones import phone_region, phone_to_e164, store_region
from customers.services.exporting import cell_unescape
from customers.services.importing.formats import (
    SHIPSTATION,
    SHIPSTATION_COLUMNS,
    SHIPSTATION_NAMES,
    SHIPSTATION_REQUIRED,
    ColumnPlan,
)
from customers.services.importing.results import Problem

EMAIL_INVALID = _("Email “%(value)s” is not a valid email address.")
COLUMN_PHONE_INVALID = _("%(column)s: %(value)s is not a valid phone number.")
TOO_LONG = _("%(column)s is longer than %(limit)s characters.")
NOT_YES_NO = _("%(column)s must be yes or no, not “%(value)s”.")
NOT_A_DATE = _("%(column)s must be a date written YYYY-MM-DD, not “%(value)s”.")
NOT_A_COUNTRY = _("%(column)s must be a two-letter country code such as FR or US, not “%(value)s”.")
NOT_A_CHOICE = _("%(column)s must be one of %(choices)s, not “%(value)s”.")
TOO_MANY_CELLS = _("The record has %(count)s cells but the header has %(header)s.")
SHIPSTATION_MISSING = _("ShipStation requires %(column)s.")
SHIPSTATION_NO_NAME = _(
    "ShipStation requires one of Full Name, First Name, Last Name or Company Name."
)

PHONE_CACHE_SIZE = 200_000

# The record's fields (what formats map columns to) that are plain customer text.
CUSTOMER_TEXT = ("first_name", "last_name", "company", "username")
ADDRESS_FIELDS = (
    "address_company",
    "address1",
    "address2",
    "city",
    "province_code",
    "country_code",
    "postal_code",
    "address_phone",
)
# Our field name -> the Address model's.
ADDRESS_MODEL_FIELD = {name: name for name in ADDRESS_FIELDS} | {
    "address_company": "company",
    "address_phone": "phone",
}
YES_NO = {"yes": True, "no": False}
CONSENT_STATES = frozenset(Consent.values)
STATUS_CHOICES = (Status.ACTIVE.value, Status.ARCHIVED.value)
CHANNEL_CHOICES = tuple(Channel.values)


@dataclass(frozen=True)
class Spec:
    """What a worker needs to normalise records of one file (small and picklable)."""

    format: str
    columns: tuple[tuple[int, str, str], ...]  # (index, field, header as written)
    width: int
    region: str
    limits: dict[str, int]
    has_company: bool


@dataclass
class Row:
    """One record, validated: clean values ready to plan, or the problems that reject it."""

    record: int
    email: str = ""
    phone: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    address: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    note: str = ""
    problems: list[Problem] = field(default_factory=list)
    blank: bool = False


def field_limits() -> dict[str, int]:
    """The longest value each field takes, from the models."""
    limits = {name: Customer._meta.get_field(name).max_length for name in CUSTOMER_TEXT}
    limits["email"] = Customer._meta.get_field("email").max_length
    for name in ADDRESS_FIELDS:
        limits[name] = Address._meta.get_field(ADDRESS_MODEL_FIELD[name]).max_length
    limits["tag"] = Tag._meta.get_field("name").max_length
    limits["full_name"] = limits["first_name"] + limits["last_name"]
    limits["group"] = 100
    return limits


def spec_build(columns: ColumnPlan) -> Spec:
    """What the workers need to know of a file to normalise its records."""
    return Spec(
        format=columns.format,
        columns=columns.mapped,
        width=columns.width,
        region=store_region(),
        limits=field_limits(),
        has_company="company" in {target for _i, target, _h in columns.mapped},
    )


_phone_cache: dict[tuple[str, str], str] = {}


def _phone(raw: str, region: str) -> str:
    """phone_to_e164 with a memo: a file repeats the same numbers (households, re-imports)."""
    key = (raw, region)
    found = _phone_cache.get(key)
    if found is None:
        if len(_phone_cache) >= PHONE_CACHE_SIZE:
            _phone_cache.clear()
        found = _phone_cache[key] = phone_to_e164(raw, region) or ""
    return found


class _Cells:
    """A record's non-empty cells by field, with the header each came from."""

    def __init__(self, cells: list[str], spec: Spec, problems: list[Problem]):
        self.raw: dict[str, str] = {}
        self.headers: dict[str, str] = {}
        self.limits = spec.limits
        self.problems = problems
        for index, name, header in spec.columns:
            if index < len(cells):
                value = cells[index].strip()
                if value:
                    if value[0] == "'":
                        value = cell_unescape(value)
                    self.raw[name] = value
                    self.headers[name] = header

    def get(self, name: str, default=None):
        return self.raw.get(name, default)

    def problem(self, message, name: str, **params) -> None:
        self.problems.append((message, {"column": self.headers[name], **params}))

    def too_long(self, name: str, value: str, limit_name: str | None = None) -> bool:
        limit = self.limits[limit_name or name]
        if len(value) > limit:
            self.problem(TOO_LONG, name, limit=limit)
            return True
        return False


def row_normalise(record: int, cells: list[str], spec: Spec) -> Row:
    """Turn one record's cells into clean values and problems (no database access)."""
    row = Row(record=record)
    if not any(cell.strip() for cell in cells):
        row.blank = True
        return row
    if len(cells) > spec.width and any(cell.strip() for cell in cells[spec.width :]):
        row.problems.append((TOO_MANY_CELLS, {"count": len(cells), "header": spec.width}))
        return row
    found = _Cells(cells, spec, row.problems)
    _read_email(row, found)
    _read_address(row, found)
    _read_phones(
        row, found, phone_region(country_code=row.address.get("country_code") or spec.region)
    )
    _read_names(row, found, spec)
    _read_flags_and_choices(row, found)
    _read_date_and_group(row, found)
    _read_tags(row, found)
    row.note = found.get("note", "")
    if spec.format == SHIPSTATION:
        _check_shipstation(row, found)
    return row


def rows_normalise(start: int, batch: list[list[str]], spec: Spec) -> list[Row]:
    """Normalise consecutive records, numbered from ``start`` (a worker process's task)."""
    return [row_normalise(start + offset, cells, spec) for offset, cells in enumerate(batch)]


def _read_email(row: Row, found: _Cells) -> None:
    email = found.get("email", "").lower()
    if not email:
        return
    try:
        validate_email(email)
    except ValidationError:
        row.problems.append((EMAIL_INVALID, {"value": found.raw["email"]}))
    else:
        if not found.too_long("email", email):
            row.email = email


def _read_address(row: Row, found: _Cells) -> None:
    for name in ADDRESS_FIELDS:
        value = found.get(name)
        if value is not None and not found.too_long(name, value):
            row.address[name] = value
    country = row.address.get("country_code", "").upper()
    if country:
        if len(country) != 2 or not country.isascii() or not country.isalpha():
            found.problem(NOT_A_COUNTRY, "country_code", value=found.raw["country_code"])
            country = ""
        row.address["country_code"] = country
    if "province_code" in row.address:
        row.address["province_code"] = row.address["province_code"].upper()


def _read_phones(row: Row, found: _Cells, region: str) -> None:
    for name in ("phone", "address_phone"):
        value = found.get(name)
        if value is None:
            continue
        e164 = _phone(value, region)
        if not e164:
            found.problem(COLUMN_PHONE_INVALID, name, value=value.lstrip("'"))
        elif name == "phone":
            row.phone = e164
        else:
            row.address["address_phone"] = e164


def _read_names(row: Row, found: _Cells, spec: Spec) -> None:
    values, limits = row.values, spec.limits
    for name in CUSTOMER_TEXT:
        value = found.get(name)
        if value is not None and not found.too_long(name, value):
            values[name] = value
    if not spec.has_company and "address_company" in row.address:
        # Shopify has no customer company: its default address's company is the customer's.
        values.setdefault("company", row.address["address_company"][: limits["company"]])
    full = found.get("full_name")
    if full and "first_name" not in values and "last_name" not in values:
        first, _sep, last = full.partition(" ")
        if len(first) > limits["first_name"] or len(last.strip()) > limits["last_name"]:
            found.problem(TOO_LONG, "full_name", limit=limits["full_name"])
        else:
            values["first_name"] = first
            if last.strip():
                values["last_name"] = last.strip()


def _read_flags_and_choices(row: Row, found: _Cells) -> None:
    values = row.values
    for name in ("email_consent", "sms_consent", "tax_exempt"):
        value = found.get(name)
        if value is not None:
            flag = YES_NO.get(value.lower())
            if flag is None:
                found.problem(NOT_YES_NO, name, value=value)
            else:
                values[name] = flag
    choices_by_field = (
        ("email_consent_state", sorted(CONSENT_STATES)),
        ("sms_consent_state", sorted(CONSENT_STATES)),
        ("status", STATUS_CHOICES),
        ("source", CHANNEL_CHOICES),
    )
    for name, choices in choices_by_field:
        value = found.get(name)
        if value is not None:
            if value.lower() in choices:
                values[name] = value.lower()
            else:
                found.problem(NOT_A_CHOICE, name, value=value, choices=", ".join(choices))


def _read_date_and_group(row: Row, found: _Cells) -> None:
    value = found.get("date_of_birth")
    if value is not None:
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError(value)
            row.values["date_of_birth"] = datetime.date.fromisoformat(value)
        except ValueError:
            found.problem(NOT_A_DATE, "date_of_birth", value=value)
    value = found.get("group")
    if value is not None and not found.too_long("group", value):
        row.values["group"] = value


def _read_tags(row: Row, found: _Cells) -> None:
    value = found.get("tags")
    if value is None:
        return
    seen: set[str] = set()
    for tag in value.split(","):
        tag = tag.strip()
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            if not found.too_long("tags", tag, "tag"):
                row.tags.append(tag)


def _check_shipstation(row: Row, found: _Cells) -> None:
    for header in SHIPSTATION_REQUIRED:
        if SHIPSTATION_COLUMNS[header] not in found.raw:
            row.problems.append((SHIPSTATION_MISSING, {"column": header}))
    if not any(name in found.raw for name in SHIPSTATION_NAMES):
        row.problems.append((SHIPSTATION_NO_NAME, {}))
