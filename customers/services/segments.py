"""Saving, changing and deleting segments: named sets of the customer list's conditions.

A segment's conditions are the list's own query parameters, checked and normalised by the
shared FilterSet (``conditions_clean``) when it is saved, so a segment holds only conditions the
list understands. "Any of" groups are lists of alternative condition dicts: a customer matches
a segment when it matches every condition and at least one alternative of each group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.audit.events import segment_changed_event
from customers.db.locks import locked
from customers.models import Segment
from customers.selectors.filtersets import conditions_clean

NAME_REQUIRED = _("Give the segment a name.")
NAME_TAKEN = _("A segment named “%(name)s” already exists.")
NESTED_SEGMENT = _("A segment cannot be built on another segment: use its conditions instead.")
SEGMENT_CONDITION = "segment"

AnyOf = Sequence[Sequence[dict]]


@dataclass(frozen=True)
class SegmentData:
    """A segment's contents as they will be stored: name trimmed, conditions normalised."""

    name: str
    conditions: dict
    any_of: list[list[dict]]


def segment_validate(
    *, name: str, conditions: dict, any_of: AnyOf = (), segment_id: int | None = None
) -> SegmentData:
    """Check a segment's name and conditions and return them normalised.

    Raises ``ValidationError`` with code ``name_required``, ``name_taken``, ``nested_segment``,
    or the FilterSet's ``unknown_condition`` / ``invalid_condition`` naming the condition.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError(NAME_REQUIRED, code="name_required")
    taken = Segment.objects.filter(name__iexact=name).exclude(pk=segment_id)
    if taken.exists():
        raise ValidationError(NAME_TAKEN, code="name_taken", params={"name": name})
    groups = [[_conditions(alt) for alt in group if alt] for group in any_of]
    return SegmentData(
        name=name, conditions=_conditions(conditions), any_of=[g for g in groups if g]
    )


def _conditions(conditions: dict) -> dict:
    if SEGMENT_CONDITION in conditions:
        raise ValidationError(NESTED_SEGMENT, code="nested_segment")
    return conditions_clean(conditions)


@transaction.atomic
def segment_create(
    *, actor, name: str, conditions: dict, any_of: AnyOf = (), shared: bool = True
) -> Segment:
    """Save a new segment made by ``actor``."""
    data = segment_validate(name=name, conditions=conditions, any_of=any_of)
    now = timezone.now()
    segment = Segment(
        name=data.name,
        conditions=data.conditions,
        any_of=data.any_of,
        shared=shared,
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
    )
    _save(segment)
    segment_changed_event(actor=actor, segment=segment, action="created")
    return segment


@transaction.atomic
def segment_update(
    *,
    actor,
    segment: Segment,
    name: str | None = None,
    conditions: dict | None = None,
    any_of: AnyOf | None = None,
    shared: bool | None = None,
) -> Segment:
    """Change what is given of ``segment`` (None leaves a part as stored); return it as saved."""
    stored = locked(Segment.objects.filter(pk=segment.pk)).get()
    data = segment_validate(
        name=stored.name if name is None else name,
        conditions=stored.conditions if conditions is None else conditions,
        any_of=stored.any_of if any_of is None else any_of,
        segment_id=stored.pk,
    )
    new = {
        "name": data.name,
        "conditions": data.conditions,
        "any_of": data.any_of,
        "shared": stored.shared if shared is None else shared,
    }
    changed = [field for field, value in new.items() if getattr(stored, field) != value]
    if not changed:
        return stored
    for field, value in new.items():
        setattr(stored, field, value)
    stored.updated_by, stored.updated_at = actor, timezone.now()
    _save(stored)
    labels = [str(Segment._meta.get_field(field).verbose_name) for field in changed]
    segment_changed_event(actor=actor, segment=stored, action="changed", fields=labels)
    return stored


@transaction.atomic
def segment_delete(*, actor, segment: Segment) -> str:
    """Delete ``segment``; return its name. Customers are not touched."""
    stored = locked(Segment.objects.filter(pk=segment.pk)).get()
    segment_changed_event(actor=actor, segment=stored, action="deleted")
    name = stored.name
    stored.delete()
    return name


def _save(segment: Segment) -> None:
    # Two staff saving the same new name at once: the database's unique index decides.
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError:
        params = {"name": segment.name}
        raise ValidationError(NAME_TAKEN, code="name_taken", params=params) from None
