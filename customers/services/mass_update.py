"""Editing many customers at once ("Edit selected customers"): one call, several fields.

One lock pass over the selection (primary-key order) reads what the changes compare with; ONE
UPDATE per batch of customers then writes every row change (group, tax exemption, the active
subscription, marketing consent, the version); tags are link rows, added and removed without
touching the customer rows. Each customer changed gets ONE event, set-based: MASS_UPDATED
carrying every change made to it (the group move, the tags, the fields' ``[old, new]``, consent,
the note's text), or, when only one thing changed for it, the event its single-change path
writes (GROUP_CHANGED, TAGS_ADDED / TAGS_REMOVED, UPDATED, CONSENT_CHANGED, NOTE_ADDED). Consent
only goes down, by the merge's ranking: a bulk edit never subscribes anybody.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.audit.events import (
    Actor,
    actor_fields,
    customers_mass_updated_events,
    field_label,
    notes_added_events,
)
from customers.db.bulk import (
    IdIn,
    Selection,
    customers_with_ids,
    id_batches,
    insert_from_select,
    versions_bump,
)
from customers.db.locks import selection_lock
from customers.models import (
    Consent,
    ConsentSource,
    EventKind,
    Note,
    Status,
    Tag,
)
from customers.services.consent import CHANNELS
from customers.services.editing import GROUP_PERMISSION, TAG_PERMISSION, actor_may
from customers.services.merge import CONSENT_RANK
from customers.services.tagging import (
    TAG_NAMES_EMPTY,
    tag_links_add,
    tag_links_remove,
    tag_names_clean,
    tags_resolve,
)
from groups.models import CustomerGroup
from groups.services import group_get_or_create

MASS_NOTHING_TO_CHANGE = _("Choose at least one change.")
MASS_CONSENT_UPGRADE = _(
    "A bulk edit only withdraws marketing consent: nobody can be subscribed this way."
)
MASS_TAGS_BOTH = _("A tag cannot be added and removed at once: %(tags)s.")
MASS_GROUP_CHOOSE_ONE = _("Choose one group change: a group, a new group or no group.")
MASS_FIELD_NOT_ALLOWED = _("You do not have the permission to change “%(field)s”.")

CHANGE_PERMISSION = "customers.change_customer"
NOTE_PERMISSION = "customers.add_note"
# What each change needs: what the action or form that makes it one customer at a time needs.
FIELD_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "group": (GROUP_PERMISSION,),
    "tax_exempt": (CHANGE_PERMISSION,),
    "email_consent": (CHANGE_PERMISSION,),
    "sms_consent": (CHANGE_PERMISSION,),
    "has_active_subscription": (CHANGE_PERMISSION,),
    "add_tags": (TAG_PERMISSION,),
    "remove_tags": (TAG_PERMISSION,),
    "note": (CHANGE_PERMISSION, NOTE_PERMISSION),
}
# The states a bulk edit may set: below "subscribed" in the merge's ranking, most restrictive first.
CONSENT_WITHDRAWALS = tuple(
    sorted(
        (s for s, rank in CONSENT_RANK.items() if rank < CONSENT_RANK[Consent.SUBSCRIBED]),
        key=CONSENT_RANK.__getitem__,
    )
)
# A merged record lives on in its survivor; an erased one is a husk nobody edits.
SKIPPED_STATUSES = (Status.MERGED, Status.REDACTED)
FLAGS = ("tax_exempt", "has_active_subscription")


@dataclass(frozen=True)
class MassUpdate:
    """The changes of one mass update; a field left None (tags, note: empty) is left alone.

    The group is set with ``group`` (an existing one) or ``group_name`` (found or created), or
    removed with ``clear_group``.
    """

    group: CustomerGroup | None = None
    group_name: str = ""
    clear_group: bool = False
    tax_exempt: bool | None = None
    email_consent: str | None = None
    sms_consent: str | None = None
    has_active_subscription: bool | None = None
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    note: str = ""

    @property
    def requested(self) -> list[str]:
        """The changes asked for, as keys of ``FIELD_PERMISSIONS``."""
        asked = {
            "group": bool(self.group or self.group_name.strip() or self.clear_group),
            "add_tags": bool(self.add_tags),
            "remove_tags": bool(self.remove_tags),
            "note": bool(self.note.strip()),
        }
        return [
            name
            for name in FIELD_PERMISSIONS
            if asked.get(name, getattr(self, name, None) is not None)
        ]

    def as_data(self) -> dict:
        """The changes as JSON (a background job's parameters)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["group"] = self.group.pk if self.group else None
        data["add_tags"], data["remove_tags"] = list(self.add_tags), list(self.remove_tags)
        return data

    @classmethod
    def from_data(cls, data: dict) -> MassUpdate:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        group = data.get("group")
        values["group"] = CustomerGroup.objects.get(pk=group) if group else None
        values["add_tags"] = tuple(data.get("add_tags") or ())
        values["remove_tags"] = tuple(data.get("remove_tags") or ())
        return cls(**values)


@dataclass
class MassUpdateResult:
    """What a mass update did. ``counts``: per change asked for, the customers it changed."""

    selected: int
    skipped: int
    changed: int
    counts: dict[str, int] = field(default_factory=dict)
    tags_added: dict[str, int] = field(default_factory=dict)
    tags_removed: dict[str, int] = field(default_factory=dict)
    group: str = ""
    group_created: bool = False


def mass_update_fields_allowed(actor: Actor) -> list[str]:
    """The changes ``actor`` may make in a mass update (keys of ``FIELD_PERMISSIONS``)."""
    return [
        name
        for name, permissions in FIELD_PERMISSIONS.items()
        if all(actor_may(actor, permission) for permission in permissions)
    ]


def mass_update_check(*, actor: Actor, changes: MassUpdate) -> None:
    """Refuse a mass update that asks nothing, too much, or what ``actor`` may not do."""
    requested = changes.requested
    if not requested:
        raise ValidationError(MASS_NOTHING_TO_CHANGE, code="nothing_to_change")
    allowed = mass_update_fields_allowed(actor)
    for name in requested:
        if name not in allowed:
            raise ValidationError(
                MASS_FIELD_NOT_ALLOWED,
                code="field_not_allowed",
                params={"field": mass_update_label(name)},
            )
    group_ways = [bool(changes.group), bool(changes.group_name.strip()), changes.clear_group]
    if sum(group_ways) > 1:
        raise ValidationError(MASS_GROUP_CHOOSE_ONE, code="group_choose_one")
    for channel in CHANNELS:
        state = getattr(changes, f"{channel}_consent")
        if state is not None and state not in CONSENT_WITHDRAWALS:
            raise ValidationError(MASS_CONSENT_UPGRADE, code="consent_upgrade")
    removed = {name.casefold() for name in tag_names_clean(changes.remove_tags)}
    both = [name for name in tag_names_clean(changes.add_tags) if name.casefold() in removed]
    if both:
        raise ValidationError(
            MASS_TAGS_BOTH, code="tags_add_and_remove", params={"tags": ", ".join(both)}
        )


def mass_update_label(name: str) -> str:
    """How a change is named to staff ("Tax exempt", "Add tags")."""
    labels = {"add_tags": _("Add tags"), "remove_tags": _("Remove tags"), "note": _("Note")}
    return str(labels.get(name) or field_label(name))


@transaction.atomic
def customers_mass_update(
    *, actor: Actor, customers: Selection, changes: MassUpdate
) -> MassUpdateResult:
    """Apply ``changes`` to the selected customers in one transaction; say what changed.

    Merged and erased customers are skipped. Customers that already have a value keep it and
    are not counted; a note already on a customer from the same author is not added again, so
    the same mass update posted twice changes nothing the second time. One lock pass that also
    reads what the changes compare with, ONE UPDATE per batch of 10,000 customers for every row
    change (and the version), and one event per customer changed, set-based: a few queries per
    batch whatever the number of changes.
    """
    mass_update_check(actor=actor, changes=changes)
    group, group_created = _group_target(actor, changes)
    add_tags, remove_tags, unknown_tags = _tags_target(changes)
    columns = _columns(changes)
    locked_rows = selection_lock(customers, values=columns)
    at = {name: index for index, name in enumerate(("pk", *columns))}
    rows = [row for row in locked_rows if row[at["status"]] not in SKIPPED_STATUSES]
    result = MassUpdateResult(
        selected=len(locked_rows), skipped=len(locked_rows) - len(rows), changed=0
    )
    editable = [row[0] for row in rows]
    moves = _group_moves(rows, at, group) if "group" in changes.requested else None
    flags = {name: getattr(changes, name) for name in FLAGS if getattr(changes, name) is not None}
    updated = _flag_events(rows, at, flags, result)
    consent = {
        channel: state
        for channel in CHANNELS
        if (state := getattr(changes, f"{channel}_consent")) is not None
    }
    lowered = {
        channel: _consent_events(rows, at, channel, state, result)
        for channel, state in consent.items()
    }
    note = changes.note.strip()
    noted = _note_targets(actor, editable, note) if note else []
    rewritten = set(updated).union(moves or (), noted, *lowered.values())
    values = _row_values(flags, consent)
    if moves is not None:
        values["group_id"] = group.pk if group else None
    # Every customer whose row changes, once: the target values are the same for all of them
    # (those already holding one get it again), consent is lowered by a CASE on its own column.
    versions_bump(sorted(rewritten), **values)
    if moves is not None:
        result.counts["group"] = len(moves)
        result.group, result.group_created = (group.name if group else ""), group_created
    gained = _tags_add(add_tags, editable, result) if add_tags else {}
    lost = _tags_remove(remove_tags, editable, result) if changes.remove_tags else {}
    if changes.remove_tags:
        result.tags_removed.update(dict.fromkeys(unknown_tags, 0))
    # The parts in the order the single changes write their events.
    parts = [
        (EventKind.GROUP_CHANGED, moves or {}),
        (EventKind.TAGS_ADDED, gained),
        (EventKind.TAGS_REMOVED, lost),
        (EventKind.UPDATED, updated),
        *((EventKind.CONSENT_CHANGED, by_customer) for by_customer in lowered.values()),
    ]
    note_only = customers_mass_updated_events(actor=actor, parts=parts, note=note, noted=noted)
    if note:
        result.counts["note"] = _notes_add(actor, noted, note, events_for=note_only)
    result.changed = len(rewritten.union(gained, lost))
    return result


def _group_target(actor: Actor, changes: MassUpdate) -> tuple[CustomerGroup | None, bool]:
    """The group asked for (found or created by name), and whether it was created."""
    if changes.group_name.strip():
        return group_get_or_create(actor=actor, name=changes.group_name)
    return changes.group, False


def _tags_target(changes: MassUpdate) -> tuple[list[Tag], list[Tag], list[str]]:
    """The tags to add (created once if new), to remove, and the names to remove no tag has."""
    add: list[Tag] = []
    remove: list[Tag] = []
    unknown: list[str] = []
    if changes.add_tags:
        add, _missing = tags_resolve(names=changes.add_tags, create=True)
        if not add:
            raise ValidationError(TAG_NAMES_EMPTY, code="tags_empty")
    if changes.remove_tags:
        wanted = tag_names_clean(changes.remove_tags)
        if not wanted:
            raise ValidationError(TAG_NAMES_EMPTY, code="tags_empty")
        remove, unknown = tags_resolve(names=wanted, create=False)
    return add, remove, unknown


def _columns(changes: MassUpdate) -> tuple[str, ...]:
    """The columns the changes asked for compare with (besides the key)."""
    asked = changes.requested
    columns = ["status"]
    if "group" in asked:
        columns.append("group_id")
    columns += [name for name in (*FLAGS, *(f"{c}_consent" for c in CHANNELS)) if name in asked]
    return tuple(columns)


def _group_moves(rows: list[tuple], at: dict, group: CustomerGroup | None) -> dict[int, dict]:
    """GROUP_CHANGED's payload per customer that moves: the group it leaves and the target."""
    target = group.pk if group else None
    column = at["group_id"]
    old_ids = {row[0]: row[column] for row in rows if row[column] != target}
    names: dict[int | None, str | None] = {None: None}
    if group is not None:
        names[group.pk] = group.name
    missing = {gid for gid in old_ids.values() if gid not in names}
    if missing:
        names.update(CustomerGroup.objects.filter(pk__in=missing).values_list("pk", "name"))
    # One dict per previous group, shared: the audit groups events by it.
    payloads = {old: {"from": names[old], "to": names[target]} for old in set(old_ids.values())}
    return {pk: payloads[old] for pk, old in old_ids.items()}


def _row_values(flags: dict, consent: dict) -> dict:
    """The flags' values, and each channel's consent lowered where it is higher than asked."""
    now = timezone.now()
    values: dict = dict(flags)
    for channel, state in consent.items():
        # Only where it lowers consent (the merge's rule: the most restrictive state wins);
        # the same fields consent_apply sets on one customer.
        attr = f"{channel}_consent"
        higher = [s for s, rank in CONSENT_RANK.items() if rank > CONSENT_RANK[state]]
        for name, value in (
            (attr, state),
            (f"{attr}_updated_at", now),
            (f"{attr}_source", ConsentSource.ADMIN),
        ):
            values[name] = Case(When(**{f"{attr}__in": higher}, then=Value(value)), default=F(name))
    return values


def _flag_events(rows: list[tuple], at: dict, flags: dict, result: MassUpdateResult) -> dict:
    """UPDATED's payload per customer whose flags change: ``[old, new]`` per flag."""
    payloads: dict[tuple[str, ...], dict] = {}
    data_by_customer: dict[int, dict] = {}
    counts = dict.fromkeys(flags, 0)
    positions = [(name, value, at[name]) for name, value in flags.items()]
    for row in rows:
        key = tuple(name for name, value, column in positions if row[column] != value)
        if key:
            # One dict per combination of changed fields, shared: the audit groups events by it.
            if key not in payloads:
                payloads[key] = {"changes": {n: [not flags[n], flags[n]] for n in key}}
            data_by_customer[row[0]] = payloads[key]
            for name in key:
                counts[name] += 1
    result.counts.update(counts)
    return data_by_customer


def _consent_events(
    rows: list[tuple], at: dict, channel: str, state: str, result: MassUpdateResult
) -> dict:
    """CONSENT_CHANGED's payload per customer whose consent on ``channel`` is lowered."""
    column = at[f"{channel}_consent"]
    payloads: dict[str, dict] = {}
    data_by_customer: dict[int, dict] = {}
    for row in rows:
        old = row[column]
        if CONSENT_RANK.get(old, 0) > CONSENT_RANK[state]:
            if old not in payloads:
                payloads[old] = {
                    "channel": channel,
                    "old": old,
                    "new": state,
                    "source": ConsentSource.ADMIN,
                }
            data_by_customer[row[0]] = payloads[old]
    result.counts[f"{channel}_consent"] = len(data_by_customer)
    return data_by_customer


def _tags_add(tags: list[Tag], ids: list[int], result: MassUpdateResult) -> dict[int, dict]:
    """Link the tags to the (already locked) customers; return TAGS_ADDED's payload per gainer.

    What customers_add_tags does after its own lock pass: one INSERT per tag and batch, the
    database saying which links were new. The customer rows are not rewritten for tags.
    """
    gained = tag_links_add(ids, tags)
    payloads, result.tags_added = _tags_payloads(tags, gained)
    result.counts["add_tags"] = len(gained)
    return payloads


def _tags_remove(tags: list[Tag], ids: list[int], result: MassUpdateResult) -> dict[int, dict]:
    """Unlink the tags from the (already locked) customers; return TAGS_REMOVED's payloads."""
    lost = tag_links_remove(ids, [tag.pk for tag in tags])
    payloads, result.tags_removed = _tags_payloads(tags, lost)
    result.counts["remove_tags"] = len(lost)
    return payloads


def _tags_payloads(
    tags: list[Tag], changed: dict[int, list[int]]
) -> tuple[dict[int, dict], dict[str, int]]:
    """The tag events' payloads as the tagging service writes them, and the count per tag name."""
    names = {tag.pk: tag.name for tag in tags}
    order = {tag.pk: index for index, tag in enumerate(tags)}
    payloads: dict[tuple[int, ...], dict] = {}

    def payload(tag_ids: list[int]) -> dict:
        # One dict per combination of tags, shared: the audit groups events by it.
        key = tuple(sorted(tag_ids, key=order.__getitem__))
        if key not in payloads:
            payloads[key] = {"tags": [names[t] for t in key]}
        return payloads[key]

    counts = Counter(tag_id for tag_ids in changed.values() for tag_id in tag_ids)
    payload_by_customer = {pk: payload(changed[pk]) for pk in sorted(changed)}
    return payload_by_customer, {tag.name: counts.get(tag.pk, 0) for tag in tags}


def _note_targets(actor: Actor, ids: list[int], body: str) -> list[int]:
    """The customers without this note from this author yet (a second click adds none)."""
    author_id = _author_id(actor)
    have: set[int] = set()
    for batch in id_batches(ids):
        notes = Note.objects.filter(IdIn(F("customer_id"), batch), body=body, author_id=author_id)
        have.update(notes.values_list("customer_id", flat=True))
    return [pk for pk in ids if pk not in have]


def _author_id(actor: Actor) -> int | None:
    user = actor_fields(actor)["actor"]
    return user.pk if user is not None else None


def _notes_add(actor: Actor, ids: list[int], body: str, *, events_for: list[int]) -> int:
    """Add the note to each of these customers; return how many.

    The database builds the notes, and the NOTE_ADDED events of ``events_for`` (the customers
    whose one change is the note) from the new note rows: no Python object per note.
    """
    if not ids:
        return 0
    author_id = _author_id(actor)
    before = Note.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    note = {
        "_customer": F("pk"),
        "_author": Value(author_id, output_field=models.IntegerField()),
        "_body": Value(body, output_field=models.TextField()),
        "_at": Value(timezone.now(), output_field=models.DateTimeField()),
    }
    for batch in id_batches(ids):
        select = customers_with_ids(batch).annotate(**note).values_list(*note)
        insert_from_select(Note, ["customer", "author", "body", "created_at"], select)
    for batch in id_batches(events_for):
        added = Note.objects.filter(IdIn(F("customer_id"), batch), pk__gt=before, body=body)
        notes_added_events(actor=actor, notes=added.filter(author_id=author_id))
    return len(ids)
