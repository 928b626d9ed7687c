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

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models
from django.db.models import F, QuerySet, Value
from django.db.models.functions import JSONObject
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customers.db.bulk import (
    IdIn,
    customers_with_ids,
    id_batches,
    insert_from_select,
    pg_array,
    rows_insert,
)
from customers.models import (
    Address,
    Channel,
    Consent,
    ConsentSource,
    Customer,
    CustomerEvent,
    EventKind,
    Note,
    Order,
    Status,
)
from customers.personal_data import REDACTED_TEXT, event_data_scrub
from customers.phones import phone_display, phone_display_in_text

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
    if connection.vendor == "postgresql" and keep_link and customer_ids:
        # The ids as one array: one statement, and no lookup of each customer row.
        ids = (f"SELECT unnest({pg_array(Customer, 'id')}) AS customer_id", [customer_ids])
        written = events_write_returned(
            actor=actor, kind=kind, changes=ids, data=("%s", [_json_param(data or {})])
        )
        return written[0][0]
    payload = Value(data or {}, output_field=models.JSONField())
    return sum(
        events_write_selected(
            actor=actor,
            kind=kind,
            rows=customers_with_ids(batch),
            customer=F("pk"),
            data=payload,
            keep_link=keep_link,
        )
        for batch in id_batches(customer_ids)
    )


def events_write_selected(
    *,
    actor: Actor,
    kind: str,
    rows: QuerySet,
    customer: F,
    data: models.Expression,
    keep_link: bool = True,
) -> int:
    """Write one event per row of ``rows`` in one ``INSERT ... SELECT``; return how many.

    ``customer`` names the row's customer id, ``data`` is the payload as an expression over the
    row (a constant, or a JSON object of its columns): the database builds every event.
    """
    fields = actor_fields(actor)
    actor_id = fields["actor"].pk if fields["actor"] is not None else None
    constants = {
        "_ref": customer,
        "_customer": customer if keep_link else Value(None, output_field=models.BigIntegerField()),
        "_actor": Value(actor_id, output_field=models.IntegerField()),
        "_label": Value(fields["actor_label"], output_field=models.CharField()),
        "_kind": Value(kind, output_field=models.CharField()),
        "_data": data,
        "_at": Value(timezone.now(), output_field=models.DateTimeField()),
    }
    columns = ["customer_ref", "customer", "actor", "actor_label", "kind", "data", "created_at"]
    select = rows.annotate(**constants).values_list(*constants)
    return insert_from_select(CustomerEvent, columns, select)


def events_write_returned(
    *,
    actor: Actor,
    kind: str,
    changes: tuple[str, Sequence],
    data: tuple[str, Sequence],
    joins: tuple[str, Sequence] = ("", ()),
    grouped: bool = False,
    then: str = "SELECT count(*) FROM written",
) -> list[tuple]:
    """PostgreSQL: run ``changes`` and write one event per customer it returns, in one statement.

    ``changes`` is an ``UPDATE``/``INSERT``/``DELETE ... RETURNING customer_id, ...`` (SQL and
    parameters), read as ``changed``; ``data`` the SQL of each event's payload over its columns
    (and ``joins``); ``grouped`` makes one event of each customer's rows (``data`` then
    aggregates). Returns the rows of ``then``, a query over ``changed`` and ``written`` (by
    default the number of events). The rows changed never travel to Python and back, and the
    events are the same rows as :func:`events_write_same` writes, in customer order.
    """
    fields = actor_fields(actor)
    actor_id = fields["actor"].pk if fields["actor"] is not None else None
    quote = connection.ops.quote_name
    opts = CustomerEvent._meta

    def column(name: str) -> str:
        return quote(opts.get_field(name).column)

    def cast(name: str) -> str:
        field = opts.get_field(name)
        if isinstance(field, models.ForeignKey):
            return f"%s::{field.target_field.rel_db_type(connection)}"
        return f"%s::{field.db_type(connection)}"

    names = ["customer", "customer_ref", "actor", "actor_label", "kind", "data", "created_at"]
    group_by = " GROUP BY changed.customer_id" if grouped else ""
    sql = (
        f"WITH changed AS ({changes[0]}), written AS ("
        f"INSERT INTO {quote(opts.db_table)} ({', '.join(column(name) for name in names)}) "
        f"SELECT changed.customer_id, changed.customer_id, {cast('actor')}, "
        f"{cast('actor_label')}, {cast('kind')}, {data[0]}, {cast('created_at')} "
        f"FROM changed {joins[0]}{group_by} ORDER BY changed.customer_id RETURNING 1) {then}"
    )
    params = [
        *changes[1],
        actor_id,
        fields["actor_label"],
        kind,
        *data[1],
        timezone.now(),
        *joins[1],
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _json_param(data: dict):
    """A payload as the JSON parameter Django would write for it (``%s::jsonb``)."""
    field = CustomerEvent._meta.get_field("data")
    return field.get_db_prep_save(data, connection)


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


def notes_added_events(*, actor: Actor, notes: QuerySet[Note]) -> int:
    """NOTE_ADDED for each of these notes, as :func:`note_added_event` writes it (the note's id
    and text), built by the database from the note rows; return how many."""
    return events_write_selected(
        actor=actor,
        kind=EventKind.NOTE_ADDED,
        rows=notes,
        customer=F("customer_id"),
        data=JSONObject(id=F("pk"), body=F("body")),
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


def customers_tags_linked_events(
    *, actor: Actor, added: bool, links: tuple[str, Sequence], tags: Sequence[tuple[int, str]]
) -> dict[int, list[int]]:
    """TAGS_ADDED / TAGS_REMOVED, PostgreSQL: run ``links`` (an insert or delete of tag links
    returning ``customer_id`` and ``tag_id``) and write :func:`customers_tags_changed_events`'
    event for each customer it changed, its tags in the order of ``tags`` (id, name), in the
    same statement. Return, per tag id changed, the customers it changed, sorted."""
    rows = events_write_returned(
        actor=actor,
        kind=EventKind.TAGS_ADDED if added else EventKind.TAGS_REMOVED,
        changes=links,
        data=("jsonb_build_object('tags', jsonb_agg(tags.name ORDER BY tags.position))", []),
        joins=(
            "JOIN unnest(%s::bigint[], %s::text[]) WITH ORDINALITY AS tags(id, name, position) "
            "ON tags.id = changed.tag_id",
            [[pk for pk, _name in tags], [name for _pk, name in tags]],
        ),
        grouped=True,
        then="SELECT tag_id, array_agg(customer_id ORDER BY customer_id) FROM changed "
        "GROUP BY tag_id",
    )
    return dict(rows)


def customers_group_changed_events(*, actor: Actor, moves_by_customer: dict[int, dict]) -> int:
    """GROUP_CHANGED: ``{"from": name, "to": name}`` per customer (shared dicts group)."""
    return events_write_by_data(
        actor=actor, kind=EventKind.GROUP_CHANGED, data_by_customer=moves_by_customer
    )


def customers_group_moved_events(
    *, actor: Actor, update: tuple[str, Sequence], to_name: str | None
) -> int:
    """GROUP_CHANGED, PostgreSQL: run ``update`` (returning ``customer_id`` and ``old_name``)
    and write :func:`customers_group_changed_events`' event for each customer it moved, in the
    same statement; return how many."""
    rows = events_write_returned(
        actor=actor,
        kind=EventKind.GROUP_CHANGED,
        changes=update,
        data=("jsonb_build_object('from', changed.old_name, 'to', %s::text)", [to_name]),
    )
    return rows[0][0]


def customers_status_changed_events(
    *, actor: Actor, kind: str, customer_ids: list[int], old: str, new: str
) -> int:
    """ARCHIVED / UNARCHIVED: the status before and after."""
    return events_write_same(
        actor=actor, kind=kind, customer_ids=customer_ids, data={"status": [old, new]}
    )


def customers_status_moved_events(
    *, actor: Actor, kind: str, update: tuple[str, Sequence], old: str, new: str
) -> int:
    """ARCHIVED / UNARCHIVED, PostgreSQL: run ``update`` (returning ``customer_id``) and write
    :func:`customers_status_changed_events`' event for each customer it changed, in the same
    statement; return how many."""
    rows = events_write_returned(
        actor=actor,
        kind=kind,
        changes=update,
        data=("%s::jsonb", [_json_param({"status": [old, new]})]),
    )
    return rows[0][0]


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


# Why a DELETED event was written: the guarded delete is the one path that deletes customers.
DELETION_REASON = "guarded_delete"


def customers_deleted_events(*, actor: Actor, customer_ids: list[int]) -> int:
    """DELETED: the id (``customer_ref``) and the reason only; the person's data goes with them.

    Written before the rows go, unlinked.
    """
    return events_write_rows(
        actor=actor,
        kind=EventKind.DELETED,
        rows=((pk, {"reason": DELETION_REASON}) for pk in customer_ids),
        keep_link=False,
    )


def deleted_customers_events_redact() -> int:
    """Scrub the trail of customers deleted before deletion scrubbed it; return how many.

    Their DELETED event still names them (``{"customer": "Name <email>"}``, the old shape):
    each such trail is scrubbed and the event rewritten to the reason only. Idempotent.
    """
    old = CustomerEvent.objects.filter(kind=EventKind.DELETED).exclude(data__has_key="reason")
    refs = sorted(set(old.values_list("customer_ref", flat=True)))
    if refs:
        customers_events_redact(customer_ids=refs)
        CustomerEvent.objects.filter(kind=EventKind.DELETED, customer_ref__in=refs).update(
            data={"reason": DELETION_REASON}
        )
    return len(refs)


# Events whose scrubbed payload is unique (a note's id, a record number) are rewritten a few
# hundred per statement: a longer CASE costs SQLite more than another statement.
EVENT_SCRUB_BATCH = 500


def _events_scrub(customer_ids: list[int]) -> int:
    """Rewrite these customers' event payloads scrubbed; one UPDATE per distinct result.

    A bulk action's events scrub to few distinct payloads (``{"tags": ["[redacted]"]}``), so
    most events are rewritten by a handful of ``UPDATE ... WHERE id IN``; payloads with nothing
    personal (statuses, consent codes) are not written at all.
    """
    groups: dict[str, tuple[Any, list[int]]] = {}
    for pk, data in CustomerEvent.objects.filter(IdIn(F("customer_ref"), customer_ids)).values_list(
        "pk", "data"
    ):
        scrubbed = event_data_scrub(data)
        if scrubbed != data:
            key = json.dumps(scrubbed, sort_keys=True)
            groups.setdefault(key, (scrubbed, []))[1].append(pk)
    unique = [CustomerEvent(pk=pks[0], data=data) for data, pks in groups.values() if len(pks) == 1]
    for data, pks in groups.values():
        if len(pks) > 1:
            CustomerEvent.objects.filter(IdIn(F("pk"), pks)).update(data=data)
    CustomerEvent.objects.bulk_update(unique, ["data"], batch_size=EVENT_SCRUB_BATCH)
    return sum(len(pks) for _data, pks in groups.values())


def customers_events_redact(*, customer_ids: list[int]) -> int:
    """Scrub the personal data from these customers' audit trail; return the events rewritten.

    Their events keep who did what and when, but every value goes (``event_data_scrub``: field
    diffs, note bodies, addresses, labels); Django's own admin log, which names the object
    (``object_repr`` is the customer's name) and its inlines, is blanked too. Erasure and
    deletion call this in their transaction.
    """
    content_type = ContentType.objects.get_for_model(Customer)
    rewritten = 0
    for batch in id_batches(list(customer_ids)):
        rewritten += _events_scrub(batch)
        LogEntry.objects.filter(
            content_type=content_type, object_id__in=[str(pk) for pk in batch]
        ).update(object_repr=REDACTED_TEXT, change_message="")
    return rewritten


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


def customers_updated_events(*, actor: Actor, data_by_customer: dict[int, dict]) -> int:
    """UPDATED by a bulk edit: each customer's fields as ``[old, new]`` pairs."""
    return events_write_by_data(
        actor=actor, kind=EventKind.UPDATED, data_by_customer=data_by_customer
    )


def customers_consent_changed_events(*, actor: Actor, data_by_customer: dict[int, dict]) -> int:
    """CONSENT_CHANGED by a bulk edit: ``{channel, old, new, source}`` per customer."""
    return events_write_by_data(
        actor=actor, kind=EventKind.CONSENT_CHANGED, data_by_customer=data_by_customer
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


# --- sales channels (a Shopify store, a point of sale) ---------------------------------------


def channel_customer_created_event(
    *, actor: Actor, customer: Customer, connection: str, tags: list[str], address: dict
) -> CustomerEvent:
    """CREATED by a channel: its connection, the tags it gave and the default address."""
    data: dict = {"source": customer.source, "connection": connection}
    if tags:
        data["tags"] = tags
    data.update(address)
    return _write_one(actor=actor, customer=customer, kind=EventKind.CREATED, data=data)


def channel_customer_updated_event(
    *,
    actor: Actor,
    customer: Customer,
    connection: str,
    changes: dict[str, list],
    tags_added: list[str],
    address: dict,
) -> CustomerEvent:
    """UPDATED by a channel: ``changes`` maps a field to ``[old, new]``, tags it added, address."""
    data: dict = {"connection": connection}
    if changes:
        data["changes"] = changes
    if tags_added:
        data["tags_added"] = tags_added
    data.update(address)
    return _write_one(actor=actor, customer=customer, kind=EventKind.UPDATED, data=data)


def channel_customer_unlinked_event(
    *, actor: Actor, customer: Customer, connection: str, external_id: str
) -> CustomerEvent:
    """UPDATED: the channel deleted its customer; our record stays, without the channel's id."""
    return _write_one(
        actor=actor,
        customer=customer,
        kind=EventKind.UPDATED,
        data={"connection": connection, "channel_deleted": external_id},
    )


# === describing ==============================================================================
# Each event reads as sentences: translated field labels and values, never a payload key.


def _when(iso) -> str:
    try:
        moment = datetime.datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return display_value(iso)
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _label(model, name: str) -> str:
    try:
        return capfirst(str(model._meta.get_field(name).verbose_name))
    except FieldDoesNotExist:
        return capfirst(name.replace("_", " "))


def field_label(name: str) -> str:
    """The label of a changed field; ``address.city`` is a field of the default address."""
    if name.startswith("address."):
        return _("%(field)s of the address") % {"field": _label(Address, name.split(".", 1)[1])}
    return _label(Customer, name)


# Stored codes whose labels staff read, by the field that holds them.
_CHOICES_BY_FIELD = {
    "status": Status,
    "source": Channel,
    "email_consent": Consent,
    "sms_consent": Consent,
}


def display_value(value, field: str | None = None) -> str:
    """One stored value as staff read it: dashes for nothing, labels for our codes, phones
    and dates as the list shows them."""
    if value in (None, "", []):
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(display_value(item, field) for item in value)
    if isinstance(value, str):
        return _display_text(value, field)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _display_text(value: str, field: str | None) -> str:
    choices = _CHOICES_BY_FIELD.get(field or "")
    if choices is not None and value in choices.values:
        return str(choices(value).label)
    if field == "phone" or (field or "").endswith(".phone"):
        return phone_display(value)
    if field == "date_of_birth":
        try:
            return date_format(datetime.date.fromisoformat(value), "DATE_FORMAT")
        except ValueError:
            return value
    for codes in (Consent, ConsentSource):
        if field is None and value in codes.values:
            return str(codes(value).label)
    return value


def _change_line(name: str, old, new) -> str:
    params = {
        "field": field_label(name),
        "old": display_value(old, name),
        "new": display_value(new, name),
    }
    if old in (None, "", []):
        return _("%(field)s set to %(new)s.") % params
    if new in (None, "", []):
        return _("%(field)s cleared (was %(old)s).") % params
    return _("%(field)s changed from %(old)s to %(new)s.") % params


def _diff_lines(changes: dict) -> list[str]:
    lines = []
    for name, pair in changes.items():
        reader = _CHANGE_KEY_LINES.get(name)
        if reader is not None:
            lines += reader(pair)
        elif isinstance(pair, list | tuple) and len(pair) == 2:
            lines.append(_change_line(name, pair[0], pair[1]))
        else:
            lines.append(_("%(field)s: %(value)s.") % _field_value(name, pair))
    return lines


def _field_value(name: str, value) -> dict:
    return {"field": field_label(name), "value": display_value(value, name)}


def _address_diff_lines(changes: dict) -> list[str]:
    return [
        _("%(field)s of the address changed from %(old)s to %(new)s.")
        % {
            "field": _label(Address, name),
            "old": display_value(pair[0], name),
            "new": display_value(pair[1], name),
        }
        for name, pair in changes.items()
        if isinstance(pair, list | tuple) and len(pair) == 2
    ]


def _tags_lines(names, *, added: bool) -> list[str]:
    names = names if isinstance(names, list) else [names]
    if not names:
        return []
    tags = ", ".join(str(name) for name in names)
    if added:
        return [
            ngettext("Tag added: %(tags)s.", "Tags added: %(tags)s.", len(names)) % {"tags": tags}
        ]
    return [
        ngettext("Tag removed: %(tags)s.", "Tags removed: %(tags)s.", len(names)) % {"tags": tags}
    ]


def _notes_changed_lines(value) -> list[str]:
    return [
        _("Note changed from “%(old)s” to “%(new)s”.")
        % {
            "old": display_value(n["changes"]["body"][0]),
            "new": display_value(n["changes"]["body"][1]),
        }
        for n in value
        if isinstance(n, dict) and "changes" in n
    ]


def moved_text(*, orders: int, notes: int, addresses: int) -> str:
    """'1 order, 2 notes and 3 addresses', each count with its own plural form."""
    return _("%(orders)s, %(notes)s and %(addresses)s") % {
        "orders": ngettext("%(count)d order", "%(count)d orders", orders) % {"count": orders},
        "notes": ngettext("%(count)d note", "%(count)d notes", notes) % {"count": notes},
        "addresses": ngettext("%(count)d address", "%(count)d addresses", addresses)
        % {"count": addresses},
    }


def _count(value) -> int:
    return len(value) if isinstance(value, list | dict) else int(value or 0)


def _moved(summary) -> str:
    summary = summary if isinstance(summary, dict) else {}
    return moved_text(
        orders=_count(summary.get("orders")),
        notes=_count(summary.get("notes")),
        addresses=_count(summary.get("addresses")),
    )


def _ids(ids) -> str:
    ids = ids if isinstance(ids, list) else [ids]
    return ", ".join(f"#{pk}" for pk in ids)


# How a payload key written by the editing, import and merge events reads, whatever the kind.
_KEY_LINES: dict[str, Callable[[Any], list[str]]] = {
    "changes": lambda v: _diff_lines(v) if isinstance(v, dict) else [],
    "tags": lambda v: _tags_lines(v, added=True),
    "tags_added": lambda v: _tags_lines(v, added=True),
    "tags_removed": lambda v: _tags_lines(v, added=False),
    "source": lambda v: [_("Source channel: %(source)s.") % {"source": display_value(v, "source")}],
    "addresses_added": lambda v: [
        _("Address added: %(address)s.") % {"address": a.get("address")} for a in v
    ],
    "addresses_removed": lambda v: [
        _("Address removed: %(address)s.") % {"address": a.get("address")} for a in v
    ],
    "addresses_changed": lambda v: [
        line for item in v for line in _address_diff_lines(item.get("changes") or {})
    ],
    "notes_changed": _notes_changed_lines,
    "notes_removed": lambda v: [
        _("Note removed: “%(body)s”.") % {"body": display_value(n.get("body"))} for n in v
    ],
    "note_added": lambda v: [_("Note added: “%(body)s”.") % {"body": display_value(v)}],
    "connection": lambda v: [
        _("Through the sales channel %(connection)s.") % {"connection": display_value(v)}
    ],
}
# Keys inside "changes" that are not a field's [old, new] pair.
_CHANGE_KEY_LINES = {key: _KEY_LINES[key] for key in ("tags_added", "tags_removed", "note_added")}


def _payload_lines(data: dict, special: dict[str, Callable[[Any], list[str]]] | None = None):
    lines: list[str] = []
    readers = {**_KEY_LINES, **(special or {})}
    for key, value in data.items():
        reader = readers.get(key)
        lines += reader(value) if reader else _unknown_lines(key, value)
    return lines


def _unknown_lines(key: str, value) -> list[str]:
    # A key no describer knows (an event written by a newer path): still shown, never fatal.
    return [f"{key.replace('_', ' ')}: {display_value(value)}"]


def _consent_lines(data: dict) -> list[str]:
    channel = _("Email marketing") if data.get("channel") == "email" else _("SMS marketing")
    return [
        capfirst(
            _("%(channel)s changed from %(old)s to %(new)s (source: %(source)s).")
            % {
                "channel": channel,
                "old": display_value(data.get("old"), "email_consent"),
                "new": display_value(data.get("new"), "email_consent"),
                "source": display_value(data.get("source")),
            }
        )
    ]


def _erasure_requested_lines(data: dict) -> list[str]:
    if "hold_days" not in data:
        return _payload_lines(data)
    days = _count(data["hold_days"])
    return [
        ngettext(
            "To be erased %(days)s day after the last order.",
            "To be erased %(days)s days after the last order.",
            days,
        )
        % {"days": days}
    ]


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
            _("Merged records erased too: %(ids)s") % {"ids": _ids(data["merged_records"])}
        )
    return lines


def _note_added_lines(data: dict) -> list[str]:
    return [_("Note: “%(body)s”.") % {"body": display_value(data.get("body"))}]


def _order_recorded_lines(data: dict) -> list[str]:
    return [
        _("Order %(number)s recorded: %(total)s %(currency)s")
        % {
            "number": display_value(data.get("number")),
            "total": display_value(data.get("total")),
            "currency": display_value(data.get("currency")),
        }
    ]


def _imported_lines(data: dict) -> list[str]:
    from customers.services.importing.formats import FORMAT_LABELS

    records = data.get("records") or []
    records = records if isinstance(records, list) else [records]
    fmt = data.get("format")
    lines = [
        ngettext(
            "From the file “%(file)s” (%(format)s), record %(records)s.",
            "From the file “%(file)s” (%(format)s), records %(records)s.",
            len(records),
        )
        % {
            "file": display_value(data.get("file")),
            "format": str(FORMAT_LABELS.get(fmt, display_value(fmt))),
            "records": ", ".join(str(number) for number in records) or "—",
        }
    ]
    if data.get("created"):
        lines.append(_("Created by the import."))
    rest = {k: v for k, v in data.items() if k not in ("file", "format", "records", "created")}
    return lines + _payload_lines(rest)


def _group_lines(data: dict) -> list[str]:
    old, new = data.get("from"), data.get("to")
    if not old:
        return [_("Added to the group %(group)s.") % {"group": display_value(new)}]
    if not new:
        return [_("Removed from the group %(group)s.") % {"group": display_value(old)}]
    return [
        _("Moved from the group %(old)s to the group %(new)s.")
        % {"old": display_value(old), "new": display_value(new)}
    ]


def _status_lines(data: dict) -> list[str]:
    status = data.get("status")
    if not (isinstance(status, list) and len(status) == 2):
        return _payload_lines(data)
    return [
        _("Status changed from %(old)s to %(new)s.")
        % {"old": display_value(status[0], "status"), "new": display_value(status[1], "status")}
    ]


def _emailed_lines(data: dict) -> list[str]:
    params = {"subject": display_value(data.get("subject"))}
    if data.get("marketing"):
        return [_("Marketing email “%(subject)s” sent.") % params]
    return [_("Email “%(subject)s” sent.") % params]


def _deleted_lines(data: dict) -> list[str]:
    if data.get("reason") == DELETION_REASON:
        return [_("Deleted through the guarded delete; no personal data was kept.")]
    # An event written before deletion kept no personal data (scrubbed by the next erasure run).
    label = phone_display_in_text(str(data.get("customer") or "—"))
    return [_("Deleted: %(customer)s.") % {"customer": label}]


def _merged_lines(data: dict) -> list[str]:
    moved = data.get("moved") if isinstance(data.get("moved"), dict) else {}
    lines = [
        _("%(ids)s merged into this customer: %(moved)s moved.")
        % {"ids": _ids(pk), "moved": _moved(summary)}
        for pk, summary in moved.items()
    ]
    if not moved and data.get("absorbed"):
        lines.append(_("%(ids)s merged into this customer.") % {"ids": _ids(data["absorbed"])})
    return (
        lines
        + _tags_lines(data.get("tags_added") or [], added=True)
        + _diff_lines(data.get("changes") or {})
    )


def _absorbed_lines(data: dict) -> list[str]:
    return [
        _("Merged into customer #%(id)s: %(moved)s moved.")
        % {"id": data.get("merged_into"), "moved": _moved(data.get("moved"))}
    ]


def _unmerged_lines(data: dict) -> list[str]:
    if "split_from" in data:
        return [
            _("Split from customer #%(id)s again, with %(moved)s.")
            % {"id": data["split_from"], "moved": _moved(data.get("moved_back"))}
        ]
    lines = [
        _("%(ids)s restored, with %(moved)s.")
        % {"ids": _ids(data.get("restored") or []), "moved": _moved(data.get("moved_back"))}
    ]
    fields = data.get("fields_restored") or []
    if fields:
        lines.append(
            _("Values restored: %(fields)s.")
            % {"fields": ", ".join(field_label(name) for name in fields)}
        )
    return lines


# The words beside each writer above, one describer per kind.
DESCRIBERS: dict[str, Callable[[dict], list[str]]] = {
    EventKind.CREATED: _payload_lines,
    EventKind.UPDATED: _payload_lines,
    EventKind.TAGS_ADDED: lambda d: _tags_lines(d.get("tags") or [], added=True),
    EventKind.TAGS_REMOVED: lambda d: _tags_lines(d.get("tags") or [], added=False),
    EventKind.GROUP_CHANGED: _group_lines,
    EventKind.ARCHIVED: _status_lines,
    EventKind.UNARCHIVED: _status_lines,
    EventKind.EMAILED: _emailed_lines,
    EventKind.DELETED: _deleted_lines,
    EventKind.MERGED: _merged_lines,
    EventKind.ABSORBED: _absorbed_lines,
    EventKind.UNMERGED: _unmerged_lines,
    EventKind.IMPORTED: _imported_lines,
    EventKind.CONSENT_CHANGED: _consent_lines,
    EventKind.ERASURE_REQUESTED: _erasure_requested_lines,
    EventKind.ERASURE_CANCELLED: lambda d: [],
    EventKind.REDACTED: _redacted_lines,
    EventKind.PERSONAL_DATA_EXPORTED: lambda d: [],
    EventKind.NOTE_ADDED: _note_added_lines,
    EventKind.ORDER_RECORDED: _order_recorded_lines,
}


def event_lines(event: CustomerEvent) -> list[str]:
    """Describe what an event recorded, one sentence per change.

    Events written by any path are shown: a shape its describer does not know falls back to
    one line per item rather than failing the page.
    """
    data = event.data if isinstance(event.data, dict) else {}
    try:
        return DESCRIBERS.get(event.kind, _payload_lines)(data)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        data = event.data if isinstance(event.data, dict) else {"data": event.data}
        return [line for key, value in data.items() for line in _unknown_lines(key, value)]


# === segments ===============================================================================
# A segment concerns no customer: its events are the admin's own log entries, shown on the
# segment's history page in the admin's words ("Changed Name and Conditions.").


def segment_changed_event(
    *, actor: AbstractBaseUser, segment, action: str, fields: Sequence[str] = ()
) -> LogEntry:
    """Record that ``actor`` created, changed (``fields``: verbose names) or deleted ``segment``."""
    # Imported here so this section stays appended to the module, apart from the customer events.
    from django.contrib.admin.models import ADDITION, CHANGE, DELETION

    flags = {"created": ADDITION, "changed": CHANGE, "deleted": DELETION}
    message = {
        "created": [{"added": {}}],
        "changed": [{"changed": {"fields": list(fields)}}],
        "deleted": [],
    }[action]
    return LogEntry.objects.create(
        user_id=actor.pk,
        content_type=ContentType.objects.get_for_model(segment, for_concrete_model=False),
        object_id=str(segment.pk),
        object_repr=str(segment)[:200],
        action_flag=flags[action],
        change_message=json.dumps(message) if message else "",
    )


# === mass update ============================================================================
# One event per customer for "Edit selected customers", carrying every change it made to that
# customer, instead of one event per change (500,000 rows for five changes on 100,000). The
# changes sit where the readers of the other kinds look for them: field pairs, consent pairs
# and the note's text under "changes" (the consent history, the timeline's consent and notes
# filters, hidden notes), the group move and the tags beside it.

MASS_PART_KINDS = (
    EventKind.GROUP_CHANGED,
    EventKind.TAGS_ADDED,
    EventKind.TAGS_REMOVED,
    EventKind.UPDATED,
    EventKind.CONSENT_CHANGED,
)


def _mass_payload(parts: Sequence[tuple[str, dict]], note: str) -> dict:
    """MASS_UPDATED's payload from the payloads each change's own event would have had."""
    data: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    for kind, payload in parts:
        if kind == EventKind.GROUP_CHANGED:
            data["group"] = {"from": payload["from"], "to": payload["to"]}
        elif kind in (EventKind.TAGS_ADDED, EventKind.TAGS_REMOVED):
            added = kind == EventKind.TAGS_ADDED
            data["tags_added" if added else "tags_removed"] = list(payload["tags"])
        elif kind == EventKind.UPDATED:
            changes.update(payload["changes"])
        else:  # CONSENT_CHANGED, always from the admin's mass update
            changes[f"{payload['channel']}_consent"] = [payload["old"], payload["new"]]
    if note:
        changes["note_added"] = note
    if changes:
        data["changes"] = changes
    return data


def customers_mass_updated_events(
    *,
    actor: Actor,
    parts: Sequence[tuple[str, dict[int, dict]]],
    note: str = "",
    noted: Iterable[int] = (),
) -> list[int]:
    """Write one event per customer a mass update changed; return who only got the note.

    ``parts`` pairs a kind of ``MASS_PART_KINDS`` with its payload per customer (dicts shared
    by the customers with the same change); ``noted`` are the customers given the note
    ``note``. A customer with two changes or more gets one MASS_UPDATED carrying them all; a
    customer with one change gets that change's own event, as a single-change action writes
    it. The customers whose one change is the note are returned: their NOTE_ADDED, which
    holds the new note's id, is the caller's to write.
    """
    noted = set(noted)
    customers = noted.union(*(by_customer.keys() for _kind, by_customer in parts))
    by_key: dict[tuple, list[int]] = defaultdict(list)
    for pk in sorted(customers):
        key = tuple(
            id(by_customer.get(pk)) if pk in by_customer else 0 for _k, by_customer in parts
        )
        by_key[(*key, pk in noted)].append(pk)
    mass: dict[int, dict] = {}
    single: list[dict[int, dict]] = [{} for _part in parts]
    note_only: list[int] = []
    for key, pks in by_key.items():
        present = [index for index, part_id in enumerate(key[:-1]) if part_id]
        if len(present) + key[-1] >= 2:
            first = pks[0]
            payload = _mass_payload(
                [(parts[i][0], parts[i][1][first]) for i in present], note if key[-1] else ""
            )
            mass.update(dict.fromkeys(pks, payload))
        elif present:
            by_customer = parts[present[0]][1]
            single[present[0]].update((pk, by_customer[pk]) for pk in pks)
        else:
            note_only += pks
    for (kind, _by_customer), data_by_customer in zip(parts, single, strict=True):
        if data_by_customer:
            events_write_by_data(actor=actor, kind=kind, data_by_customer=data_by_customer)
    if mass:
        events_write_by_data(actor=actor, kind=EventKind.MASS_UPDATED, data_by_customer=mass)
    return sorted(note_only)


def _mass_updated_lines(data: dict) -> list[str]:
    # Newest first, as the history page listed the one-per-change events this one replaces:
    # the note, consent (SMS, email), the fields, the tags removed, added, the group.
    changes = data.get("changes") or {}
    lines: list[str] = []
    if "note_added" in changes:
        lines += _note_added_lines({"body": changes["note_added"]})
    consent = [f"{channel}_consent" for channel in reversed(CONSENT_CHANNELS)]
    for name in consent:
        pair = changes.get(name)
        if isinstance(pair, list | tuple) and len(pair) == 2:
            channel = name.removesuffix("_consent")
            source = ConsentSource.ADMIN
            lines += _consent_lines(
                {"channel": channel, "old": pair[0], "new": pair[1], "source": source}
            )
    lines += _diff_lines({k: v for k, v in changes.items() if k not in (*consent, "note_added")})
    lines += _tags_lines(data.get("tags_removed") or [], added=False)
    lines += _tags_lines(data.get("tags_added") or [], added=True)
    if isinstance(data.get("group"), dict):
        lines += _group_lines(data["group"])
    return lines


DESCRIBERS[EventKind.MASS_UPDATED] = _mass_updated_lines
