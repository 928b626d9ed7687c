"""One record's cells -> a validated record: clean values, or the problems that reject it.

No database access: this stage runs in worker processes for big files (reading.py). Each field
family has its own reader; :func:`row_normalise` calls them in order (the address first, since
the phone is read with the row's country).
"""

from __future__ import annotations

import datetime
import decimal
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext_lazy as _

from customers.models import Address, Channel, Consent, Customer, Status, Tag
from customers.phones import phone_region, phone_to_e164_cached, store_region
from customers.services.exporting import cell_unescape
from customers.services.importing.formats import (
    MAPPED,
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
NOT_A_BOOLEAN = _(
    "%(column)s must be yes or no (or true/false, 1/0, subscribed/unsubscribed), not “%(value)s”."
)
NOT_AN_AMOUNT = _("%(column)s must be an amount such as 1234.50, not “%(value)s”.")
NOT_A_COUNT = _("%(column)s must be a whole number, not “%(value)s”.")
NOT_A_COUNTRY_NAME = _("%(column)s: “%(value)s” is not a country name or code we know.")
NUMBER_ROUNDED = _(
    "%(column)s holds %(value)s, a number a spreadsheet rounded: the digits are lost. Format "
    "the column as text in the spreadsheet and export it again."
)
SHIPSTATION_MISSING = _("ShipStation requires %(column)s.")
SHIPSTATION_NO_NAME = _(
    "ShipStation requires one of Full Name, First Name, Last Name or Company Name."
)

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
# What a mapped column may say (the policy's list; Square writes "Unknown" for no answer and
# "bounced" for an address that bounced: no consent either way, and not an error).
BOOLEANS = {
    **dict.fromkeys(("yes", "y", "true", "1", "subscribed", "oui", "si", "sí"), True),
    **dict.fromkeys(("no", "n", "false", "0", "unsubscribed", "non", "bounced"), False),
    "unknown": None,
}
# Cells where Shopify and Square put a leading ' to keep zeros and +: dropped whatever follows.
QUOTED_DIGITS = frozenset({"phone", "address_phone", "postal_code", "shopify_id"})
# A spreadsheet's number: exact as 2025550123.0, rounded as 7.02255E+12.
EXACT_NUMBER = re.compile(r"(\d+)\.0+")
ROUNDED_NUMBER = re.compile(r"\d+(?:[.,]\d+)?[eE]\+\d+")
MAX_TOTAL = decimal.Decimal("999999999999.99")
MAX_ORDERS = 2_147_483_647
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
    limits["shopify_id"] = Customer._meta.get_field("shopify_id").max_length
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
                if value and value[0] == "'":
                    value = value[1:].strip() if name in QUOTED_DIGITS else cell_unescape(value)
                if value:
                    self.raw[name] = value
                    self.headers[name] = header

    def get(self, name: str, default=None):
        return self.raw.get(name, default)

    def problem(self, message, name: str, **params) -> None:
        # "field" lets the message name the field in the reader's language beside the column.
        self.problems.append((message, {"column": self.headers[name], "field": name, **params}))

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
    _read_numbers_as_text(found)
    _read_email(row, found)
    _read_address(row, found)
    _read_phones(
        row, found, phone_region(country_code=row.address.get("country_code") or spec.region)
    )
    _read_names(row, found, spec)
    _read_flags_and_choices(row, found, lenient=spec.format == MAPPED)
    _read_date_and_group(row, found)
    _read_platform(row, found)
    _read_tags(row, found)
    row.note = found.get("note", "")
    if spec.format == SHIPSTATION:
        _check_shipstation(row, found)
    return row


def rows_normalise(start: int, batch: list[list[str]], spec: Spec) -> list[Row]:
    """Normalise consecutive records, numbered from ``start`` (a worker process's task)."""
    return [row_normalise(start + offset, cells, spec) for offset, cells in enumerate(batch)]


class _EagerEmailValidator(EmailValidator):
    """Django's email rule with its patterns compiled once: the lazy patterns of
    ``validate_email`` cost a quarter of a record's reading outside its phones."""

    user_regex = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
    domain_regex = re.compile(
        EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags
    )
    literal_regex = re.compile(
        EmailValidator.literal_regex.pattern, EmailValidator.literal_regex.flags
    )


validate_email = _EagerEmailValidator()


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


def _read_numbers_as_text(found: _Cells) -> None:
    """Give back the digits of a phone, ZIP or id a spreadsheet turned into a number."""
    for name in QUOTED_DIGITS & found.raw.keys():
        value = found.raw[name]
        exact = EXACT_NUMBER.fullmatch(value)
        if exact:
            found.raw[name] = exact.group(1)
        elif ROUNDED_NUMBER.fullmatch(value):
            found.problem(NUMBER_ROUNDED, name, value=value)
            del found.raw[name]


def _read_address(row: Row, found: _Cells) -> None:
    for name in ADDRESS_FIELDS:
        if name == "country_code":
            continue  # a code or a name: _read_country
        value = found.get(name)
        if value is not None and not found.too_long(name, value):
            row.address[name] = value
    _read_country(row, found)
    if "province_code" in row.address:
        row.address["province_code"] = row.address["province_code"].upper()
    elif "province_name" in found.raw:
        # Province Code wins; Shopify leaves it empty only where it has no code either.
        name = found.raw["province_name"]
        if len(name) <= found.limits["province_code"]:
            row.address["province_code"] = name.upper()


def _read_country(row: Row, found: _Cells) -> None:
    """Country Code wins over Country; a name (in English, French, Spanish...) gives its code."""
    column = "country_code" if "country_code" in found.raw else "country_name"
    value = found.raw.get(column, "")
    if not value:
        return
    code = value.upper() if len(value) == 2 and value.isascii() and value.isalpha() else ""
    code = code or country_code_for(value)
    if not code:
        message = NOT_A_COUNTRY if column == "country_code" and len(value) == 2 else None
        found.problem(message or NOT_A_COUNTRY_NAME, column, value=value)
    row.address["country_code"] = code
    if not code:
        del row.address["country_code"]


_countries: dict[str, str] = {}
COUNTRY_ALIASES = {
    "usa": "US",
    "united states of america": "US",
    "etats unis d amerique": "US",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "holland": "NL",
}


def country_code_for(name: str) -> str:
    """The ISO code of a country name in English, French, Spanish, German, Italian, ... or ""."""
    if not _countries:
        from phonenumbers.geodata.locale import LOCALE_DATA

        for code, names in LOCALE_DATA.items():
            for language in ("aa", "fr", "es", "de", "it", "nl", "pt", "ca"):
                label = names.get(language, "")
                while label.startswith("*"):
                    label = names.get(label[1:], "")
                if label and len(code) == 2:
                    _countries.setdefault(_plain_name(label), code)
        _countries.update(COUNTRY_ALIASES)
    return _countries.get(_plain_name(name), "")


def _plain_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


def _read_phones(row: Row, found: _Cells, region: str) -> None:
    for name in ("phone", "address_phone"):
        value = found.get(name)
        if value is None:
            continue
        e164 = phone_to_e164_cached(value, region)
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
        first, last = name_split(full)
        if len(first) > limits["first_name"] or len(last.strip()) > limits["last_name"]:
            found.problem(TOO_LONG, "full_name", limit=limits["full_name"])
        else:
            values["first_name"] = first
            if last.strip():
                values["last_name"] = last.strip()


# Lower-case particles that belong to the family name: "Jean de la Fontaine", "Ludwig van ...".
NAME_PARTICLES = frozenset(
    {"de", "la", "le", "du", "des", "del", "della", "di", "da", "dos", "das", "van", "von", "der"}
)


def name_split(full: str) -> tuple[str, str]:
    """Split a full name at its last space, keeping particles with the family name.

    "Jean Paul Dupont" -> ("Jean Paul", "Dupont"); "Jean de la Fontaine" -> ("Jean",
    "de la Fontaine"); one word is a first name.
    """
    words = full.split()
    cut = len(words) - 1
    while cut > 1 and words[cut - 1] in NAME_PARTICLES:
        cut -= 1
    return " ".join(words[:cut]) or full.strip(), " ".join(words[cut:]) if len(words) > 1 else ""


def _read_flags_and_choices(row: Row, found: _Cells, *, lenient: bool = False) -> None:
    values = row.values
    for name in ("email_consent", "sms_consent", "tax_exempt"):
        value = found.get(name)
        if value is None:
            continue
        spellings = BOOLEANS if lenient else YES_NO
        if value.lower() not in spellings:
            found.problem(NOT_A_BOOLEAN if lenient else NOT_YES_NO, name, value=value)
        elif spellings[value.lower()] is not None:
            values[name] = spellings[value.lower()]
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


def _read_platform(row: Row, found: _Cells) -> None:
    """The previous platform's id and totals (a Shopify export's Customer ID, Total Spent...)."""
    value = found.get("shopify_id")
    if value is not None and not found.too_long("shopify_id", value):
        row.values["shopify_id"] = value
    value = found.get("total_spent")
    if value is not None:
        amount = amount_parse(value)
        if amount is None:
            found.problem(NOT_AN_AMOUNT, "total_spent", value=value)
        else:
            row.values["previous_total_spent"] = amount
    value = found.get("total_orders")
    if value is not None:
        digits = value.replace(",", "").replace(" ", "")
        exact = EXACT_NUMBER.fullmatch(digits)
        digits = exact.group(1) if exact else digits
        if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_ORDERS:
            found.problem(NOT_A_COUNT, "total_orders", value=value)
        else:
            row.values["previous_total_orders"] = int(digits)


def amount_parse(value: str) -> decimal.Decimal | None:
    """``117800.00``, ``$1,234.56``, ``1 234,56 €`` -> a Decimal with two places, or None."""
    text = re.sub(r"[\s\u00a0\u202f$€£¥]|[A-Z]{3}", "", value)
    if "," in text and "." in text:
        # The separator written last is the decimal point.
        thousands = "," if text.rfind(",") < text.rfind(".") else "."
        text = text.replace(thousands, "").replace(",", ".")
    elif "," in text:
        head, _sep, tail = text.rpartition(",")
        text = f"{head.replace(',', '')}.{tail}" if len(tail) != 3 else text.replace(",", "")
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        return None
    amount = decimal.Decimal(text).quantize(decimal.Decimal("0.01"), decimal.ROUND_HALF_EVEN)
    return amount if abs(amount) <= MAX_TOTAL else None


def _read_tags(row: Row, found: _Cells) -> None:
    value = found.get("tags")
    if value is None:
        return
    seen: set[str] = set()
    for tag in value.split(","):
        # Mailchimp quotes each tag: """Editors""" is the cell "Editors".
        tag = tag.strip().strip('"').strip()
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
