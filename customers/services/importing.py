"""CSV import of customers: Shopify, Ecwid, ShipStation and our own export, one engine for all.

The rules are shared/IMPORT_POLICY.md. The file is streamed and worked in batches: each batch
costs one lookup query (locking the customers it matches), a few reads of their addresses, tags
and notes, and bulk inserts/updates, whatever its size. A rejected row writes nothing: every row is
validated in full before anything of its batch is written. The admin page and the
``import_customers`` command are adapters over :func:`customers_import`.
"""

from __future__ import annotations

import codecs
import collections
import csv
import datetime
import io
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from customers import addresses as address_rules
from customers.audit.events import Actor, customers_imported_events
from customers.db.bulk import ids_reserve, insert_fields, model_values, rows_insert
from customers.models import (
    EMAIL_TAKEN,
    Address,
    Channel,
    Consent,
    ConsentSource,
    Customer,
    Note,
    Status,
    Tag,
    TaggedCustomer,
)
from customers.phones import phone_region, phone_to_e164, store_region
from customers.selectors.matching import (
    EMAIL_ONLY,
    PHONE_ONLY,
    customer_match_key,
    customers_find_by_keys,
    matching_strategy,
)
from customers.services.consent import consent_apply
from customers.services.exporting import cell_unescape
from customers.services.tagging import tags_create
from groups.models import CustomerGroup
from groups.services import group_get_or_create

BATCH_SIZE = 2000
READ_CHUNK = 1 << 16
# Bounds a single cell (a 2-MB note is fine; a 100-MB "line" is not a customer record).
MAX_FIELD_BYTES = 16 * 2**20
PHONE_CACHE_SIZE = 200_000

# ---------------------------------------------------------------- messages (tests reuse them)
FILE_EMPTY = _("The file is empty.")
FILE_BINARY = _("This is not a text CSV file (it contains binary data).")
FILE_ENCODING = _(
    "The file is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8 and try again."
)
FILE_UNKNOWN_HEADER = _(
    "The first row is not a known header. Expected the columns of a Shopify customer CSV, an "
    "Ecwid customer import, a ShipStation CustomerImportSample.csv or this back office's export; "
    "found: %(found)s."
)
FILE_DUPLICATE_COLUMN = _("The header names the column %(column)s more than once.")
FILE_NO_ROWS = _("The file has a header but no customer rows.")
FILE_FIELD_TOO_LARGE = _("Record %(record)s has a cell larger than the %(limit)s MB allowed.")
FILE_CSV_BROKEN = _("The file is not valid CSV near record %(record)s: %(error)s.")

EMAIL_INVALID = _("Email “%(value)s” is not a valid email address.")
NO_KEY = _("The record has neither an email address nor a phone number.")
NO_KEY_EMAIL_ONLY = _(
    "The record has no email address, and this store matches customers on email only."
)
NO_KEY_PHONE_ONLY = _(
    "The record has no valid phone number, and this store matches customers on phone only."
)
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
MILITARY_ADDRESS = _("Invalid US military address: %(reasons)s")
CONFLICT = _(
    "Could not be saved because the same customers were changed at the same time; "
    "import the file again."
)

SKIP_ARCHIVED = _(
    "Matches customer #%(id)s, who is archived: unarchive the customer to update it by import."
)
SKIP_CHANNEL = _(
    "Matches customer #%(id)s, who comes from %(channel)s: a CSV updates only customers "
    "entered by hand or imported."
)

WARN_PASSWORD = _("The password column was ignored: passwords are never imported.")
WARN_IGNORED = _("Columns ignored: %(columns)s.")
WARN_STATUS = _(
    "The Status column only applies to new customers; existing customers keep their status "
    "(use the archive actions)."
)
WARN_GROUP_CREATED = _("Group created: %(name)s.")

CREATED, UPDATED, UNCHANGED, SKIPPED, ERROR = "created", "updated", "unchanged", "skipped", "error"


class ImportFileError(ValidationError):
    """The file as a whole cannot be imported; nothing was written."""


# ---------------------------------------------------------------- formats

SHOPIFY, ECWID, SHIPSTATION, BACKOFFICE = "shopify", "ecwid", "shipstation", "backoffice"
FORMAT_LABELS = {
    SHOPIFY: _("Shopify customer CSV"),
    ECWID: _("Ecwid customer import"),
    SHIPSTATION: _("ShipStation CustomerImportSample.csv"),
    BACKOFFICE: _("this back office's export"),
}
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
# What an update reads and may write of a stored customer (the rest stays unloaded).
LOADED_FIELDS = (
    *CUSTOMER_TEXT,
    "date_of_birth",
    "tax_exempt",
    "group",
    "email_consent",
    "sms_consent",
    "version",
)
CONSENT_STATES = frozenset(Consent.values)
STATUS_CHOICES = (Status.ACTIVE.value, Status.ARCHIVED.value)
CHANNEL_CHOICES = tuple(Channel.values)


def _limits() -> dict[str, int]:
    limits = {name: Customer._meta.get_field(name).max_length for name in CUSTOMER_TEXT}
    limits["email"] = Customer._meta.get_field("email").max_length
    for name in ADDRESS_FIELDS:
        limits[name] = Address._meta.get_field(ADDRESS_MODEL_FIELD[name]).max_length
    limits["tag"] = Tag._meta.get_field("name").max_length
    limits["full_name"] = limits["first_name"] + limits["last_name"]
    limits["group"] = 100
    return limits


# ---------------------------------------------------------------- reading the bytes


class _CountingReader(io.RawIOBase):
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


def _detect_encoding(raw: IO[bytes]) -> str:
    """Return "utf-8-sig" or "cp1252" after checking every byte of the file; rewind it."""
    raw.seek(0)
    head = raw.read(READ_CHUNK)
    if not head.strip() or head.strip() == codecs.BOM_UTF8:
        raise ImportFileError(FILE_EMPTY, code="empty")
    if _CONTROL.search(head):
        raise ImportFileError(FILE_BINARY, code="binary")
    encoding = "utf-8-sig"
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
        encoding = candidate
        break
    else:
        raise ImportFileError(FILE_ENCODING, code="encoding")
    raw.seek(0)
    return encoding


def _sniff_header(line: str) -> tuple[str, list[str]]:
    """Pick the delimiter that makes the first line the most known column names."""
    best: tuple[int, int, str, list[str]] | None = None
    for delimiter in (",", ";", "\t"):
        cells = next(csv.reader([line], delimiter=delimiter))
        names = [cell.strip() for cell in cells]
        score = (sum(name in KNOWN_HEADERS for name in names), len(names))
        if best is None or score > best[:2]:
            best = (*score, delimiter, names)
    return best[2], best[3]


def _recognise(names: list[str]) -> str:
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
    scores = {fmt: len(present & FORMAT_COLUMNS[fmt].keys())}
    mapped = {FORMAT_COLUMNS[fmt].get(name) for name in names}
    if not scores[fmt] or not mapped & {"email", "phone"}:
        shown = ", ".join(_clip(name) for name in names[:20] if name) or "—"
        raise ImportFileError(FILE_UNKNOWN_HEADER, code="unknown_header", params={"found": shown})
    return fmt


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(source: IO[bytes]) -> int:
    position = source.tell()
    size = source.seek(0, os.SEEK_END)
    source.seek(position)
    return size


# ---------------------------------------------------------------- one record -> clean values


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
    record: int
    email: str = ""
    phone: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    address: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    note: str = ""
    problems: list[tuple[Any, dict]] = field(default_factory=list)
    blank: bool = False


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


def normalise_row(record: int, cells: list[str], spec: Spec) -> Row:
    """Turn one record's cells into clean values and problems (no database access)."""
    row = Row(record=record)
    problems = row.problems
    if not any(cell.strip() for cell in cells):
        row.blank = True
        return row
    if len(cells) > spec.width and any(cell.strip() for cell in cells[spec.width :]):
        problems.append((TOO_MANY_CELLS, {"count": len(cells), "header": spec.width}))
        return row
    raw: dict[str, str] = {}
    headers: dict[str, str] = {}
    for index, name, header in spec.columns:
        if index < len(cells):
            value = cells[index].strip()
            if value:
                if value[0] == "'":
                    value = cell_unescape(value)
                raw[name] = value
                headers[name] = header
    limits = spec.limits
    values = row.values

    def too_long(name: str, value: str, limit_name: str | None = None) -> bool:
        limit = limits[limit_name or name]
        if len(value) > limit:
            problems.append((TOO_LONG, {"column": headers[name], "limit": limit}))
            return True
        return False

    email = raw.get("email", "").lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            problems.append((EMAIL_INVALID, {"value": raw["email"]}))
        else:
            if not too_long("email", email):
                row.email = email
    # Address cells first: the phone is read with the row's country.
    for name in ADDRESS_FIELDS:
        value = raw.get(name)
        if value is not None and not too_long(name, value):
            row.address[name] = value
    country = row.address.get("country_code", "").upper()
    if country:
        if len(country) != 2 or not country.isascii() or not country.isalpha():
            problems.append(
                (NOT_A_COUNTRY, {"column": headers["country_code"], "value": raw["country_code"]})
            )
            country = ""
        row.address["country_code"] = country
    if "province_code" in row.address:
        row.address["province_code"] = row.address["province_code"].upper()
    region = phone_region(country_code=country or spec.region)
    for name in ("phone", "address_phone"):
        value = raw.get(name)
        if value is None:
            continue
        e164 = _phone(value, region)
        if not e164:
            problems.append(
                (COLUMN_PHONE_INVALID, {"column": headers[name], "value": value.lstrip("'")})
            )
        elif name == "phone":
            row.phone = e164
        else:
            row.address["address_phone"] = e164
    for name in CUSTOMER_TEXT:
        value = raw.get(name)
        if value is not None and not too_long(name, value):
            values[name] = value
    if not spec.has_company and "address_company" in row.address:
        # Shopify has no customer company: its default address's company is the customer's.
        values.setdefault("company", row.address["address_company"][: limits["company"]])
    full = raw.get("full_name")
    if full and "first_name" not in values and "last_name" not in values:
        first, _sep, last = full.partition(" ")
        if len(first) > limits["first_name"] or len(last.strip()) > limits["last_name"]:
            problems.append(
                (TOO_LONG, {"column": headers["full_name"], "limit": limits["full_name"]})
            )
        else:
            values["first_name"] = first
            if last.strip():
                values["last_name"] = last.strip()
    for name in ("email_consent", "sms_consent", "tax_exempt"):
        value = raw.get(name)
        if value is not None:
            flag = YES_NO.get(value.lower())
            if flag is None:
                problems.append((NOT_YES_NO, {"column": headers[name], "value": value}))
            else:
                values[name] = flag
    for name in ("email_consent_state", "sms_consent_state"):
        value = raw.get(name)
        if value is not None:
            if value.lower() in CONSENT_STATES:
                values[name] = value.lower()
            else:
                problems.append(_choice_problem(headers[name], value, sorted(CONSENT_STATES)))
    for name, choices in (("status", STATUS_CHOICES), ("source", CHANNEL_CHOICES)):
        value = raw.get(name)
        if value is not None:
            if value.lower() in choices:
                values[name] = value.lower()
            else:
                problems.append(_choice_problem(headers[name], value, choices))
    value = raw.get("date_of_birth")
    if value is not None:
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError(value)
            values["date_of_birth"] = datetime.date.fromisoformat(value)
        except ValueError:
            problems.append((NOT_A_DATE, {"column": headers["date_of_birth"], "value": value}))
    value = raw.get("group")
    if value is not None and not too_long("group", value):
        values["group"] = value
    value = raw.get("tags")
    if value is not None:
        seen: set[str] = set()
        for tag in value.split(","):
            tag = tag.strip()
            if tag and tag.lower() not in seen:
                seen.add(tag.lower())
                if len(tag) > limits["tag"]:
                    problems.append((TOO_LONG, {"column": headers["tags"], "limit": limits["tag"]}))
                else:
                    row.tags.append(tag)
    row.note = raw.get("note", "")
    if spec.format == SHIPSTATION:
        for header in SHIPSTATION_REQUIRED:
            if SHIPSTATION_COLUMNS[header] not in raw:
                problems.append((SHIPSTATION_MISSING, {"column": header}))
        if not any(name in raw for name in SHIPSTATION_NAMES):
            problems.append((SHIPSTATION_NO_NAME, {}))
    return row


def _choice_problem(header: str, value: str, choices) -> tuple[Any, dict]:
    return (NOT_A_CHOICE, {"column": header, "value": value, "choices": ", ".join(choices)})


def normalise_batch(start: int, batch: list[list[str]], spec: Spec) -> list[Row]:
    """Normalise consecutive records (run in a worker process for big files)."""
    return [normalise_row(start + offset, cells, spec) for offset, cells in enumerate(batch)]


# ---------------------------------------------------------------- results


@dataclass
class RowReport:
    """What happened to one record: what the preview lists and the rejected-rows CSV holds."""

    record: int
    outcome: str
    key: str = ""
    customer_id: int | None = None
    changes: dict[str, list] = field(default_factory=dict)
    message: str = ""
    repeated: bool = False
    cells: list[str] | None = None


@dataclass
class RowError:
    record: int
    message: str


@dataclass
class ImportResult:
    file: str
    format: str = ""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    repeated_keys: int = 0
    dry_run: bool = False
    all_or_nothing: bool = False
    # False when nothing was written: a dry run, or all-or-nothing refused by an error.
    committed: bool = False
    header: list[str] = field(default_factory=list)
    fatal: str = ""

    @property
    def records(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped + len(self.errors)

    def as_json(self) -> dict[str, Any]:
        """The summary the command prints: what was (or, dry, would be) written."""
        refused = self.all_or_nothing and bool(self.errors)
        data = {
            "file": self.file,
            "format": self.format,
            "created": 0 if refused else self.created,
            "updated": 0 if refused else self.updated,
            "unchanged": 0 if refused else self.unchanged,
            "skipped": 0 if refused else self.skipped,
            "errors": [{"record": e.record, "message": e.message} for e in self.errors],
        }
        if self.fatal:
            data["errors"] = [{"record": 0, "message": self.fatal}]
        data["warnings"] = list(self.warnings)
        return data


def _message(problems: list[tuple[Any, dict]]) -> str:
    return " ".join(
        _sentence(str(message) % params if params else str(message)) for message, params in problems
    )


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", "»", "”")) else text + "."


# ---------------------------------------------------------------- the run


@dataclass
class _Touched:
    """A customer a batch creates or changes, and everything its rows add."""

    customer: Customer
    created: bool
    original: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, list] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    address: Address | None = None
    address_created: bool = False
    address_dirty: set[str] = field(default_factory=set)
    tag_ids: set[int] = field(default_factory=set)
    new_tags: list[str] = field(default_factory=list)
    notes: set[str] = field(default_factory=set)
    new_notes: list[str] = field(default_factory=list)
    records: list[int] = field(default_factory=list)


class _Run:
    def __init__(self, *, actor, result: ImportResult, on_row, strategy: str):
        self.actor = actor
        self.result = result
        self.on_row = on_row
        self.strategy = strategy
        self.now = timezone.now()
        self.seen: set[int] = set()
        self.tags: dict[str, int] | None = None  # lower-cased name -> id, loaded once
        self.groups: dict[str, int | None] = {}
        self.group_names: dict[int, str] = {}
        self.warned: set[str] = set()
        self.templates: dict[type, list] = {}

    # -- helpers
    def blank(self, model):
        """A new, unsaved instance with the field defaults.

        Built like Model.from_db builds loaded rows, from a dict of attribute values: the
        constructor's per-field work costs more than the rest of a new row's handling.
        """
        template = self.templates.get(model)
        if template is None:
            overrides = {
                Customer: {"source": Channel.CSV, "created_at": self.now, "updated_at": self.now},
                Address: {"is_default": True, "created_at": self.now},
            }[model]
            # Generated columns (the address matching key) are the database's to compute.
            fields = [f for f in model._meta.concrete_fields if not f.generated]
            reference = model(
                **{
                    f.attname: overrides.get(f.name, None if f.primary_key else f.get_default())
                    for f in fields
                }
            )
            template = self.templates[model] = {
                f.attname: reference.__dict__[f.attname] for f in fields
            }
        instance = model.__new__(model)
        instance.__dict__.update(template)
        instance._state = ModelState()
        return instance

    def warn(self, text: str) -> None:
        if text not in self.warned:
            self.warned.add(text)
            self.result.warnings.append(text)

    def report(self, row_report: RowReport) -> None:
        if self.on_row is not None:
            self.on_row(row_report)

    def reject(self, row: Row, cells: list[str], problems, key: str = "") -> None:
        message = _message(problems)
        self.result.errors.append(RowError(row.record, message))
        self.report(RowReport(row.record, ERROR, key=key, message=message, cells=cells))

    def tag_index(self) -> dict[str, int]:
        if self.tags is None:
            self.tags = {name.lower(): pk for pk, name in Tag.objects.values_list("pk", "name")}
        return self.tags

    def group_name(self, group_id: int | None) -> str:
        if group_id is None:
            return ""
        if group_id not in self.group_names:
            self.group_names.update(CustomerGroup.objects.values_list("pk", "name"))
        return self.group_names.get(group_id, "")

    def group_id(self, name: str) -> int | None:
        lower = name.lower()
        if lower not in self.groups:
            group, created = group_get_or_create(actor=self.actor, name=name)
            if created:
                self.warn(gettext(WARN_GROUP_CREATED) % {"name": group.name})
            self.groups[lower] = group.pk
        return self.groups[lower]

    # -- a batch
    def apply(self, batch: list[tuple[Row, list[str]]]) -> None:
        """Plan and write one batch in its own transaction (a savepoint inside a dry run)."""
        try:
            with transaction.atomic():
                reports = self._apply(batch)
        except IntegrityError:
            # The batch was rolled back: forget the tags and groups it may have created.
            self.tags = None
            self.groups.clear()
            reports = [
                RowReport(row.record, ERROR, message=_sentence(str(CONFLICT)), cells=cells)
                for row, cells in batch
                if not row.blank
            ]
            self.result.errors.extend(RowError(r.record, r.message) for r in reports)
            for report in reports:
                self.report(report)
            return
        reports.sort(key=lambda report: report.record)
        for report in reports:
            if report.outcome == ERROR:
                self.result.errors.append(RowError(report.record, report.message))
            else:
                setattr(self.result, report.outcome, getattr(self.result, report.outcome) + 1)
            self.report(report)

    def _apply(self, batch: list[tuple[Row, list[str]]]) -> list[RowReport]:
        strategy = self.strategy
        reports: list[RowReport] = []
        keyed: list[tuple[Row, list[str], tuple[str, str]]] = []
        for row, cells in batch:
            if row.blank:
                continue
            key = (
                None
                if row.problems
                else customer_match_key(email=row.email, phone=row.phone, strategy=strategy)
            )
            if not row.problems and key is None:
                missing = {EMAIL_ONLY: NO_KEY_EMAIL_ONLY, PHONE_ONLY: NO_KEY_PHONE_ONLY}
                row.problems.append((missing.get(strategy, NO_KEY), {}))
            if row.problems:
                reports.append(
                    RowReport(row.record, ERROR, message=_message(row.problems), cells=cells)
                )
                continue
            keyed.append((row, cells, key))
        emails = {row.email for row, _c, _k in keyed if row.email}
        phones = {key[1] for _r, _c, key in keyed if key[0] == "phone"}
        by_email, by_phone = customers_find_by_keys(
            emails=emails, phones=phones, lock=True, only=LOADED_FIELDS
        )
        stored_ids = {c.pk for c in (*by_email.values(), *by_phone.values())}
        addresses: dict[int, Address] = {}
        links: dict[int, set[int]] = collections.defaultdict(set)
        notes: dict[int, set[str]] = collections.defaultdict(set)
        if stored_ids:
            for address in Address.objects.filter(customer_id__in=stored_ids, is_default=True).only(
                "customer_id", *(ADDRESS_MODEL_FIELD[name] for name in ADDRESS_FIELDS)
            ):
                addresses[address.customer_id] = address
            for customer_id, tag_id in TaggedCustomer.objects.filter(
                content_object_id__in=stored_ids
            ).values_list("content_object_id", "tag_id"):
                links[customer_id].add(tag_id)
            bodies = {row.note for row, _c, _k in keyed if row.note}
            if bodies:
                for customer_id, body in Note.objects.filter(
                    customer_id__in=stored_ids, body__in=bodies
                ).values_list("customer_id", "body"):
                    notes[customer_id].add(body)

        touched: dict[int, _Touched] = {}  # stored customer id -> state
        live: dict[tuple[str, str], _Touched] = {}  # keys of the customers this batch touched
        order: list[_Touched] = []
        in_order: set[int] = set()
        report_states: list[tuple[RowReport, _Touched]] = []
        tag_index = self.tag_index()
        for row, cells, key in keyed:
            label = key[1]
            hashed = hash(key)
            repeated = hashed in self.seen
            self.seen.add(hashed)
            if repeated:
                self.result.repeated_keys += 1
            state = live.get(key)
            if state is None:
                stored = (by_email if key[0] == "email" else by_phone).get(key[1])
                if stored is not None:
                    if stored.status == Status.ARCHIVED:
                        reports.append(
                            self._skip(row, cells, label, stored, SKIP_ARCHIVED, repeated)
                        )
                        continue
                    if stored.source not in (Channel.MANUAL, Channel.CSV):
                        reports.append(
                            self._skip(row, cells, label, stored, SKIP_CHANNEL, repeated)
                        )
                        continue
                    state = touched.get(stored.pk)
                    if state is None:
                        state = touched[stored.pk] = _Touched(
                            customer=stored,
                            created=False,
                            address=addresses.get(stored.pk),
                            tag_ids=set(links.get(stored.pk, ())),
                            notes=set(notes.get(stored.pk, ())),
                        )
            # Check everything before changing anything: a rejected row writes nothing.
            problems = self._check(row, state, by_email, live)
            if problems:
                reports.append(
                    RowReport(
                        row.record,
                        ERROR,
                        key=label,
                        message=_message(problems),
                        cells=cells,
                        repeated=repeated,
                    )
                )
                continue
            if state is None:
                state = _Touched(customer=self.blank(Customer), created=True)
                self._fill_new(state, row)
                outcome, changes = CREATED, {}
            else:
                changes = self._fill_existing(state, row, tag_index)
                outcome = UPDATED if changes else UNCHANGED
            if id(state) not in in_order:
                in_order.add(id(state))
                order.append(state)
            customer = state.customer
            for kind, value in (("email", customer.email), ("phone", customer.phone)):
                if value:
                    live[(kind, value)] = state
            state.records.append(row.record)
            report = RowReport(row.record, outcome, key=label, changes=changes, repeated=repeated)
            reports.append(report)
            report_states.append((report, state))
        self._write(order, tag_index)
        for report, state in report_states:
            report.customer_id = state.customer.pk
        return reports

    def _skip(self, row, cells, label, stored, message, repeated) -> RowReport:
        params = {"id": stored.pk, "channel": stored.get_source_display()}
        return RowReport(
            row.record,
            SKIPPED,
            key=label,
            customer_id=stored.pk,
            message=_sentence(str(message) % params),
            repeated=repeated,
            cells=cells,
        )

    def _check(self, row: Row, state: _Touched | None, by_email, live) -> list:
        problems = []
        customer = state.customer if state else None
        if row.email and (customer is None or row.email != customer.email):
            other = live.get(("email", row.email))
            other_customer = other.customer if other else by_email.get(row.email)
            if other_customer is not None and not _same(other_customer, customer):
                problems.append((EMAIL_TAKEN, {}))
        current = {}
        if state is not None and state.address is not None:
            current = {
                name: getattr(state.address, ADDRESS_MODEL_FIELD[name]) for name in ADDRESS_FIELDS
            }
        merged = {**current, **row.address}
        errors = address_rules.military_address_errors(
            address1=merged.get("address1", ""),
            city=merged.get("city", ""),
            province_code=merged.get("province_code", ""),
            country_code=merged.get("country_code", ""),
            postal_code=merged.get("postal_code", ""),
        )
        if errors:
            reasons = " ".join(
                _sentence(str(message)) for error in errors.values() for message in error.messages
            )
            problems.append((MILITARY_ADDRESS, {"reasons": reasons}))
        return problems

    def _fill_new(self, state: _Touched, row: Row) -> None:
        customer = state.customer
        values = row.values
        customer.email = row.email
        customer.phone = row.phone
        for name in CUSTOMER_TEXT:
            if name in values:
                setattr(customer, name, values[name])
        customer.date_of_birth = values.get("date_of_birth")
        customer.tax_exempt = values.get("tax_exempt", False)
        customer.status = values.get("status", Status.ACTIVE)
        customer.source = values.get("source", Channel.CSV)
        if "group" in values:
            customer.group_id = self.group_id(values["group"])
        for channel in ("email", "sms"):
            state_value = values.get(f"{channel}_consent_state")
            if state_value is None:
                state_value = (
                    Consent.SUBSCRIBED
                    if values.get(f"{channel}_consent")
                    else Consent.NOT_SUBSCRIBED
                )
            consent_apply(
                customer=customer,
                channel=channel,
                state=state_value,
                source=ConsentSource.IMPORT,
                when=self.now,
            )
        if row.address:
            address = state.address = self.blank(Address)
            for name, value in row.address.items():
                setattr(address, ADDRESS_MODEL_FIELD[name], value)
            self._normalise_address(address)
            state.address_created = True
        state.new_tags = list(row.tags)
        if row.note:
            state.new_notes.append(row.note)
            state.notes.add(row.note)

    def _fill_existing(self, state: _Touched, row: Row, tag_index: dict[str, int]) -> dict:
        """Apply a row to a customer of the database or of this batch; return what it changed."""
        customer = state.customer
        values = row.values
        changes: dict[str, list] = {}

        def set_field(name: str, new) -> None:
            old = getattr(customer, name)
            if old != new:
                changes[name] = [_plain(old), _plain(new)]
                state.original.setdefault(name, old)
                setattr(customer, name, new)
                state.dirty.add(name)

        if row.email:
            set_field("email", row.email)
        if row.phone:
            set_field("phone", row.phone)
        for name in (*CUSTOMER_TEXT, "date_of_birth", "tax_exempt"):
            if name in values:
                set_field(name, values[name])
        if "group" in values:
            group_id = self.group_id(values["group"])
            if customer.group_id != group_id:
                changes["group"] = [self.group_name(customer.group_id), values["group"]]
                customer.group_id = group_id
                state.dirty.add("group")
        if "status" in values and values["status"] != customer.status and not state.created:
            self.warn(str(WARN_STATUS))
        for channel in ("email", "sms"):
            attr = f"{channel}_consent"
            new = values.get(f"{attr}_state")
            flag = values.get(attr)
            if new is None and flag is not None:
                if flag:
                    new = Consent.SUBSCRIBED
                elif getattr(customer, attr) == Consent.SUBSCRIBED:
                    new = Consent.UNSUBSCRIBED
            if new is not None and new != getattr(customer, attr):
                change = consent_apply(
                    customer=customer,
                    channel=channel,
                    state=new,
                    source=ConsentSource.IMPORT,
                    when=self.now,
                )
                if change:
                    changes[attr] = list(change)
                    state.dirty.update({attr, f"{attr}_updated_at", f"{attr}_source"})
        if row.address:
            if state.address is None:
                state.address = self.blank(Address)
                state.address.customer = customer
                state.address_created = True
            address = state.address
            before = {name: getattr(address, ADDRESS_MODEL_FIELD[name]) for name in ADDRESS_FIELDS}
            for name, value in row.address.items():
                setattr(address, ADDRESS_MODEL_FIELD[name], value)
            self._normalise_address(address)
            for name in ADDRESS_FIELDS:
                model_name = ADDRESS_MODEL_FIELD[name]
                new = getattr(address, model_name)
                if new != before[name]:
                    changes[f"address.{model_name}"] = [before[name], new]
                    state.address_dirty.add(model_name)
        added = []
        for tag in row.tags:
            tag_id = tag_index.get(tag.lower())
            if tag_id is not None and tag_id in state.tag_ids:
                continue
            if any(t.lower() == tag.lower() for t in state.new_tags):
                continue
            state.new_tags.append(tag)
            added.append(tag)
        if added:
            changes["tags_added"] = added
        if row.note and row.note not in state.notes:
            state.notes.add(row.note)
            state.new_notes.append(row.note)
            changes["note_added"] = row.note
        for name, change in changes.items():
            if name in state.changes and isinstance(change, list) and name != "tags_added":
                state.changes[name] = [state.changes[name][0], change[1]]
            elif name == "tags_added":
                state.changes.setdefault(name, []).extend(change)
            else:
                state.changes[name] = change
        return changes

    @staticmethod
    def _normalise_address(address: Address) -> None:
        normalised = address_rules.military_normalise(
            {
                "address1": address.address1,
                "city": address.city,
                "province_code": address.province_code,
                "country_code": address.country_code,
            }
        )
        for name, value in normalised.items():
            setattr(address, name, value)

    def _write(self, order: list[_Touched], tag_index: dict[str, int]) -> None:
        """Write a planned batch: a handful of bulk statements whatever its size."""
        if not order:
            return
        new = [s for s in order if s.created]
        if new:
            for state, pk in zip(new, ids_reserve(model=Customer, count=len(new)), strict=True):
                state.customer.pk = pk
            fields = insert_fields(Customer, with_pk=True)
            rows_insert(
                model=Customer,
                fields=fields,
                rows=[model_values(s.customer, fields) for s in new],
            )
        updated = [s for s in order if not s.created and (s.dirty or s.changes)]
        if updated:
            versions = {}
            for state in updated:
                versions[id(state)] = state.customer.version + 1
                state.customer.version = F("version") + 1
                state.customer.updated_at = self.now
            fields = set().union(*(s.dirty for s in updated)) | {"version", "updated_at"}
            Customer.objects.bulk_update(
                [s.customer for s in updated], sorted(fields), batch_size=500
            )
            for state in updated:
                # The rows are locked, so the stored version is the one we read plus one.
                state.customer.version = versions[id(state)]
        new_addresses = []
        for state in order:
            if state.address is not None and state.address_created:
                state.address.customer_id = state.customer.pk
                new_addresses.append(state.address)
        if new_addresses:
            fields = insert_fields(Address, with_pk=False)
            rows_insert(
                model=Address,
                fields=fields,
                rows=[model_values(address, fields) for address in new_addresses],
            )
        changed_addresses = [
            s for s in order if s.address is not None and not s.address_created and s.address_dirty
        ]
        if changed_addresses:
            Address.objects.bulk_update(
                [s.address for s in changed_addresses],
                sorted(set().union(*(s.address_dirty for s in changed_addresses))),
                batch_size=500,
            )
        self._create_tags(
            {t.lower(): t for s in order for t in s.new_tags if t.lower() not in tag_index},
            tag_index,
        )
        tag_links = [(s.customer.pk, tag_index[t.lower()]) for s in order for t in s.new_tags]
        if tag_links:
            rows_insert(
                model=TaggedCustomer,
                fields=("content_object_id", "tag_id"),
                rows=tag_links,
                ignore_conflicts=True,
            )
        new_notes = [(s.customer.pk, None, body, self.now) for s in order for body in s.new_notes]
        if new_notes:
            rows_insert(
                model=Note,
                fields=("customer_id", "author_id", "body", "created_at"),
                rows=new_notes,
            )
        data_by_customer = {}
        for state in order:
            if not (state.created or state.changes):
                continue
            data: dict[str, Any] = {
                "file": self.result.file,
                "format": self.result.format,
                "records": state.records,
            }
            if state.created:
                data["created"] = True
            else:
                data["changes"] = state.changes
            data_by_customer[state.customer.pk] = data
        if data_by_customer:
            customers_imported_events(actor=self.actor, data_by_customer=data_by_customer)
        for state in order:
            state.new_tags.clear()
            state.new_notes.clear()

    def _create_tags(self, missing: dict[str, str], tag_index: dict[str, int]) -> None:
        """Create the store's missing tags in bulk, with slugs that collide with nothing."""
        if not missing:
            return
        for name, tag in tags_create(names=missing.values()).items():
            tag_index[name.lower()] = tag.pk


def _same(a: Customer, b: Customer | None) -> bool:
    if b is None:
        return False
    return a is b or (a.pk is not None and a.pk == b.pk)


def _plain(value):
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


# ---------------------------------------------------------------- entry point


def customers_import(
    *,
    actor: Actor,
    source: IO[bytes],
    filename: str,
    dry_run: bool = False,
    all_or_nothing: bool = False,
    on_row: Callable[[RowReport], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    workers: int = 1,
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    """Import one CSV file of customers; return what happened.

    ``source`` is a seekable binary file; it is read twice (once to check its encoding), never
    whole into memory. Without ``dry_run`` or ``all_or_nothing`` each batch commits on its own, so
    the valid rows of a huge file are saved even if a later batch meets an error; with either, the
    run is one transaction that is rolled back at the end (dry run) or on the first error.
    ``on_row`` receives every record's :class:`RowReport` (the admin preview stores them);
    ``workers`` > 1 normalises records in that many forked processes (the command on big files).
    Raises :class:`ImportFileError` when the file cannot be read at all.
    """
    result = ImportResult(file=filename, dry_run=dry_run, all_or_nothing=all_or_nothing)
    strategy = matching_strategy()
    encoding = _detect_encoding(source)
    counting = _CountingReader(source)
    text = io.TextIOWrapper(
        io.BufferedReader(counting, READ_CHUNK), encoding=encoding, errors="strict", newline=""
    )
    try:
        line = text.readline()
        while line and not line.strip():
            line = text.readline()
        delimiter, names = _sniff_header(line)
        result.header = names
        duplicates = [
            name for name, n in collections.Counter(n for n in names if n).items() if n > 1
        ]
        if duplicates:
            raise ImportFileError(
                FILE_DUPLICATE_COLUMN, code="duplicate_column", params={"column": duplicates[0]}
            )
        result.format = fmt = _recognise(names)
        columns = FORMAT_COLUMNS[fmt]
        mapped = []
        ignored = []
        secret = set()
        for index, name in enumerate(names):
            target = columns.get(name)
            if target == PASSWORD:
                secret.add(index)
                result.warnings.append(str(WARN_PASSWORD))
            elif target is None:
                if name:
                    ignored.append(name)
            elif target != IGNORED:
                mapped.append((index, target, name))
        if ignored:
            result.warnings.append(str(WARN_IGNORED) % {"columns": ", ".join(ignored)})
        spec = Spec(
            format=fmt,
            columns=tuple(mapped),
            width=len(names),
            region=store_region(),
            limits=_limits(),
            has_company="company" in {target for _i, target, _h in mapped},
        )
        # A cell may be as large as the file (a 2-MB note on one line): length rules judge it.
        csv.field_size_limit(max(MAX_FIELD_BYTES, _size(source)))
        reader = csv.reader(text, delimiter=delimiter, strict=False)
        if secret:
            # A password is never stored nor echoed, not even in the rejected-rows file.
            result.header = [name for i, name in enumerate(names) if i not in secret]
            on_row = _without(on_row, secret)
        run = _Run(actor=actor, result=result, on_row=on_row, strategy=strategy)
        batches = _normalised(reader, spec, workers, batch_size)
        seen_rows = False
        if dry_run or all_or_nothing:
            with transaction.atomic():
                for batch in batches:
                    seen_rows = seen_rows or any(not row.blank for row, _cells in batch)
                    run.apply(batch)
                    if on_progress:
                        on_progress(counting.count)
                if not seen_rows:
                    raise ImportFileError(FILE_NO_ROWS, code="no_rows")
                result.committed = not dry_run and not result.errors
                if not result.committed:
                    transaction.set_rollback(True)
        else:
            for batch in batches:
                seen_rows = seen_rows or any(not row.blank for row, _cells in batch)
                run.apply(batch)
                if on_progress:
                    on_progress(counting.count)
            if not seen_rows:
                raise ImportFileError(FILE_NO_ROWS, code="no_rows")
            result.committed = True
    finally:
        text.detach()
    return result


def _without(on_row, secret: set[int]):
    if on_row is None:
        return None

    def report(row_report: RowReport) -> None:
        if row_report.cells is not None:
            row_report.cells = [c for i, c in enumerate(row_report.cells) if i not in secret]
        on_row(row_report)

    return report


def _raw_batches(reader, batch_size: int) -> Iterator[tuple[int, list[list[str]]]]:
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
                params={"record": record, "limit": MAX_FIELD_BYTES // 2**20},
            ) from exc
        raise ImportFileError(
            FILE_CSV_BROKEN, code="csv", params={"record": record, "error": exc}
        ) from exc
    except UnicodeDecodeError as exc:  # checked up front; a file changed while read
        raise ImportFileError(FILE_ENCODING, code="encoding") from exc
    if batch:
        yield start, batch


def _normalised(
    reader, spec: Spec, workers: int, batch_size: int
) -> Iterator[list[tuple[Row, list[str]]]]:
    """Yield batches of (normalised row, raw cells), normalising in worker processes if asked.

    Phone validation costs ~50 µs a number, the largest share of a row's cost: forked workers
    take it off the process that talks to the database. At most a few batches are in flight, so
    memory stays flat whatever the file size.
    """
    raw = _raw_batches(reader, batch_size)
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for start, batch in raw:
            yield list(zip(normalise_batch(start, batch, spec), batch, strict=True))
        return
    first = next(raw, None)
    if first is None:
        return
    second = next(raw, None)
    if second is None:
        yield list(zip(normalise_batch(first[0], first[1], spec), first[1], strict=True))
        return
    context = multiprocessing.get_context("fork")
    in_flight: collections.deque = collections.deque()
    with context.Pool(workers) as pool:

        def submit(item):
            start, batch = item
            in_flight.append((pool.apply_async(normalise_batch, (start, batch, spec)), batch))

        submit(first)
        submit(second)
        for item in raw:
            submit(item)
            while len(in_flight) > workers * 2:
                future, batch = in_flight.popleft()
                yield list(zip(future.get(), batch, strict=True))
        while in_flight:
            future, batch = in_flight.popleft()
            yield list(zip(future.get(), batch, strict=True))


def default_workers() -> int:
    """Worker processes the command uses: the setting, else the machine's cores (at most 4)."""
    configured = getattr(settings, "BACKOFFICE_IMPORT_WORKERS", None)
    if configured is not None:
        return max(1, int(configured))
    return max(1, min(4, os.cpu_count() or 1))


def describe(result: ImportResult) -> str:
    """One sentence with the totals, for messages and the command's plain output."""
    return ngettext(
        "%(created)s created, %(updated)s updated, %(unchanged)s unchanged, %(skipped)s skipped, "
        "%(errors)s record rejected.",
        "%(created)s created, %(updated)s updated, %(unchanged)s unchanged, %(skipped)s skipped, "
        "%(errors)s records rejected.",
        len(result.errors),
    ) % {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "skipped": result.skipped,
        "errors": len(result.errors),
    }
