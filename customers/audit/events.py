"""The audit trail: one writer per event kind (what it records) beside the words that describe
it on the history page, and the set-based writers the bulk services and the importer use.

Services call the writer of their event inside their own transaction; nothing else writes a
``CustomerEvent``. The history page calls :func:`event_lines`, which reads each kind's payload
with the describer registered beside its writer.
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import F, Value
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from customers.db.bulk import customers_with_ids, id_batches, insert_from_select, rows_insert
from customers.models import (
    Address,
    Consent,
    ConsentSource,
    Customer,
    CustomerEvent,
    EventKind,
    Note,
    Order,
)

CONSENT_CHANNELS = ("email", "sms")
# A staff user, or a label for work done without one (a management command, cron).
Actor = AbstractBaseUser | str | None

# === writing ================================================================================


def actor_fields(actor: Actor) -> dict[str, Any]:
    """The ``actor`` / ``actor_label`` pair a row written by ``actor`` stores (events, merges)."""
    if actor is None:
        return {"actor": None, "actor_label": "system"}
    if isinstance(actor, str):
        return {"actor": None, "actor_label": actor}
    return {"actor": actor, "actor_label": actor.get_username()}


def _write_one(*, actor: Actor, customer: Customer, kind: str, data: dict) -> CustomerEvent:
    return CustomerEvent.objects.create(
        customer=customer, customer_ref=customer.pk, kind=kind, data=data, **actor_fields(actor)
    )


def events_write_rows(
    *,
    actor: Actor,
    kind: str,
    rows: Iterable[tuple[int, dict]],
    keep_link: bool = True,
) -> int:
    """Write one event per ``(customer id, data)`` row in batched inserts; return how many.

    ``keep_link=False`` writes events whose customer is about to be deleted (the id stays in
    ``customer_ref``).
    """
    now = timezone.now()
    fields = actor_fields(actor)
    actor_id = fields["actor"].pk if fields["actor"] is not None else None
    values = [
        (pk if keep_link else None, pk, actor_id, fields["actor_label"], kind, data, now)
        for pk, data in rows
    ]
    # Straight to executemany: the ORM's bulk_create costs more than the rest of a big import.
    rows_insert(
        model=CustomerEvent,
        fields=(
            "customer_id",
            "customer_ref",
            "actor_id",
            "actor_label",
            "kind",
            "data",
            "created_at",
        ),
        rows=values,
    )
    return len(values)


def events_write_same(
    *,
    actor: Actor,
    kind: str,
    customer_ids: list[int],
    data: dict | None = None,
    keep_link: bool = True,
) -> int:
    """Write the same event on many existing customers, built by the database; return how many.

    One ``INSERT ... SELECT`` per batch of ids instead of one Python object per event: the bulk
    actions write 100,000 events this way in well under a second.
    """
    fields = actor_fields(actor)
    actor_id = fields["actor"].pk if fields["actor"] is not None else None
    constants = {
        "_ref": F("pk"),
        "_customer": F("pk") if keep_link else Value(None, output_field=models.BigIntegerField()),
        "_actor": Value(actor_id, output_field=models.IntegerField()),
        "_label": Value(fields["actor_label"], output_field=models.CharField()),
        "_kind": Value(kind, output_field=models.CharField()),
        "_data": Value(data or {}, output_field=models.JSONField()),
        "_at": Value(timezone.now(), output_field=models.DateTimeField()),
    }
    columns = ["customer_ref", "customer", "actor", "actor_label", "kind", "data", "created_at"]
    written = 0
    for batch in id_batches(customer_ids):
        select = customers_with_ids(batch).annotate(**constants)
        written += insert_from_select(CustomerEvent, columns, select.values_list(*constants))
    return written


# Beyond this many distinct payloads, one Python object per event is the cheaper way.
SAME_DATA_GROUPS_MAX = 20


def events_write_by_data(
    *, actor: Actor, kind: str, data_by_customer: dict[int, dict], keep_link: bool = True
) -> int:
    """Write one event per customer with its own data, grouping customers whose data is equal.

    A bulk action's payloads take few distinct values (the tags each customer gained, the
    group it left), so most of the time this is a handful of ``events_write_same`` calls.
    """
    # Grouped by identity: callers hand the same dict to customers with the same change, and
    # equal dicts that are distinct objects only cost an extra statement.
    groups: dict[int, list[int]] = defaultdict(list)
    for pk, data in data_by_customer.items():
        groups[id(data)].append(pk)
    if len(groups) > SAME_DATA_GROUPS_MAX:
        return events_write_rows(
            actor=actor,
            kind=kind,
            rows=((pk, data_by_customer[pk]) for pk in sorted(data_by_customer)),
            keep_link=keep_link,
        )
    return sum(
        events_write_same(
            actor=actor,
            kind=kind,
            customer_ids=sorted(pks),
            data=data_by_customer[pks[0]],
            keep_link=keep_link,
        )
        for pks in groups.values()
    )


# --- one writer per kind ------------------------------------------------------------------


def customer_created_event(*, actor: Actor, customer: Customer, related: dict) -> CustomerEvent:
    """CREATED by hand: the source channel, the tags and the inlines' work (addresses, notes)."""
    return _write_one(
        actor=actor,
        customer=customer,
        kind=EventKind.CREATED,
        data={"source": customer.source, **related},
    )


def customers_created_events(*, actor: Actor, customer_ids: list[int], source: str) -> int:
    """CREATED in bulk (the demo data): where the records came from."""
    return events_write_rows(
        actor=actor,
        kind=EventKind.CREATED,
        rows=((pk, {"source": source}) for pk in customer_ids),
    )


def customer_updated_event(
    *, actor: Actor, customer: Customer, changes: dict[str, list], related: dict
) -> CustomerEvent:
    """UPDATED by hand: ``changes`` maps a field to ``[old, new]``; ``related`` the inlines."""
    return _write_one(
        actor=actor,
        customer=customer,
        kind=EventKind.UPDATED,
        data={"changes": changes, **related} if changes else related,
    )


def consent_changed_event(
    *, actor: Actor, customer: Customer, channel: str, old: str, new: str, source: str
) -> CustomerEvent:
    """CONSENT_CHANGED: the consent history is read from these (and from imports and merges).

    Every path that changes consent (change form, import, merge, channel sync) writes one per
    channel that changed, so the history and the personal-data export are complete.
    """
    if channel not in CONSENT_CHANNELS:
        raise ValueError(channel)
    return _write_one(
        actor=actor,
        customer=customer,
        kind=EventKind.CONSENT_CHANGED,
        data={"channel": channel, "old": old, "new": new, "source": source},
    )


def note_added_event(*, actor: Actor, customer: Customer, note: Note) -> CustomerEvent:
    """NOTE_ADDED: the note's id and text."""
    return _write_one(
        actor=actor,
        customer=customer,
        kind=EventKind.NOTE_ADDED,
        data={"id": note.pk, "body": note.body},
    )


def customers_tags_changed_events(
    *, actor: Actor, added: bool, tags_by_customer: dict[int, dict]
) -> int:
    """TAGS_ADDED / TAGS_REMOVED: ``{"tags": [names]}`` per customer (shared dicts group)."""
    return events_write_by_data(
        actor=actor,
        kind=EventKind.TAGS_ADDED if added else EventKind.TAGS_REMOVED,
        data_by_customer=tags_by_customer,
    )


def customers_group_changed_events(*, actor: Actor, moves_by_customer: dict[int, dict]) -> int:
    """GROUP_CHANGED: ``{"from": name, "to": name}`` per customer (shared dicts group)."""
    return events_write_by_data(
        actor=actor, kind=EventKind.GROUP_CHANGED, data_by_customer=moves_by_customer
    )


def customers_status_changed_events(
    *, actor: Actor, kind: str, customer_ids: list[int], old: str, new: str
) -> int:
    """ARCHIVED / UNARCHIVED: the status before and after."""
    return events_write_same(
        actor=actor, kind=kind, customer_ids=customer_ids, data={"status": [old, new]}
    )


def customers_emailed_events(
    *, actor: Actor, customer_ids: list[int], subject: str, marketing: bool
) -> int:
    """EMAILED: the subject and whether it was marketing."""
    return events_write_same(
        actor=actor,
        kind=EventKind.EMAILED,
        customer_ids=customer_ids,
        data={"subject": subject, "marketing": marketing},
    )


def customers_deleted_events(*, actor: Actor, labels: dict[int, str]) -> int:
    """DELETED: written before the rows go, unlinked; the id stays in ``customer_ref``."""
    return events_write_rows(
        actor=actor,
        kind=EventKind.DELETED,
        rows=((pk, {"customer": label}) for pk, label in labels.items()),
        keep_link=False,
    )


def customer_merged_events(
    *,
    actor: Actor,
    merge_id: int,
    survivor_id: int,
    summaries: dict[int, dict],
    tags_added: list[str],
    changes: dict[str, list],
) -> int:
    """MERGED on the survivor and ABSORBED on each absorbed record, with what moved."""
    written = events_write_rows(
        actor=actor,
        kind=EventKind.MERGED,
        rows=[
            (
                survivor_id,
                {
                    "merge": merge_id,
                    "absorbed": list(summaries),
                    "moved": {str(pk): summary for pk, summary in summaries.items()},
                    "tags_added": tags_added,
                    "changes": changes,
                },
            )
        ],
    )
    return written + events_write_rows(
        actor=actor,
        kind=EventKind.ABSORBED,
        rows=(
            (pk, {"merge": merge_id, "merged_into": survivor_id, "moved": summary})
            for pk, summary in summaries.items()
        ),
    )


def customer_unmerged_events(
    *,
    actor: Actor,
    merge_id: int,
    survivor_id: int,
    absorbed_ids: list[int],
    summaries: dict[int, dict],
    counts: dict[str, int],
    fields_restored: list[str],
) -> int:
    """UNMERGED on the survivor (what came back out) and on each record split from it."""
    written = events_write_rows(
        actor=actor,
        kind=EventKind.UNMERGED,
        rows=[
            (
                survivor_id,
                {
                    "merge": merge_id,
                    "restored": absorbed_ids,
                    "moved_back": counts,
                    "fields_restored": fields_restored,
                },
            )
        ],
    )
    return written + events_write_rows(
        actor=actor,
        kind=EventKind.UNMERGED,
        rows=(
            (
                pk,
                {"merge": merge_id, "split_from": survivor_id, "moved_back": summaries.get(pk, {})},
            )
            for pk in absorbed_ids
        ),
    )


def customers_imported_events(*, actor: Actor, data_by_customer: dict[int, dict]) -> int:
    """IMPORTED: the file, its format, the record numbers, and ``created`` or the ``changes``."""
    return events_write_rows(
        actor=actor, kind=EventKind.IMPORTED, rows=list(data_by_customer.items())
    )


def customers_erasure_requested_events(
    *, actor: Actor, customer_ids: list[int], hold_days: int
) -> int:
    """ERASURE_REQUESTED: the hold the request waits for after the last order."""
    return events_write_rows(
        actor=actor,
        kind=EventKind.ERASURE_REQUESTED,
        rows=((pk, {"hold_days": hold_days}) for pk in customer_ids),
    )


def customers_erasure_cancelled_events(*, actor: Actor, customer_ids: list[int]) -> int:
    """ERASURE_CANCELLED: nothing more than who and when."""
    return events_write_rows(
        actor=actor, kind=EventKind.ERASURE_CANCELLED, rows=((pk, {}) for pk in customer_ids)
    )


def customers_redacted_events(*, actor: Actor, data_by_customer: dict[int, dict]) -> int:
    """REDACTED: who asked and when, or, on a merged record, the customer it was erased with."""
    return events_write_rows(
        actor=actor, kind=EventKind.REDACTED, rows=list(data_by_customer.items())
    )


def personal_data_exported_event(*, actor: Actor, customer: Customer) -> CustomerEvent:
    """PERSONAL_DATA_EXPORTED: who downloaded the customer's data, and when."""
    return _write_one(
        actor=actor, customer=customer, kind=EventKind.PERSONAL_DATA_EXPORTED, data={}
    )


def orders_recorded_events(*, actor: Actor, orders: Sequence[Order]) -> int:
    """ORDER_RECORDED: one per order that came in for a customer (number, total, channel)."""
    return events_write_rows(
        actor=actor,
        kind=EventKind.ORDER_RECORDED,
        rows=[
            (
                order.customer_id,
                {
                    "order": order.pk,
                    "number": order.number,
                    "total": str(order.total),
                    "currency": order.currency,
                    "source": order.source,
                },
            )
            for order in orders
            if order.customer_id
        ],
    )


# === describing ==============================================================================


def _when(iso) -> str:
    try:
        moment = datetime.datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return display_value(iso)
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _label(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name.replace("_", " ")


def display_value(value) -> str:
    """One stored value as staff read it: dashes for nothing, labels for our codes."""
    if value in (None, ""):
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str):
        for choices in (Consent, ConsentSource):
            if value in choices.values:
                return str(choices(value).label)
        return value
    if isinstance(value, list):
        return ", ".join(display_value(item) for item in value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _diff_lines(model, changes: dict) -> list[str]:
    return [
        _("%(field)s: %(old)s → %(new)s")
        % {
            "field": _label(model, name),
            "old": display_value(pair[0]),
            "new": display_value(pair[1]),
        }
        if isinstance(pair, list | tuple) and len(pair) == 2
        else f"{_label(model, name)}: {display_value(pair)}"
        for name, pair in changes.items()
    ]


def _generic_line(key: str, value) -> list[str]:
    return [f"{key.replace('_', ' ')}: {display_value(value)}"]


def _changes_lines(value) -> list[str]:
    return (
        _diff_lines(Customer, value) if isinstance(value, dict) else _generic_line("changes", value)
    )


def _addresses_changed_lines(value) -> list[str]:
    return [
        _("Address %(id)s, %(change)s") % {"id": item.get("id"), "change": line}
        for item in value
        for line in _diff_lines(Address, item.get("changes") or {})
    ]


def _notes_changed_lines(value) -> list[str]:
    return [
        _("Note changed: %(old)s → %(new)s")
        % {
            "old": display_value(n["changes"]["body"][0]),
            "new": display_value(n["changes"]["body"][1]),
        }
        for n in value
        if isinstance(n, dict) and "changes" in n
    ]


# How a payload key written by the editing, import and merge events reads, whatever the kind.
_KEY_LINES: dict[str, Callable[[Any], list[str]]] = {
    "changes": _changes_lines,
    "tags_added": lambda v: [_("Tags added: %(tags)s") % {"tags": display_value(v)}],
    "tags_removed": lambda v: [_("Tags removed: %(tags)s") % {"tags": display_value(v)}],
    "addresses_added": lambda v: [
        _("Address added: %(address)s") % {"address": a.get("address")} for a in v
    ],
    "addresses_removed": lambda v: [
        _("Address removed: %(address)s") % {"address": a.get("address")} for a in v
    ],
    "addresses_changed": _addresses_changed_lines,
    "notes_changed": _notes_changed_lines,
    "notes_removed": lambda v: [
        _("Note removed: %(body)s") % {"body": display_value(n.get("body"))} for n in v
    ],
}


def _payload_lines(data: dict, special: dict[str, Callable[[Any], list[str]]] | None = None):
    lines: list[str] = []
    readers = {**_KEY_LINES, **(special or {})}
    for key, value in data.items():
        reader = readers.get(key)
        lines += reader(value) if reader else _generic_line(key, value)
    return lines


def _consent_lines(data: dict) -> list[str]:
    channel = _("Email marketing") if data.get("channel") == "email" else _("SMS marketing")
    return [
        _("%(channel)s: %(old)s → %(new)s (source: %(source)s)")
        % {
            "channel": channel,
            "old": display_value(data.get("old")),
            "new": display_value(data.get("new")),
            "source": display_value(data.get("source")),
        }
    ]


def _erasure_requested_lines(data: dict) -> list[str]:
    if "hold_days" not in data:
        return _payload_lines(data)
    return [_("To be erased %(days)s days after the last order.") % {"days": data["hold_days"]}]


def _redacted_lines(data: dict) -> list[str]:
    if "merged_into" in data:
        return [
            _("Erased with customer #%(id)s, into which it was merged.")
            % {"id": data["merged_into"]}
        ]
    lines = [
        _(
            "Requested by %(who)s on %(when)s; names, contact details, addresses, notes and "
            "earlier values in this history erased."
        )
        % {"who": display_value(data.get("requested_by")), "when": _when(data.get("requested_at"))}
    ]
    if data.get("merged_records"):
        lines.append(
            _("Merged records erased too: %(ids)s")
            % {"ids": ", ".join(f"#{pk}" for pk in data["merged_records"])}
        )
    return lines


def _note_added_lines(data: dict) -> list[str]:
    return _payload_lines(data, {"body": lambda v: [display_value(v)], "id": lambda v: []})


def _order_recorded_lines(data: dict) -> list[str]:
    return [
        _("Order %(number)s recorded: %(total)s %(currency)s")
        % {
            "number": display_value(data.get("number")),
            "total": display_value(data.get("total")),
            "currency": display_value(data.get("currency")),
        }
    ]


# The words beside each writer above; a kind not listed reads its payload key by key.
DESCRIBERS: dict[str, Callable[[dict], list[str]]] = {
    EventKind.CONSENT_CHANGED: _consent_lines,
    EventKind.ERASURE_REQUESTED: _erasure_requested_lines,
    EventKind.REDACTED: _redacted_lines,
    EventKind.NOTE_ADDED: _note_added_lines,
    EventKind.ORDER_RECORDED: _order_recorded_lines,
}


def event_lines(event: CustomerEvent) -> list[str]:
    """Describe what an event recorded, one readable line per change.

    Events written by any path are shown: a shape its describer does not know falls back to
    one "key: value" line per item rather than failing the page.
    """
    data = event.data if isinstance(event.data, dict) else {}
    try:
        return DESCRIBERS.get(event.kind, _payload_lines)(data)
    except (AttributeError, IndexError, KeyError, TypeError):
        data = event.data if isinstance(event.data, dict) else {"data": event.data}
        return [line for key, value in data.items() for line in _generic_line(key, value)]
