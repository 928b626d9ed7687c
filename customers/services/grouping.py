"""Moving many customers into a group, or out of their group."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from customers.audit.events import Actor, customers_group_changed_events
from customers.db.bulk import (
    Selection,
    customers_with_ids,
    id_batches,
    versions_bump,
)
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
    ids = selection_lock(customers)
    target = group.pk if group else None
    names: dict[int | None, str | None] = {None: None}
    if group is not None:
        names[group.pk] = group.name
    # Customers already in the target are left out by the database, not compared here.
    moving = Q(group__isnull=False) if target is None else ~Q(group=target)
    old_ids: dict[int, int | None] = {}
    for batch in id_batches(ids):
        old_ids.update(customers_with_ids(batch).filter(moving).values_list("pk", "group_id"))
    missing = {gid for gid in old_ids.values() if gid not in names}
    names.update(CustomerGroup.objects.filter(pk__in=missing).values_list("pk", "name"))
    # One dict per previous group, shared: the audit groups events by it.
    payloads = {old: {"from": names[old], "to": names[target]} for old in set(old_ids.values())}
    changes = {pk: payloads[old] for pk, old in old_ids.items()}
    changed = sorted(changes)
    versions_bump(changed, group_id=target)
    customers_group_changed_events(actor=actor, moves_by_customer=changes)
    return GroupChangeResult(selected=len(ids), changed=len(changed), group=group)
