"""Privacy requests: erasure (request, cancel, carry out after the hold) and personal-data export.

Erasure redacts in place rather than deleting: the customer's orders stay (numbers, dates,
totals, currency) so the shop's accounts stay whole, but nothing left identifies the person:
not the customer, the records merged into it however long the chain, their orders, audit trail
and Django's admin log, the merge records they are part of, nor the import working files that
name them. What is personal is read from ``customers.personal_data``;
``tests/customers/test_erasure_leaves_nothing.py`` searches the whole database and the private
folder afterwards.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from customers.audit.events import (
    Actor,
    customers_erasure_cancelled_events,
    customers_erasure_requested_events,
    customers_events_redact,
    customers_redacted_events,
    deleted_customers_events_redact,
    personal_data_exported_event,
)
from customers.db.locks import customer_lock, customers_lock, locked
from customers.models import (
    Address,
    Customer,
    CustomerEvent,
    CustomerMerge,
    EventKind,
    ExportKind,
    ExportOrigin,
    ExportRecord,
    Mailing,
    Note,
    Order,
    Segment,
    Status,
    TaggedCustomer,
)
from customers.personal_data import (
    ADDRESS_CONTACT_FIELDS,
    ADDRESS_DERIVED_FIELDS,
    CUSTOMER_CONTACT_FIELDS,
    REDACTED_TEXT,
    classified_fields,
    customer_blank_values,
    event_data_scrub,
    order_snapshot_scrub,
    snapshot_scrub,
)
from customers.selectors.audit import consent_history
from customers.selectors.matching import customers_merged_family
from customers.services.channels import channel_data_erase
from customers.services.duplicate_keys import duplicate_keys_refresh
from customers.services.exporting import export_record_create
from customers.services.importing.files import imports_forget

ERASURE_NOT_POSSIBLE = _(
    "%(customer)s cannot be erased: it has been merged into another customer or already erased."
)
ERASURE_ALREADY_REQUESTED = _("Erasure of %(customer)s was already requested.")
ERASURE_NOT_REQUESTED = _("%(customer)s has no pending erasure request.")

COMMAND_ACTOR = "process_erasure_requests"
# What a pending erasure request prevents, in words: deletion (DeleteBlock.ERASURE), merge
# (merge_refusals) and email (EmailSkip.ERASURE) each refuse such a customer; the test
# tests/customers/test_privacy.py::test_a_pending_erasure_blocks_what_the_banner_says keeps
# this list and those three rules in step.
ERASURE_BLOCKS = (
    pgettext_lazy("blocked by a pending erasure", "deleted"),
    pgettext_lazy("blocked by a pending erasure", "merged"),
    pgettext_lazy("blocked by a pending erasure", "emailed"),
)
BATCH_SIZE = 100
LOOKUP_CHUNK = 1000
EVENT_BATCH_SIZE = 2000
REDACTED = REDACTED_TEXT
EXPORT_FORMAT = "backoffice-personal-data/1"

# What erasure writes on the customer row: its personal fields blanked, the request closed; the
# rest (group, tax exemption, source channel, dates, version) is the shop's own bookkeeping.
REDACTED_VALUES = {
    **customer_blank_values(),
    "erasure_requested_at": None,
    "erasure_requested_by": None,
    "merged_into": None,
    "status": Status.REDACTED,
}


# --- reads -------------------------------------------------------------------------------


def last_order_dates(customer_ids: Iterable[int]) -> dict[int, datetime.datetime]:
    """The latest order of each customer, counting the records merged into it.

    Two grouped queries per thousand ids, on the indexed foreign keys. (A correlated subquery
    with the merged records' join made PostgreSQL and SQLite scan the orders once per customer:
    a minute for a thousand pending requests.)
    """
    ids = list(customer_ids)
    latest: dict[int, datetime.datetime] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        own = (
            Order.objects.filter(customer_id__in=chunk)
            .order_by()
            .values_list("customer_id")
            .annotate(last=Max("placed_at"))
        )
        absorbed = (
            Order.objects.filter(customer__merged_into_id__in=chunk)
            .order_by()
            .values_list("customer__merged_into_id")
            .annotate(last=Max("placed_at"))
        )
        for pk, last in [*own, *absorbed]:
            if pk not in latest or last > latest[pk]:
                latest[pk] = last
    return latest


def erasure_hold() -> datetime.timedelta:
    return datetime.timedelta(days=settings.BACKOFFICE_ERASURE_HOLD_DAYS)


def erasure_due_date(
    *, requested_at: datetime.datetime, last_order: datetime.datetime | None
) -> datetime.datetime:
    """When a pending request can be carried out: the hold after the last order, or at once."""
    return requested_at if last_order is None else last_order + erasure_hold()


# --- request and cancel ------------------------------------------------------------------


@dataclass
class RequestResult:
    changed: int
    skipped: int


def _user_or_none(actor: Actor):
    return None if actor is None or isinstance(actor, str) else actor


@transaction.atomic
def customers_request_erasure(*, actor: Actor, queryset: QuerySet[Customer]) -> RequestResult:
    """Record an erasure request on the given customers; skip merged, erased or pending ones."""
    wanted = queryset.count()
    ids = customers_lock(queryset=queryset.erasure_requestable())
    now = timezone.now()
    Customer.objects.filter(pk__in=ids).update(
        erasure_requested_at=now,
        erasure_requested_by=_user_or_none(actor),
        version=F("version") + 1,
        updated_at=now,
    )
    customers_erasure_requested_events(
        actor=actor, customer_ids=ids, hold_days=settings.BACKOFFICE_ERASURE_HOLD_DAYS
    )
    return RequestResult(changed=len(ids), skipped=wanted - len(ids))


@transaction.atomic
def customers_cancel_erasure(*, actor: Actor, queryset: QuerySet[Customer]) -> RequestResult:
    """Withdraw the pending erasure requests of the given customers."""
    wanted = queryset.count()
    ids = customers_lock(queryset=queryset.erasure_pending())
    Customer.objects.filter(pk__in=ids).update(
        erasure_requested_at=None,
        erasure_requested_by=None,
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    customers_erasure_cancelled_events(actor=actor, customer_ids=ids)
    return RequestResult(changed=len(ids), skipped=wanted - len(ids))


@transaction.atomic
def customer_request_erasure(*, actor: Actor, customer_id: int) -> None:
    """Record an erasure request on one customer; refuse with a reason if it cannot be."""
    customer = customer_lock(customer_id=customer_id)
    if customer.status in (Status.MERGED, Status.REDACTED):
        raise ValidationError(
            ERASURE_NOT_POSSIBLE, code="erasure_not_possible", params={"customer": customer}
        )
    if customer.erasure_is_pending:
        raise ValidationError(
            ERASURE_ALREADY_REQUESTED,
            code="erasure_already_requested",
            params={"customer": customer},
        )
    customers_request_erasure(actor=actor, queryset=Customer.objects.filter(pk=customer_id))


@transaction.atomic
def customer_cancel_erasure(*, actor: Actor, customer_id: int) -> None:
    """Withdraw one customer's pending erasure request; refuse if there is none."""
    customer = customer_lock(customer_id=customer_id)
    if not customer.erasure_is_pending:
        raise ValidationError(
            ERASURE_NOT_REQUESTED, code="erasure_not_requested", params={"customer": customer}
        )
    customers_cancel_erasure(actor=actor, queryset=Customer.objects.filter(pk=customer_id))


# --- carrying erasure out ----------------------------------------------------------------


@dataclass
class ErasureRun:
    """What a run did (or, dry, would do): due and erased customer ids, and who still waits."""

    dry_run: bool
    due: list[int] = field(default_factory=list)
    erased: list[int] = field(default_factory=list)
    waiting: list[tuple[int, datetime.datetime]] = field(default_factory=list)


MERGE_EVENT_KINDS = (EventKind.MERGED, EventKind.ABSORBED, EventKind.UNMERGED)


def _root_of(pk: int, parents: dict[int, int]) -> int:
    while pk in parents:
        pk = parents[pk]
    return pk


def _merge_snapshots_scrub(family: list[int]) -> None:
    """Blank the personal values of every merge record these customers are part of.

    As survivor (its before/after snapshots are theirs) or as an absorbed record of a merge
    since undone (the survivor may have taken their email or name): found through the merge
    events of their own trail, which name each merge they took part in.
    """
    merge_ids = {
        pk
        for pk in CustomerEvent.objects.filter(
            customer_ref__in=family, kind__in=MERGE_EVENT_KINDS
        ).values_list("data__merge", flat=True)
        if isinstance(pk, int)
    }
    merges = list(
        locked(CustomerMerge.objects.filter(Q(survivor_id__in=family) | Q(pk__in=merge_ids)))
    )
    for merge in merges:
        merge.survivor_before = snapshot_scrub(merge.survivor_before, blank=REDACTED)
        merge.survivor_after = snapshot_scrub(merge.survivor_after, blank=REDACTED)
    CustomerMerge.objects.bulk_update(
        merges, ["survivor_before", "survivor_after"], batch_size=EVENT_BATCH_SIZE
    )
    # A survivor outside the family (the merge was undone) recorded the values it took from
    # them in its own MERGED event: that event goes the way of theirs.
    others = {m.pk: m.survivor_id for m in merges if m.survivor_id not in family}
    events = [
        event
        for event in CustomerEvent.objects.filter(
            customer_ref__in=set(others.values()), kind__in=MERGE_EVENT_KINDS
        ).only("pk", "data")
        if isinstance(event.data, dict) and event.data.get("merge") in others
    ]
    for event in events:
        event.data = event_data_scrub(event.data)
    CustomerEvent.objects.bulk_update(events, ["data"], batch_size=EVENT_BATCH_SIZE)


def _contact_details(family: list[int]) -> set[str]:
    """The emails and phones these customers and their addresses hold (before they go)."""
    values = Customer.objects.filter(pk__in=family).values_list(*CUSTOMER_CONTACT_FIELDS)
    phones = Address.objects.filter(customer_id__in=family).values_list(*ADDRESS_CONTACT_FIELDS)
    return {value for row in [*values, *phones] for value in row if value}


def _names(family: list[int]) -> set[str]:
    """Full and last names of these customers: what a clerk may have searched the list for."""
    names = set()
    for first, last in Customer.objects.filter(pk__in=family).values_list(
        "first_name", "last_name"
    ):
        names |= {" ".join(part for part in (first, last) if part), last}
    return {name for name in names if len(name) >= 3}


def _search_names_person(value: str, terms: set[str]) -> bool:
    """Whether a search or filter value of an export names one of the person's details."""
    text = value.strip().lower()
    digits = "".join(ch for ch in text if ch.isdigit())
    for term in terms:
        term = term.lower()
        if term in text or (len(text) >= 4 and text in term):
            return True
        term_digits = "".join(ch for ch in term if ch.isdigit())
        if len(digits) >= 6 and term_digits.endswith(digits):
            return True
    return False


def _export_records_scrub(terms: set[str]) -> None:
    """Blank the search and filter values of recorded exports that name the erased person.

    An export record keeps the list's query string (``q=annika@example.se``): the record stays,
    with who, when, which columns and how many rows, but not the person it searched for.
    """
    if not terms:
        return
    changed = []
    for record in ExportRecord.objects.filter(selection__has_key="filters").only("selection"):
        filters = record.selection.get("filters") or {}
        scrubbed = {
            key: [REDACTED_TEXT if _search_names_person(v, terms) else v for v in values]
            for key, values in filters.items()
        }
        if scrubbed != filters:
            record.selection = {**record.selection, "filters": scrubbed}
            changed.append(record)
    ExportRecord.objects.bulk_update(changed, ["selection"], batch_size=EVENT_BATCH_SIZE)


def _condition_scrub(conditions: dict, terms: set[str]) -> dict:
    def scrub(value):
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, str) and _search_names_person(value, terms):
            return REDACTED_TEXT
        return value

    return {key: scrub(value) for key, value in conditions.items()}


def _segments_scrub(terms: set[str]) -> None:
    """Blank the condition values (and the name) of saved segments that name the erased person.

    A segment is a saved list query (``q=annika@example.se``): it stays, counted, but no longer
    searches for the person; a blanked search then matches nobody.
    """
    if not terms:
        return
    changed = []
    for segment in Segment.objects.only("name", "conditions", "any_of"):
        conditions = _condition_scrub(segment.conditions or {}, terms)
        any_of = [
            [_condition_scrub(alternative, terms) for alternative in group]
            for group in segment.any_of or []
        ]
        # Its name may be the search too ("Quillfeather orders"); names are unique.
        name = (
            f"{REDACTED_TEXT} #{segment.pk}"
            if _search_names_person(segment.name, terms)
            else segment.name
        )
        if (conditions, any_of, name) != (segment.conditions, segment.any_of or [], segment.name):
            segment.conditions, segment.any_of, segment.name = conditions, any_of, name
            changed.append(segment)
    Segment.objects.bulk_update(
        changed, ["conditions", "any_of", "name"], batch_size=EVENT_BATCH_SIZE
    )
    # The segment's admin history repeats its old name.
    renamed = [str(s.pk) for s in changed if s.name.startswith(REDACTED_TEXT)]
    if renamed:
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Segment), object_id__in=renamed
        ).update(object_repr=REDACTED_TEXT)


def _mailings_scrub(terms: set[str]) -> None:
    """Cut the erased person's names and contacts out of the mailings' subjects and texts."""
    if not terms:
        return
    names = Q()
    for term in terms:
        names |= Q(subject__icontains=term) | Q(body__icontains=term)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.I)
    changed = []
    for mailing in Mailing.objects.filter(names).only("subject", "body"):
        mailing.subject = pattern.sub(REDACTED_TEXT, mailing.subject)
        mailing.body = pattern.sub(REDACTED_TEXT, mailing.body)
        changed.append(mailing)
    Mailing.objects.bulk_update(changed, ["subject", "body"], batch_size=EVENT_BATCH_SIZE)


def _redact_order_snapshots(ids: list[int]) -> None:
    orders = list(
        Order.objects.filter(customer_id__in=ids)
        .exclude(shipping_address={})
        .only("pk", "shipping_address")
    )
    for order in orders:
        order.shipping_address = order_snapshot_scrub(order.shipping_address)
    Order.objects.bulk_update(orders, ["shipping_address"], batch_size=EVENT_BATCH_SIZE)


def _due_rows(ids: list[int], now: datetime.datetime) -> list[tuple]:
    """The customers of ``ids`` still due, locked: (id, requested at, requested by)."""
    # Rows another run holds are skipped (it is erasing them); the conditions are re-read
    # under the lock, so a request cancelled or an order placed meanwhile is respected.
    held = list(
        locked(Customer.objects.erasure_pending().filter(pk__in=ids), skip_locked=True).values_list(
            "pk", "erasure_requested_at", "erasure_requested_by__username"
        )
    )
    latest = last_order_dates(row[0] for row in held)
    return [
        (pk, requested_at, requested_by)
        for pk, requested_at, requested_by in held
        if erasure_due_date(requested_at=requested_at, last_order=latest.get(pk)) <= now
    ]


@transaction.atomic
def _erase_batch(
    *, actor: Actor, ids: list[int], now: datetime.datetime, contacts: set[str] | None = None
) -> list[int]:
    """Erase the customers of ``ids`` that are still due, in one transaction; return them.

    Their emails and phones are added to ``contacts``, for the import files to forget.
    """
    contacts = set() if contacts is None else contacts
    rows = _due_rows(ids, now)
    erased = [row[0] for row in rows]
    if not erased:
        return []
    # The records merged into them, however far down a chain, are the same person's: they go too.
    parents = customers_merged_family(ids=erased, lock=True)
    family = erased + list(parents)
    contacts |= _contact_details(family)
    terms = contacts | _names(family)
    _export_records_scrub(terms)
    _segments_scrub(terms)
    _mailings_scrub(terms)

    customers_events_redact(customer_ids=family)
    _merge_snapshots_scrub(family)
    _redact_order_snapshots(family)
    Address.objects.filter(customer_id__in=family).delete()
    Note.objects.filter(customer_id__in=family).delete()
    TaggedCustomer.objects.filter(content_object_id__in=family).delete()
    channel_data_erase(actor=actor, customer_ids=family)
    Customer.objects.filter(pk__in=family).update(
        **REDACTED_VALUES, version=F("version") + 1, updated_at=now
    )
    duplicate_keys_refresh(customer_ids=family)
    data_by_customer = {
        pk: {
            "requested_at": requested_at.isoformat(),
            "requested_by": requested_by or "",
            "hold_days": settings.BACKOFFICE_ERASURE_HOLD_DAYS,
            "merged_records": sorted(a for a in parents if _root_of(a, parents) == pk),
        }
        for pk, requested_at, requested_by in rows
    }
    data_by_customer.update({pk: {"merged_into": parent} for pk, parent in parents.items()})
    customers_redacted_events(
        actor=actor, data_by_customer={pk: data_by_customer[pk] for pk in family}
    )
    return erased


def customers_process_erasure(
    *,
    actor: Actor,
    now: datetime.datetime | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
) -> ErasureRun:
    """Carry out the erasure requests whose hold has passed, a batch per transaction.

    Safe to run again or twice at once: erased customers are no longer pending, and rows being
    erased by another run are locked and skipped. ``dry_run`` only reports.
    """
    now = now or timezone.now()
    run = ErasureRun(dry_run=dry_run)
    pending = list(
        Customer.objects.erasure_pending().order_by("pk").values_list("pk", "erasure_requested_at")
    )
    latest = last_order_dates(pk for pk, _requested in pending)
    for pk, requested_at in pending:
        due = erasure_due_date(requested_at=requested_at, last_order=latest.get(pk))
        if due <= now:
            run.due.append(pk)
        else:
            run.waiting.append((pk, due))
    if dry_run:
        return run
    contacts: set[str] = set()
    for start in range(0, len(run.due), batch_size):
        run.erased += _erase_batch(
            actor=actor, ids=run.due[start : start + batch_size], now=now, contacts=contacts
        )
    # Files are not part of a transaction: they go once the erasures are committed, one pass
    # over the import folders for the whole run.
    transaction.on_commit(lambda: imports_forget(values=contacts))
    return run


@transaction.atomic
def deleted_customers_redact() -> int:
    """Scrub what the trail still says about customers deleted before deletion scrubbed it.

    Customers deleted by earlier versions left their name, email and notes in their events,
    out of erasure's reach; ``process_erasure_requests`` runs this each time (it finds nothing
    once done). Returns the number of deleted customers whose trail was scrubbed.
    """
    return deleted_customers_events_redact()


# --- personal-data export ----------------------------------------------------------------

# Every field of each model, from the one classification (whose test compares it with the
# models): a field added later cannot be silently left out of a subject-access answer. The
# derived address key and the links back to the customer add nothing to the answer.
CUSTOMER_EXPORT_FIELDS = classified_fields(Customer)
ADDRESS_EXPORT_FIELDS = tuple(
    name for name in classified_fields(Address) if name not in (*ADDRESS_DERIVED_FIELDS, "customer")
)
NOTE_EXPORT_FIELDS = tuple(name for name in classified_fields(Note) if name != "customer")
ORDER_EXPORT_FIELDS = tuple(name for name in classified_fields(Order) if name != "customer")
EVENT_EXPORT_FIELDS = tuple(
    name for name in classified_fields(CustomerEvent) if name not in ("customer", "customer_ref")
)


def _json_value(value):
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if hasattr(value, "quantize"):  # Decimal: keep every digit, as a string
        return str(value)
    return value


def _row(obj, names: Iterable[str], special: dict) -> dict:
    return {
        name: special[name](obj) if name in special else _json_value(getattr(obj, name))
        for name in names
    }


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def _customer_document(customer: Customer) -> dict:
    customer_row = _row(
        customer,
        CUSTOMER_EXPORT_FIELDS,
        {
            "group": lambda c: {"id": c.group.pk, "name": c.group.name} if c.group else None,
            "tags": lambda c: sorted((t.name for t in c.tags.all()), key=str.lower),
            "merged_into": lambda c: c.merged_into_id,
            "erasure_requested_by": lambda c: _username(c.erasure_requested_by),
        },
    )
    return {
        "customer": customer_row,
        "consent": {
            channel: {
                "state": getattr(customer, f"{channel}_consent"),
                "updated_at": _json_value(getattr(customer, f"{channel}_consent_updated_at")),
                "source": getattr(customer, f"{channel}_consent_source"),
            }
            for channel in ("email", "sms")
        }
        | {"history": consent_history(customer_ids=[customer.pk])},
        "addresses": [
            _row(a, ADDRESS_EXPORT_FIELDS, {}) for a in customer.addresses.order_by("pk")
        ],
        "notes": [
            _row(n, NOTE_EXPORT_FIELDS, {"author": lambda n: _username(n.author)})
            for n in customer.notes.select_related("author").order_by("created_at", "pk")
        ],
        "orders": [
            _row(o, ORDER_EXPORT_FIELDS, {"tags": lambda o: sorted(t.name for t in o.tags.all())})
            for o in customer.orders.prefetch_related("tags").order_by("placed_at", "pk")
        ],
        "events": [
            _row(e, EVENT_EXPORT_FIELDS, {"actor": lambda e: e.actor_id})
            for e in CustomerEvent.objects.filter(customer_ref=customer.pk).order_by(
                "created_at", "pk"
            )
        ],
    }


@transaction.atomic
def customer_export_personal_data(*, actor: Actor, customer_id: int) -> dict:
    """Return everything held on a customer as one JSON-ready document; record the export.

    Records merged into this customer are the same person's and are included in full.
    """
    customer = Customer.objects.select_related("group", "erasure_requested_by").get(pk=customer_id)
    merged = list(
        Customer.objects.filter(merged_into=customer)
        .select_related("group", "erasure_requested_by")
        .order_by("pk")
    )
    personal_data_exported_event(actor=actor, customer=customer)
    export_record_create(
        actor=actor,
        kind=ExportKind.PERSONAL_DATA,
        origin=ExportOrigin.ADMIN,
        selection={"customer": customer.pk, "merged_records": [c.pk for c in merged]},
        columns=[],
        rows=1 + len(merged),
    )
    return {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now().isoformat(),
        **_customer_document(customer),
        "merged_records": [_customer_document(absorbed) for absorbed in merged],
    }
