"""Archiving customers: they leave the default list, keep their orders and data, and come back
when unarchived."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q

from customers.audit.events import (
    Actor,
    customers_status_changed_events,
    customers_status_moved_events,
)
from customers.db.bulk import Selection, versions_bump_where, versions_bump_where_sql
from customers.db.locks import selection_lock
from customers.models import EventKind, Status


@dataclass
class StatusChangeResult:
    selected: int
    changed: int

    @property
    def skipped(self) -> int:
        return self.selected - self.changed


def _customers_move_status(
    *, actor: Actor, customers: Selection, old: str, new: str, kind: str
) -> StatusChangeResult:
    ids = selection_lock(customers)
    if connection.vendor == "postgresql":
        # One statement: the rows in another status are skipped by the database, and the
        # events are written from the rows it changed.
        update = versions_bump_where_sql(ids, where=Q(status=old), status=new)
        count = customers_status_moved_events(
            actor=actor, kind=kind, update=update, old=old, new=new
        )
        return StatusChangeResult(selected=len(ids), changed=count)
    # One UPDATE per batch: the rows in another status are skipped by the database.
    changed = versions_bump_where(ids, where=Q(status=old), status=new)
    customers_status_changed_events(actor=actor, kind=kind, customer_ids=changed, old=old, new=new)
    return StatusChangeResult(selected=len(ids), changed=len(changed))


@transaction.atomic
def customers_archive(*, actor: Actor, customers: Selection) -> StatusChangeResult:
    """Archive the selected active customers; archived, merged and redacted ones are skipped."""
    return _customers_move_status(
        actor=actor,
        customers=customers,
        old=Status.ACTIVE,
        new=Status.ARCHIVED,
        kind=EventKind.ARCHIVED,
    )


@transaction.atomic
def customers_unarchive(*, actor: Actor, customers: Selection) -> StatusChangeResult:
    """Make the selected archived customers active again; others are skipped."""
    return _customers_move_status(
        actor=actor,
        customers=customers,
        old=Status.ARCHIVED,
        new=Status.ACTIVE,
        kind=EventKind.UNARCHIVED,
    )
