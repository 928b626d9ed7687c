"""Moving many customers into a group, or out of their group."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from customers.audit.events import (
    Actor,
    customers_group_changed_events,
    customers_group_moved_events,
)
from customers.db.bulk import Selection, groups_move_sql, versions_bump
from customers.db.locks import selection_lock
from groups.models import CustomerGroup
from groups.services import group_get_or_create


@dataclass
class GroupChangeResult:
    selected: int
    changed: int
    group: CustomerGroup | None
    group_created: bool = False


@transaction.atomic
def customers_assign_group(
    *,
    actor: Actor,
    customers: Selection,
    group: CustomerGroup | None = None,
    group_name: str = "",
) -> GroupChangeResult:
    """Put the selected customers in ``group``, or in the group named ``group_name``.

    The name is matched case-insensitively and the group created if it does not exist, in the
    same transaction as the move. Customers already in the group are left alone.
    """
    created = False
    if group is None:
        group, created = group_get_or_create(actor=actor, name=group_name)
    result = _customers_set_group(actor=actor, customers=customers, group=group)
    result.group_created = created
    return result


@transaction.atomic
def customers_remove_group(*, actor: Actor, customers: Selection) -> GroupChangeResult:
    """Take the selected customers out of whatever group they are in."""
    return _customers_set_group(actor=actor, customers=customers, group=None)


def _customers_set_group(
    *, actor: Actor, customers: Selection, group: CustomerGroup | None
) -> GroupChangeResult:
    # The lock reads each customer's group: current, since the row is locked.
    locked = selection_lock(customers, values=("group_id",))
    target = group.pk if group else None
    moves = [(pk, old) for pk, old in locked if old != target]
    if connection.vendor == "postgresql":
        # One statement moves them and writes their events from the rows it changed.
        changed = customers_group_moved_events(
            actor=actor,
            update=groups_move_sql(moves, group_id=target),
            to_name=group.name if group else None,
        )
        return GroupChangeResult(selected=len(locked), changed=changed, group=group)
    names: dict[int | None, str | None] = {None: None}
    if group is not None:
        names[group.pk] = group.name
    olds = {old for _pk, old in moves}
    missing = [gid for gid in olds if gid not in names]
    names.update(CustomerGroup.objects.filter(pk__in=missing).values_list("pk", "name"))
    # One dict per previous group, shared: the audit groups events by it.
    payloads = {old: {"from": names[old], "to": names[target]} for old in olds}
    changes = {pk: payloads[old] for pk, old in moves}
    versions_bump([pk for pk, _old in moves], group_id=target)
    customers_group_changed_events(actor=actor, moves_by_customer=changes)
    return GroupChangeResult(selected=len(locked), changed=len(moves), group=group)
