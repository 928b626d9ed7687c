"""Planning a batch: match its validated rows against the database and decide each outcome.

For each row: its key; the stored customer it designates (locked, in primary-key order); skip,
reject, create or update; the values it changes. Nothing is written here (write.py does it), so
a rejected row writes nothing. :class:`Run` carries what one import learns across its batches.
"""

from __future__ import annotations

import collections
import datetime
import decimal
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection
from django.db.models import F
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from customers import addresses as address_rules
from customers.audit.events import Actor
from customers.db.bulk import IdIn
from customers.db.locks import selection_lock
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
from customers.selectors.matching import (
    EMAIL_ONLY,
    PHONE_ONLY,
    customer_match_key,
    customers_find_by_keys,
    instances_from_rows,
)
from customers.services.consent import consent_apply
from customers.services.importing.reading import Batch
from customers.services.importing.results import (
    CREATED,
    ERROR,
    FROM_CHANNEL,
    SKIPPED,
    UNCHANGED,
    UPDATED,
    ImportResult,
    Problem,
    RowReport,
    problems_message,
    sentence,
)
from customers.services.importing.rows import (
    ADDRESS_FIELDS,
    ADDRESS_MODEL_FIELD,
    CUSTOMER_TEXT,
    Row,
)
from groups.models import CustomerGroup
from groups.services import group_get_or_create

NO_KEY = _("The record has neither an email address nor a phone number.")
NO_KEY_EMAIL_ONLY = _(
    "The record has no email address, and this store matches customers on email only."
)
NO_KEY_PHONE_ONLY = _(
    "The record has no valid phone number, and this store matches customers on phone only."
)
MILITARY_ADDRESS = _("Invalid US military address: %(reasons)s")
SKIP_ARCHIVED = _(
    "Matches customer #%(id)s, who is archived: unarchive the customer to update it by import."
)
SKIP_CHANNEL = _(
    "Matches customer #%(id)s, who comes from %(channel)s: a CSV updates only customers "
    "entered by hand or imported."
)
WARN_STATUS = _(
    "The Status column only applies to new customers; existing customers keep their status "
    "(use the archive actions)."
)
WARN_GROUP_CREATED = _("Group created: %(name)s.")
WARN_MANY_NEW_TAGS = _(
    "The file brings more than %(limit)s new tags: each one becomes a tag of the store and a "
    "choice in the customer list's tag filter. Check the Tags column before you confirm."
)

# What an update reads and may write of a stored customer (the rest stays unloaded).
# The previous platform's id and totals: a non-empty cell overwrites them like any field.
PLATFORM_FIELDS = ("shopify_id", "previous_total_spent", "previous_total_orders")
LOADED_FIELDS = (
    *CUSTOMER_TEXT,
    *PLATFORM_FIELDS,
    "date_of_birth",
    "tax_exempt",
    "group",
    "email_consent",
    "sms_consent",
    "version",
)
# Keys looked up per query when a whole file's customers are locked up front.
LOCK_CHUNK = 2000
# Rounds of "read, lock what is new, read again" before a batch gives up as a conflict.
LOCK_ROUNDS = 3
# Any constant works: every import asks for the same one (pg_advisory_xact_lock's bigint).
IMPORT_LOCK_KEY = 0x637573746D727349

Key = tuple[str, str]


@dataclass
class CustomerChange:
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


@dataclass
class Run:
    """One import across its batches: who runs it, what it has seen, its caches and locks."""

    actor: Actor
    result: ImportResult
    strategy: str
    now: datetime.datetime = field(default_factory=timezone.now)
    seen: set[int] = field(default_factory=set)  # hashes of the keys met so far
    tags: dict[str, int] | None = None  # lower-cased name -> id, loaded once
    groups: dict[str, int | None] = field(default_factory=dict)
    group_names: dict[int, str] = field(default_factory=dict)
    templates: dict[type, dict] = field(default_factory=dict)
    locked: set[int] = field(default_factory=set)  # customers the transaction holds locked
    new_tag_names: set[str] = field(default_factory=set)  # lower-cased, the store lacks them

    def tag_index(self) -> dict[str, int]:
        if self.tags is None:
            self.tags = {name.lower(): pk for pk, name in Tag.objects.values_list("pk", "name")}
        return self.tags

    def tags_count_new(self, names: list[str]) -> None:
        """Count the tags of the file the store lacks; warn once past the setting's number."""
        index = self.tag_index()
        added = False
        for name in names:
            lower = name.lower()
            # Once a batch has written its tags they are known: most rows add nothing here.
            if lower not in index and lower not in self.new_tag_names:
                self.new_tag_names.add(lower)
                added = True
        limit = settings.BACKOFFICE_IMPORT_NEW_TAGS_WARNING
        if added and len(self.new_tag_names) > limit:
            self.result.warn(gettext(WARN_MANY_NEW_TAGS) % {"limit": limit})

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
                self.result.warn(gettext(WARN_GROUP_CREATED) % {"name": group.name})
            self.groups[lower] = group.pk
        return self.groups[lower]

    def forget_writes(self) -> None:
        """Forget the tags and groups a rolled-back batch may have created."""
        self.tags = None
        self.groups.clear()

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


@dataclass
class Stored:
    """The batch's customers as stored: matched by key, with their address, tags and notes."""

    by_email: dict[str, Customer]
    by_phone: dict[str, Customer]
    addresses: dict[int, Address] = field(default_factory=dict)
    links: dict[int, set[int]] = field(default_factory=lambda: collections.defaultdict(set))
    notes: dict[int, set[str]] = field(default_factory=lambda: collections.defaultdict(set))

    def match(self, key: Key) -> Customer | None:
        return (self.by_email if key[0] == "email" else self.by_phone).get(key[1])


@dataclass
class BatchPlan:
    """What a batch will do: every record's report and the customers to write, in file order."""

    reports: list[RowReport] = field(default_factory=list)
    order: list[CustomerChange] = field(default_factory=list)
    placed: list[tuple[RowReport, CustomerChange]] = field(default_factory=list)


# ---------------------------------------------------------------- keys and locks


def row_key(row: Row, strategy: str) -> Key | None:
    """The key a valid row is matched on under the store's matching setting, if it has one."""
    return customer_match_key(email=row.email, phone=row.phone, strategy=strategy)


def keys_wanted(keyed: list[tuple[Row, Key]]) -> tuple[set[str], set[str]]:
    """The emails and phones to look up for these rows.

    Every email is looked up, even on a row matched by phone: another customer holding it
    rejects the row.
    """
    emails = {row.email for row, _key in keyed if row.email}
    phones = {key[1] for _row, key in keyed if key[0] == "phone"}
    return emails, phones


def batch_keys(batch: Batch, strategy: str) -> tuple[set[str], set[str]]:
    """The emails and phones a batch's valid rows will look up (to lock them ahead)."""
    keyed = []
    for row, _cells in batch:
        if not row.blank and not row.problems and (key := row_key(row, strategy)) is not None:
            keyed.append((row, key))
    return keys_wanted(keyed)


def imports_serialise() -> None:
    """Make imports wait for each other until this transaction ends.

    Matching a key and creating its customer must be one step: two imports creating the
    same phone-keyed customer at once would make two (phones carry no unique constraint).
    On SQLite the IMMEDIATE transactions already serialise every writer.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK_KEY])


def customers_lock_all(*, emails: set[str], phones: set[str], run: Run) -> None:
    """Lock every customer these keys designate, in primary-key order, before any write.

    A run in one transaction (dry run, all-or-nothing) keeps every lock to its end: locking
    batch by batch would lock in file order and deadlock with a bulk action.
    """
    if not connection.features.has_select_for_update:
        return
    ids: set[int] = set()
    for kind, keys in (("emails", sorted(emails)), ("phones", sorted(phones))):
        for start in range(0, len(keys), LOCK_CHUNK):
            found = customers_find_by_keys(**{kind: keys[start : start + LOCK_CHUNK]}, only=())
            ids |= _ids(*found)
    run.locked.update(selection_lock(ids - run.locked))


def customers_match_locked(
    *, emails: set[str], phones: set[str], run: Run
) -> tuple[dict[str, Customer], dict[str, Customer]]:
    """Find the customers the keys designate, locked in primary-key order and read under lock.

    The keys are resolved first (merge chains included), the customers not yet held are
    locked in one ordered statement, then read again: what was read before the lock may have
    changed. A key that moves to another customer meanwhile is locked in a further round.
    """
    if not connection.features.has_select_for_update:
        # SQLite: the IMMEDIATE transaction already excludes every other writer.
        return customers_find_by_keys(emails=emails, phones=phones, only=LOADED_FIELDS)
    for _round in range(LOCK_ROUNDS):
        found = customers_find_by_keys(emails=emails, phones=phones, only=LOADED_FIELDS)
        missing = _ids(*found) - run.locked
        if not missing:
            return found
        run.locked.update(selection_lock(missing))
    raise IntegrityError("the customers matching this batch kept changing")


def _ids(by_email: dict[str, Customer], by_phone: dict[str, Customer]) -> set[int]:
    return {customer.pk for customer in (*by_email.values(), *by_phone.values())}


def stored_load(*, emails: set[str], phones: set[str], notes: set[str], run: Run) -> Stored:
    """Lock and load the batch's stored customers with their default address, tags and notes.

    A handful of queries whatever the batch size: one per kind of thing read.
    """
    stored = Stored(*customers_match_locked(emails=emails, phones=phones, run=run))
    ids = _ids(stored.by_email, stored.by_phone)
    if not ids:
        return stored
    # IdIn writes the ids into the SQL: ``__in`` prepares each of them in Python.
    addresses = Address.objects.filter(IdIn(F("customer_id"), ids), is_default=True)
    rows = addresses.values_list(*ADDRESS_LOADED)
    for address in instances_from_rows(Address, ADDRESS_LOADED, rows):
        stored.addresses[address.customer_id] = address
    links = TaggedCustomer.objects.filter(IdIn(F("content_object_id"), ids))
    for customer_id, tag_id in links.values_list("content_object_id", "tag_id"):
        stored.links[customer_id].add(tag_id)
    if notes:
        found = Note.objects.filter(IdIn(F("customer_id"), ids), body__in=notes)
        for customer_id, body in found.values_list("customer_id", "body"):
            stored.notes[customer_id].add(body)
    return stored


# What an update reads of a stored default address (the rest stays unloaded, as with only()).
ADDRESS_LOADED = ("id", "customer_id", *(ADDRESS_MODEL_FIELD[name] for name in ADDRESS_FIELDS))


# ---------------------------------------------------------------- a batch


def batch_plan(batch: Batch, run: Run) -> BatchPlan:
    """Decide what each record of a batch does, in file order; write nothing."""
    plan = BatchPlan()
    keyed = _split_keyed(batch, run.strategy, plan)
    emails, phones = keys_wanted([(row, key) for row, _cells, key in keyed])
    notes = {row.note for row, _cells, _key in keyed if row.note}
    stored = stored_load(emails=emails, phones=phones, notes=notes, run=run)
    changes: dict[int, CustomerChange] = {}  # stored customer id -> its change
    live: dict[Key, CustomerChange] = {}  # keys of the customers this batch touched
    placed: set[int] = set()
    for row, cells, key in keyed:
        repeated = hash(key) in run.seen
        run.seen.add(hash(key))
        if repeated:
            run.result.repeated_keys += 1
        change = live.get(key)
        if change is None:
            customer = stored.match(key)
            if customer is not None:
                skip = skip_reason(customer)
                if skip is not None:
                    plan.reports.append(_skipped(row, cells, key, customer, skip, repeated))
                    continue
                if customer.pk not in changes:
                    changes[customer.pk] = _change_of_stored(customer, stored)
                change = changes[customer.pk]
        # Check everything before changing anything: a rejected row writes nothing.
        problems = row_check(row, change, stored.by_email, live)
        if problems:
            plan.reports.append(_rejected(row, cells, problems, key[1], repeated))
            continue
        report, change = row_apply(row, change, key, repeated, run)
        if id(change) not in placed:
            placed.add(id(change))
            plan.order.append(change)
        for kind, value in (("email", change.customer.email), ("phone", change.customer.phone)):
            if value:
                live[(kind, value)] = change
        plan.reports.append(report)
        plan.placed.append((report, change))
    return plan


def _split_keyed(batch: Batch, strategy: str, plan: BatchPlan) -> list[tuple[Row, list, Key]]:
    """Report the rows already rejected (or without a key); return the others with their key."""
    keyed = []
    missing = {EMAIL_ONLY: NO_KEY_EMAIL_ONLY, PHONE_ONLY: NO_KEY_PHONE_ONLY}
    for row, cells in batch:
        if row.blank:
            continue
        key = None if row.problems else row_key(row, strategy)
        if not row.problems and key is None:
            row.problems.append((missing.get(strategy, NO_KEY), {}))
        if row.problems:
            plan.reports.append(_rejected(row, cells, row.problems))
            continue
        keyed.append((row, cells, key))
    return keyed


def skip_reason(customer: Customer):
    """Why a CSV row may not update this stored customer, or None when it may."""
    if customer.status == Status.ARCHIVED:
        return SKIP_ARCHIVED
    if customer.source not in (Channel.MANUAL, Channel.CSV):
        return SKIP_CHANNEL
    return None


def _change_of_stored(customer: Customer, stored: Stored) -> CustomerChange:
    return CustomerChange(
        customer=customer,
        created=False,
        address=stored.addresses.get(customer.pk),
        tag_ids=set(stored.links.get(customer.pk, ())),
        notes=set(stored.notes.get(customer.pk, ())),
    )


def _skipped(row: Row, cells, key: Key, customer: Customer, message, repeated) -> RowReport:
    params = {"id": customer.pk, "channel": customer.get_source_display()}
    return RowReport(
        row.record,
        SKIPPED,
        key=key[1],
        customer_id=customer.pk,
        message=sentence(str(message) % params),
        repeated=repeated,
        cells=cells,
        reason=FROM_CHANNEL if message is SKIP_CHANNEL else "",
    )


def _rejected(row: Row, cells, problems, label: str = "", repeated: bool = False) -> RowReport:
    return RowReport(
        row.record,
        ERROR,
        key=label,
        message=problems_message(problems),
        cells=cells,
        repeated=repeated,
    )


def row_check(
    row: Row,
    change: CustomerChange | None,
    by_email: dict[str, Customer],
    live: dict[Key, CustomerChange],
) -> list[Problem]:
    """The problems that reject a valid row given what is stored: a taken email, a military
    address made invalid by the cells it fills in."""
    problems = []
    customer = change.customer if change else None
    if row.email and (customer is None or row.email != customer.email):
        other = live.get(("email", row.email))
        other_customer = other.customer if other else by_email.get(row.email)
        if other_customer is not None and not _same(other_customer, customer):
            problems.append((EMAIL_TAKEN, {}))
    current = {}
    if change is not None and change.address is not None:
        current = {
            name: getattr(change.address, ADDRESS_MODEL_FIELD[name]) for name in ADDRESS_FIELDS
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
            sentence(str(message)) for error in errors.values() for message in error.messages
        )
        problems.append((MILITARY_ADDRESS, {"reasons": reasons}))
    return problems


def _same(a: Customer, b: Customer | None) -> bool:
    if b is None:
        return False
    return a is b or (a.pk is not None and a.pk == b.pk)


def row_apply(
    row: Row, change: CustomerChange | None, key: Key, repeated: bool, run: Run
) -> tuple[RowReport, CustomerChange]:
    """Apply a checked row to its customer (a new one when ``change`` is None); report it."""
    if change is None:
        change = CustomerChange(customer=run.blank(Customer), created=True)
        customer_fill_new(change, row, run)
        outcome, changes = CREATED, {}
    else:
        changes = customer_fill_existing(change, row, run)
        outcome = UPDATED if changes else UNCHANGED
    change.records.append(row.record)
    report = RowReport(row.record, outcome, key=key[1], changes=changes, repeated=repeated)
    return report, change


# ---------------------------------------------------------------- filling a customer in


def customer_fill_new(change: CustomerChange, row: Row, run: Run) -> None:
    """Fill a new customer (and its default address, tags and note) from a row."""
    customer = change.customer
    values = row.values
    customer.email = row.email
    customer.phone = row.phone
    for name in CUSTOMER_TEXT:
        if name in values:
            setattr(customer, name, values[name])
    for name in PLATFORM_FIELDS:
        if name in values:
            setattr(customer, name, values[name])
    customer.date_of_birth = values.get("date_of_birth")
    customer.tax_exempt = values.get("tax_exempt", False)
    customer.status = values.get("status", Status.ACTIVE)
    customer.source = values.get("source", Channel.CSV)
    if "group" in values:
        customer.group_id = run.group_id(values["group"])
    for channel in ("email", "sms"):
        state = values.get(f"{channel}_consent_state")
        if state is None:
            subscribed = values.get(f"{channel}_consent")
            state = Consent.SUBSCRIBED if subscribed else Consent.NOT_SUBSCRIBED
        consent_apply(
            customer=customer,
            channel=channel,
            state=state,
            source=ConsentSource.IMPORT,
            when=run.now,
        )
    if row.address:
        address = change.address = run.blank(Address)
        for name, value in row.address.items():
            setattr(address, ADDRESS_MODEL_FIELD[name], value)
        _address_normalise(address)
        change.address_created = True
    change.new_tags = list(row.tags)
    run.tags_count_new(change.new_tags)
    if row.note:
        change.new_notes.append(row.note)
        change.notes.add(row.note)


def customer_fill_existing(change: CustomerChange, row: Row, run: Run) -> dict[str, Any]:
    """Apply a row to a customer of the database or of this batch; return what it changed.

    A non-empty cell overwrites, an empty one leaves the stored value; tags and notes are
    only ever added.
    """
    changes: dict[str, Any] = {}
    _fill_fields(change, row, run, changes)
    _fill_consents(change, row, run, changes)
    if row.address:
        _fill_address(change, row, run, changes)
    _fill_tags_and_note(change, row, run, changes)
    for name, value in changes.items():
        if name == "tags_added":
            change.changes.setdefault(name, []).extend(value)
        elif name in change.changes and isinstance(value, list):
            # Two records of the file changed it: from the first old value to the last new.
            change.changes[name] = [change.changes[name][0], value[1]]
        else:
            change.changes[name] = value
    return changes


def _fill_fields(change: CustomerChange, row: Row, run: Run, changes: dict) -> None:
    customer = change.customer
    values = row.values

    def set_field(name: str, new) -> None:
        old = getattr(customer, name)
        if old != new:
            changes[name] = [_plain(old), _plain(new)]
            change.original.setdefault(name, old)
            setattr(customer, name, new)
            change.dirty.add(name)

    if row.email:
        set_field("email", row.email)
    if row.phone:
        set_field("phone", row.phone)
    for name in (*CUSTOMER_TEXT, *PLATFORM_FIELDS, "date_of_birth", "tax_exempt"):
        if name in values:
            set_field(name, values[name])
    if "group" in values:
        group_id = run.group_id(values["group"])
        if customer.group_id != group_id:
            changes["group"] = [run.group_name(customer.group_id), values["group"]]
            customer.group_id = group_id
            change.dirty.add("group")
    if "status" in values and values["status"] != customer.status and not change.created:
        run.result.warn(str(WARN_STATUS))


def _fill_consents(change: CustomerChange, row: Row, run: Run, changes: dict) -> None:
    customer = change.customer
    for channel in ("email", "sms"):
        attr = f"{channel}_consent"
        new = row.values.get(f"{attr}_state")
        flag = row.values.get(attr)
        if new is None and flag is not None:
            if flag:
                new = Consent.SUBSCRIBED
            elif getattr(customer, attr) == Consent.SUBSCRIBED:
                new = Consent.UNSUBSCRIBED
        if new is not None and new != getattr(customer, attr):
            changed = consent_apply(
                customer=customer,
                channel=channel,
                state=new,
                source=ConsentSource.IMPORT,
                when=run.now,
            )
            if changed:
                changes[attr] = list(changed)
                change.dirty.update({attr, f"{attr}_updated_at", f"{attr}_source"})


def _fill_address(change: CustomerChange, row: Row, run: Run, changes: dict) -> None:
    if change.address is None:
        change.address = run.blank(Address)
        change.address.customer = change.customer
        change.address_created = True
    address = change.address
    before = {name: getattr(address, ADDRESS_MODEL_FIELD[name]) for name in ADDRESS_FIELDS}
    for name, value in row.address.items():
        setattr(address, ADDRESS_MODEL_FIELD[name], value)
    _address_normalise(address)
    for name in ADDRESS_FIELDS:
        model_name = ADDRESS_MODEL_FIELD[name]
        new = getattr(address, model_name)
        if new != before[name]:
            changes[f"address.{model_name}"] = [before[name], new]
            change.address_dirty.add(model_name)


def _fill_tags_and_note(change: CustomerChange, row: Row, run: Run, changes: dict) -> None:
    tag_index = run.tag_index()
    added = []
    for tag in row.tags:
        tag_id = tag_index.get(tag.lower())
        if tag_id is not None and tag_id in change.tag_ids:
            continue
        if any(t.lower() == tag.lower() for t in change.new_tags):
            continue
        change.new_tags.append(tag)
        added.append(tag)
    if added:
        changes["tags_added"] = added
        run.tags_count_new(added)
    if row.note and row.note not in change.notes:
        change.notes.add(row.note)
        change.new_notes.append(row.note)
        changes["note_added"] = row.note


def _address_normalise(address: Address) -> None:
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


def _plain(value):
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value
