"""Editing many customers at once ("Edit selected customers"): one call, several fields.

The group and tag changes are the grouping and tagging services themselves, called on the
locked selection inside this one transaction; tax exemption, the active subscription, marketing
consent and a note are written here set-based, each with the events the single-customer paths
write (UPDATED with the field's ``[old, new]``, CONSENT_CHANGED, NOTE_ADDED). Consent only goes
down, by the merge's ranking: a bulk edit never subscribes anybody.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import JSONObject
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.audit.events import (
    Actor,
    actor_fields,
    customers_consent_changed_events,
    customers_updated_events,
    field_label,
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
from customers.models import Consent, ConsentSource, CustomerEvent, EventKind, Note, Status
from customers.services.consent import CHANNELS
from customers.services.editing import GROUP_PERMISSION, TAG_PERMISSION, actor_may
from customers.services.grouping import customers_assign_group, customers_remove_group
from customers.services.merge import CONSENT_RANK
from customers.services.tagging import customers_add_tags, customers_remove_tags, tag_names_clean
from groups.models import CustomerGroup

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
    the same mass update posted twice changes nothing the second time. A few queries per batch
    of 10,000 customers, whatever the number of changes.
    """
    mass_update_check(actor=actor, changes=changes)
    ids = selection_lock(customers)
    rows = _rows(ids)
    editable = [pk for pk, row in rows.items() if row["status"] not in SKIPPED_STATUSES]
    result = MassUpdateResult(selected=len(ids), skipped=len(ids) - len(editable), changed=0)
    tagged: set[int] = set()
    if "group" in changes.requested:
        _group(actor, editable, changes, result)
    if changes.add_tags:
        added = customers_add_tags(actor=actor, customers=editable, names=changes.add_tags)
        result.tags_added, result.counts["add_tags"] = added.per_tag, added.changed
        tagged.update(added.changed_ids)
    if changes.remove_tags:
        gone = customers_remove_tags(actor=actor, customers=editable, names=changes.remove_tags)
        result.tags_removed, result.counts["remove_tags"] = gone.per_tag, gone.changed
        tagged.update(gone.changed_ids)
    note = changes.note.strip()
    noted = _note_targets(actor, editable, note) if note else []
    # One pass over the rows for the flags, consent and the notes' version bump.
    _fields(actor, editable, rows, changes, result, also_bump=noted)
    if note:
        result.counts["note"] = _notes_add(actor, noted, note)
    result.changed = _changed_count(rows, tagged)
    return result


def _rows(ids: list[int]) -> dict[int, dict]:
    """What the changes compare with, read after the lock: status, flags, consent, version."""
    names = ("pk", "status", "version", *FLAGS, *(f"{c}_consent" for c in CHANNELS))
    rows: dict[int, dict] = {}
    for batch in id_batches(ids):
        for values in customers_with_ids(batch).values_list(*names):
            rows[values[0]] = dict(zip(names, values, strict=True))
    return rows


def _changed_count(rows: dict[int, dict], tagged: set[int]) -> int:
    # The row writers move the version of what they changed; tag changes leave the row alone
    # and say which customers they changed.
    ids = sorted(rows)
    changed = 0
    for batch in id_batches(ids):
        for pk, version in customers_with_ids(batch).values_list("pk", "version"):
            changed += version != rows[pk]["version"] or pk in tagged
    return changed


def _group(actor: Actor, ids: list[int], changes: MassUpdate, result: MassUpdateResult) -> None:
    if changes.clear_group:
        moved = customers_remove_group(actor=actor, customers=ids)
    else:
        moved = customers_assign_group(
            actor=actor, customers=ids, group=changes.group, group_name=changes.group_name
        )
    result.counts["group"] = moved.changed
    result.group = moved.group.name if moved.group else ""
    result.group_created = moved.group_created


def _fields(
    actor: Actor,
    ids: list[int],
    rows: dict,
    changes: MassUpdate,
    result: MassUpdateResult,
    also_bump: list[int],
) -> None:
    """Write tax exemption, the active subscription and consent in one UPDATE per batch, with
    the events the change form writes: UPDATED (``[old, new]`` per flag), CONSENT_CHANGED."""
    flags = {name: getattr(changes, name) for name in FLAGS if getattr(changes, name) is not None}
    consent = {
        channel: state
        for channel in CHANNELS
        if (state := getattr(changes, f"{channel}_consent")) is not None
    }
    if not flags and not consent:
        versions_bump(also_bump)
        return
    updated = _flag_events(ids, rows, flags, result)
    lowered = {
        channel: _consent_events(ids, rows, channel, state, result)
        for channel, state in consent.items()
    }
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
    # Customers left out already hold the flags' values and a consent no higher than asked.
    changed = set(updated).union(also_bump, *lowered.values())
    versions_bump(sorted(changed), **values)
    customers_updated_events(actor=actor, data_by_customer=updated)
    for data_by_customer in lowered.values():
        customers_consent_changed_events(actor=actor, data_by_customer=data_by_customer)


def _flag_events(ids: list[int], rows: dict, flags: dict, result: MassUpdateResult) -> dict:
    payloads: dict[tuple[str, ...], dict] = {}
    data_by_customer: dict[int, dict] = {}
    for pk in ids:
        key = tuple(name for name, value in flags.items() if rows[pk][name] != value)
        if key:
            # One dict per combination of changed fields, shared: the audit groups events by it.
            if key not in payloads:
                payloads[key] = {"changes": {n: [not flags[n], flags[n]] for n in key}}
            data_by_customer[pk] = payloads[key]
    for name, value in flags.items():
        result.counts[name] = sum(rows[pk][name] != value for pk in ids)
    return data_by_customer


def _consent_events(
    ids: list[int], rows: dict, channel: str, state: str, result: MassUpdateResult
) -> dict:
    attr = f"{channel}_consent"
    payloads: dict[str, dict] = {}
    data_by_customer: dict[int, dict] = {}
    for pk in ids:
        old = rows[pk][attr]
        if CONSENT_RANK.get(old, 0) > CONSENT_RANK[state]:
            if old not in payloads:
                payloads[old] = {
                    "channel": channel,
                    "old": old,
                    "new": state,
                    "source": ConsentSource.ADMIN,
                }
            data_by_customer[pk] = payloads[old]
    result.counts[attr] = len(data_by_customer)
    return data_by_customer


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


def _notes_add(actor: Actor, ids: list[int], body: str) -> int:
    """Add the note to each of these customers; return how many.

    The database builds the notes and their NOTE_ADDED events (as note_added_event writes them:
    the note's id and text) from the customers' rows: no Python object per note.
    """
    if not ids:
        return 0
    author_id = _author_id(actor)
    before = Note.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    now = timezone.now()
    note = {
        "_customer": F("pk"),
        "_author": Value(author_id, output_field=models.IntegerField()),
        "_body": Value(body, output_field=models.TextField()),
        "_at": Value(now, output_field=models.DateTimeField()),
    }
    event = {
        "_customer": F("customer_id"),
        "_ref": F("customer_id"),
        "_actor": Value(author_id, output_field=models.IntegerField()),
        "_label": Value(actor_fields(actor)["actor_label"], output_field=models.CharField()),
        "_kind": Value(EventKind.NOTE_ADDED, output_field=models.CharField()),
        "_data": JSONObject(id=F("pk"), body=F("body")),
        "_at": Value(now, output_field=models.DateTimeField()),
    }
    event_columns = ["customer", "customer_ref", "actor", "actor_label", "kind", "data"]
    for batch in id_batches(ids):
        select = customers_with_ids(batch).annotate(**note).values_list(*note)
        insert_from_select(Note, ["customer", "author", "body", "created_at"], select)
        added = Note.objects.filter(IdIn(F("customer_id"), batch), pk__gt=before, body=body)
        select = added.filter(author_id=author_id).annotate(**event).values_list(*event)
        insert_from_select(CustomerEvent, [*event_columns, "created_at"], select)
    return len(ids)
