"""Creating and editing one customer by hand (the admin's change form)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from customers.audit.events import (
    Actor,
    consent_changed_event,
    customer_created_event,
    customer_updated_event,
    note_added_event,
)
from customers.db.locks import customer_lock
from customers.models import (
    Address,
    Channel,
    ConsentSource,
    Customer,
    CustomerEvent,
    EventKind,
    Note,
    Status,
)
from customers.personal_data import (
    ADDRESS_PERSONAL_FIELDS,
    CUSTOMER_AUDITED_BOOKKEEPING,
    CUSTOMER_IDENTITY_FIELDS,
)
from customers.services.consent import CHANNELS, consent_apply
from customers.services.duplicate_keys import duplicate_keys_refresh
from customers.services.tagging import tags_resolve

# Fields whose change the audit trail records; consent has its own event.
AUDITED_FIELDS = (
    *CUSTOMER_IDENTITY_FIELDS,
    *CUSTOMER_AUDITED_BOOKKEEPING,
    "has_active_subscription",
)
# Fields other services own (merge, erasure, archive): the change form never writes them, even
# if the object it was given was read before such a service changed the row.
SERVICE_OWNED_FIELDS = (
    "source",
    "status",
    "merged_into_id",
    "erasure_requested_at",
    "erasure_requested_by_id",
    "created_at",
)
AUDITED_ADDRESS_FIELDS = ("is_default", *ADDRESS_PERSONAL_FIELDS)

STALE_EDIT = _(
    "%(who)s saved this customer on %(when)s (%(what)s), after you opened it. Your changes "
    "were not saved; they are kept below. Check them against the customer's history, then "
    "save again to keep them."
)
STALE_EDIT_UNKNOWN = _("another user")
REDACTED_READ_ONLY = _("This customer's personal data was erased: it cannot be edited.")
VERSION_MISSING = _("This form has no version: reload the page and enter your changes again.")
TAGS_NOT_ALLOWED = _("You do not have the permission to change customers' tags.")
GROUP_NOT_ALLOWED = _("You do not have the permission to change customers' group.")
TAG_CREATE_NOT_ALLOWED = _(
    "You do not have the permission to create tags, and these do not exist yet: %(tags)s."
)
TAG_PERMISSION = "customers.tag_customer"
TAG_CREATE_PERMISSION = "customers.add_tag"
GROUP_PERMISSION = "customers.group_customer"


def actor_may(actor: Actor, permission: str) -> bool:
    """Whether ``actor`` holds ``permission``; work without a user (a command) may everything."""
    return not isinstance(actor, AbstractBaseUser) or actor.has_perm(permission)


def _field_permissions_check(
    actor: Actor, *, group_changed: bool, tags: list[str] | None, before_tags: set[str]
) -> None:
    """Refuse a tag or group change the actor may not make, whatever form sent it."""
    if group_changed and not actor_may(actor, GROUP_PERMISSION):
        raise ValidationError(GROUP_NOT_ALLOWED, code="group_not_allowed")
    if tags is None or {t.lower() for t in tags} == {t.lower() for t in before_tags}:
        return
    if not actor_may(actor, TAG_PERMISSION):
        raise ValidationError(TAGS_NOT_ALLOWED, code="tags_not_allowed")
    _found, missing = tags_resolve(names=tags, create=False)
    if missing and not actor_may(actor, TAG_CREATE_PERMISSION):
        raise ValidationError(
            TAG_CREATE_NOT_ALLOWED,
            code="tag_create_not_allowed",
            params={"tags": ", ".join(missing)},
        )


def _plain(value):
    """Make a field value JSON-friendly for the audit trail."""
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return str(value)
    return value


@dataclass
class RelatedEdits:
    """What the change form's inlines did, unsaved: the service saves and records it."""

    addresses_added: list[Address] = field(default_factory=list)
    addresses_changed: list[Address] = field(default_factory=list)
    addresses_removed: list[Address] = field(default_factory=list)
    notes_added: list[Note] = field(default_factory=list)
    notes_changed: list[Note] = field(default_factory=list)
    notes_removed: list[Note] = field(default_factory=list)


@dataclass
class SaveResult:
    customer: Customer
    created: bool
    changes: dict[str, list] = field(default_factory=dict)


def _stale_error(customer_id: int) -> ValidationError:
    latest = (
        CustomerEvent.objects.filter(customer_ref=customer_id)
        .order_by("-created_at", "-pk")
        .only("actor_label", "created_at", "kind", "data")
        .first()
    )
    if latest is None:
        who, when, what = STALE_EDIT_UNKNOWN, "?", "?"
    else:
        who = latest.actor_label or STALE_EDIT_UNKNOWN
        when = date_format(timezone.localtime(latest.created_at), "DATETIME_FORMAT")
        changed = (latest.data or {}).get("changes") if isinstance(latest.data, dict) else None
        if latest.kind == EventKind.UPDATED and isinstance(changed, dict) and changed:
            what = ", ".join(
                str(Customer._meta.get_field(name).verbose_name) if name in AUDITED_FIELDS else name
                for name in changed
            )
        else:
            what = str(latest.get_kind_display())
    return ValidationError(
        STALE_EDIT, code="stale_version", params={"who": who, "when": when, "what": what}
    )


# --- a refused save: what the other person changed, what the user changed ------------------


def snapshot_value(value):
    """One field's value in the canonical, JSON-ready form two snapshots are compared in."""
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple | set):
        return sorted((str(item) for item in value), key=str.lower)
    return value


def customer_snapshot(customer: Customer, names: Iterable[str]) -> dict[str, object]:
    """The stored values of these change-form fields (``tags`` as its names), canonical."""
    snapshot = {}
    for name in names:
        if name == "tags":
            value = list(customer.tags.names()) if customer.pk else []
        else:
            value = getattr(customer, Customer._meta.get_field(name).attname)
        snapshot[name] = snapshot_value(value)
    return snapshot


@dataclass
class EditConflict:
    """What a refused save meets: the stored version and values, and per field the other
    person changed since the form was loaded, their value and the user's (``yours``)."""

    version: int
    current: dict[str, object]
    theirs: dict[str, object] = field(default_factory=dict)
    yours: dict[str, object] = field(default_factory=dict)
    # Of those fields, the ones the user changed too: the user must choose.
    both: list[str] = field(default_factory=list)


def customer_edit_conflict(
    *, customer_id: int, base: dict[str, object], yours: dict[str, object]
) -> EditConflict:
    """Compare a refused form with the stored customer, field by field.

    ``base`` holds the values the form was loaded with, ``yours`` the values the user sent
    (canonical, see :func:`snapshot_value`). A field the other person changed (stored differs
    from ``base``) is returned with both values; the user's own edits elsewhere are not touched.
    """
    stored = Customer.objects.get(pk=customer_id)
    current = customer_snapshot(stored, base)
    conflict = EditConflict(version=stored.version, current=current)
    for name, loaded in base.items():
        if current[name] == loaded:
            continue
        mine = yours.get(name, loaded)
        conflict.theirs[name] = current[name]
        conflict.yours[name] = mine
        if mine not in (loaded, current[name]):
            conflict.both.append(name)
    return conflict


def _tag_key(names: Iterable[str]) -> frozenset[str]:
    return frozenset(str(name).casefold() for name in names)


@transaction.atomic
def customer_check_version(
    *,
    customer_id: int,
    expected_version: int | None,
    expected_tags: Iterable[str] | None = None,
) -> Customer:
    """Lock the customer's row and refuse if it changed since the form was loaded.

    ``expected_tags`` are the tag names the form was loaded with: tags live in link rows and
    bulk tagging does not touch the customer row (nor its version), so a form that can change
    tags says which it saw, and a tag added or removed since refuses the save like any other
    change. Called inside the caller's transaction (the admin's change view is one), the lock
    holds until that save commits, so no other writer slips in between the check and the save
    (bulk tagging locks the same rows first).
    """
    stored = customer_lock(customer_id=customer_id)
    if expected_version is None:
        raise ValidationError(VERSION_MISSING, code="version_missing")
    if stored.version != expected_version:
        raise _stale_error(customer_id)
    if expected_tags is not None and _tag_key(expected_tags) != _tag_key(stored.tags.names()):
        raise _stale_error(customer_id)
    return stored


def _diff(old_obj, new_obj, names) -> dict[str, list]:
    return {
        name: [_plain(getattr(old_obj, name)), _plain(getattr(new_obj, name))]
        for name in names
        if getattr(old_obj, name) != getattr(new_obj, name)
    }


def _apply_related(customer: Customer, related: RelatedEdits, actor: Actor) -> dict[str, list]:
    """Save the inlines' work on this customer's addresses and notes; return the audit data."""
    data: dict[str, list] = {}
    ids = [a.pk for a in related.addresses_changed + related.addresses_removed] + [
        n.pk for n in related.notes_changed + related.notes_removed
    ]
    stored_addresses = {a.pk: a for a in Address.objects.filter(customer=customer, pk__in=ids)}
    stored_notes = {n.pk: n for n in Note.objects.filter(customer=customer, pk__in=ids)}

    # Removals first: a removed default address frees the one-default constraint.
    removed = [a for a in related.addresses_removed if a.pk in stored_addresses]
    if removed:
        Address.objects.filter(pk__in=[a.pk for a in removed]).delete()
        data["addresses_removed"] = [{"id": a.pk, "address": str(a)} for a in removed]
    changed = []
    for address in related.addresses_changed:
        old = stored_addresses.get(address.pk)
        if old is None:
            continue
        diff = _diff(old, address, AUDITED_ADDRESS_FIELDS)
        address.customer = customer
        address.save()
        if diff:
            changed.append({"id": address.pk, "changes": diff})
    if changed:
        data["addresses_changed"] = changed
    for address in related.addresses_added:
        address.customer = customer
        address.save()
    if related.addresses_added:
        data["addresses_added"] = [{"id": a.pk, "address": str(a)} for a in related.addresses_added]

    removed_notes = [n for n in related.notes_removed if n.pk in stored_notes]
    if removed_notes:
        Note.objects.filter(pk__in=[n.pk for n in removed_notes]).delete()
        data["notes_removed"] = [
            {"id": n.pk, "body": stored_notes[n.pk].body} for n in removed_notes
        ]
    changed_notes = []
    for note in related.notes_changed:
        old = stored_notes.get(note.pk)
        if old is None:
            continue
        note.customer = customer
        note.save()
        if old.body != note.body:
            changed_notes.append({"id": note.pk, "changes": {"body": [old.body, note.body]}})
    if changed_notes:
        data["notes_changed"] = changed_notes
    for note in related.notes_added:
        note.customer = customer
        if note.author_id is None and not isinstance(actor, str) and actor is not None:
            note.author = actor
        note.save()
    return data


def _consent_on_create(customer: Customer, now: datetime.datetime) -> list[dict]:
    """Stamp a new customer's consent; return the changes from the defaults to record."""
    recorded = []
    for channel in CHANNELS:
        state = getattr(customer, f"{channel}_consent")
        consent_apply(
            customer=customer, channel=channel, state=state, source=ConsentSource.ADMIN, when=now
        )
        default = Customer._meta.get_field(f"{channel}_consent").default
        if state != default:
            recorded.append(
                {"channel": channel, "old": default, "new": state, "source": ConsentSource.ADMIN}
            )
    return recorded


def _consent_on_update(customer: Customer, stored: Customer, now: datetime.datetime) -> list[dict]:
    """Apply the form's consent states over the stored ones; return the changes to record."""
    recorded = []
    for channel in CHANNELS:
        attr = f"{channel}_consent"
        new_state = getattr(customer, attr)
        # Restore the stored state so consent_apply sees the real transition.
        for suffix in ("", "_updated_at", "_source"):
            setattr(customer, attr + suffix, getattr(stored, attr + suffix))
        if new_state != getattr(stored, attr):
            consent_apply(
                customer=customer,
                channel=channel,
                state=new_state,
                source=ConsentSource.ADMIN,
                when=now,
            )
            recorded.append(
                {
                    "channel": channel,
                    "old": getattr(stored, attr),
                    "new": new_state,
                    "source": ConsentSource.ADMIN,
                }
            )
    return recorded


def _tags_set(customer: Customer, tags: list[str], before: set[str], created: bool) -> dict:
    """Replace the customer's tag set; return the audit data (compared case-insensitively)."""
    customer.tags.set(tags)
    after = set(customer.tags.names())
    lower_before = {t.lower() for t in before}
    lower_after = {t.lower() for t in after}
    added = sorted((t for t in after if t.lower() not in lower_before), key=str.lower)
    removed = sorted((t for t in before if t.lower() not in lower_after), key=str.lower)
    data: dict = {}
    if added and not created:
        data["tags_added"] = added
    if removed:
        data["tags_removed"] = removed
    if created and added:
        data["tags"] = added
    return data


@transaction.atomic
def customer_save(
    *,
    actor: Actor,
    customer: Customer,
    expected_version: int | None = None,
    expected_tags: Iterable[str] | None = None,
    tags: list[str] | None = None,
    related: RelatedEdits | None = None,
) -> SaveResult:
    """Save a customer edited by hand with its addresses and notes, and record what changed.

    ``customer`` carries the new values (already validated by ``full_clean``); ``tags``, when
    given, replaces its tag set; ``related`` holds the inlines' unsaved work. On an existing
    customer, ``expected_version`` is the version the form was loaded with: if the stored row
    moved on since (another save, a bulk action, an import), or its tags are no longer
    ``expected_tags`` (the names the form was loaded with, when it can change tags), nothing is
    saved and ``ValidationError`` names who saved last and when. The version goes up by one
    when anything changed, and one UPDATED event (plus one CONSENT_CHANGED event per channel
    and one NOTE_ADDED event per note) records it.
    """
    now = timezone.now()
    related = related or RelatedEdits()
    created = customer.pk is None
    changes: dict[str, list] = {}
    if created:
        # Typed in by hand: the channel is set here, never taken from the form.
        customer.source = Channel.MANUAL
        _field_permissions_check(
            actor, group_changed=customer.group_id is not None, tags=tags, before_tags=set()
        )
        consent_changes = _consent_on_create(customer, now)
        customer.save()
        before_tags: set[str] = set()
    else:
        if expected_version is not None:
            stored = customer_check_version(
                customer_id=customer.pk,
                expected_version=expected_version,
                expected_tags=expected_tags,
            )
        else:
            stored = customer_lock(customer_id=customer.pk)
        if stored.status == Status.REDACTED:
            raise ValidationError(REDACTED_READ_ONLY, code="redacted")
        for name in SERVICE_OWNED_FIELDS:
            setattr(customer, name, getattr(stored, name))
        before_tags = set(stored.tags.names())
        _field_permissions_check(
            actor,
            group_changed=customer.group_id != stored.group_id,
            tags=tags,
            before_tags=before_tags,
        )
        changes = _diff(stored, customer, AUDITED_FIELDS)
        consent_changes = _consent_on_update(customer, stored, now)
        customer.version = stored.version

    data = _tags_set(customer, tags, before_tags, created) if tags is not None else {}
    data.update(_apply_related(customer, related, actor))

    if created:
        customer_created_event(actor=actor, customer=customer, related=data)
    else:
        if changes or consent_changes or data:
            customer.version = stored.version + 1
        customer.save()
        if changes or data:
            customer_updated_event(actor=actor, customer=customer, changes=changes, related=data)
    for consent in consent_changes:
        consent_changed_event(actor=actor, customer=customer, **consent)
    for note in related.notes_added:
        note_added_event(actor=actor, customer=customer, note=note)
    duplicate_keys_refresh(customer_ids=[customer.pk])
    return SaveResult(customer=customer, created=created, changes=changes)
