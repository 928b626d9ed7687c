"""The only place rows are locked: always in primary-key order, so two services locking
overlapping sets wait for each other instead of deadlocking.

Call these inside ``transaction.atomic``. SQLite has no row locks; there the IMMEDIATE
transaction mode serialises writers instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from customers.db.bulk import Selection, customers_with_ids, id_batches, selection_queryset
from customers.models import Customer

M = TypeVar("M", bound=Model)


def locked(queryset: QuerySet[M], *, skip_locked: bool = False) -> QuerySet[M]:
    """Return ``queryset`` in primary-key order, its rows locked when it is evaluated.

    ``skip_locked`` leaves out the rows another transaction holds (work it is already doing).
    """
    return queryset.order_by("pk").select_for_update(skip_locked=skip_locked, of=("self",))


def customers_lock(
    *,
    queryset: QuerySet[Customer] | None = None,
    ids: Iterable[int] | None = None,
    skip_locked: bool = False,
    values: Sequence[str] = (),
) -> list[Any]:
    """Lock the given customers (by queryset or ids) until the transaction ends; return their ids.

    One query whatever the count. With ``values`` (field names) each customer comes back as a
    ``(pk, *values)`` tuple, read by the locking query itself: the columns a service compares
    are then current (the rows are locked) and cost no second read.
    """
    qs = queryset if queryset is not None else Customer.objects.filter(pk__in=list(ids or ()))
    qs = locked(qs, skip_locked=skip_locked)
    if values:
        return list(qs.values_list("pk", *values))
    return list(qs.values_list("pk", flat=True))


def customer_lock(*, customer_id: int) -> Customer:
    """Lock one customer's row and return it as stored (``Customer.DoesNotExist`` if gone)."""
    return locked(Customer.objects.filter(pk=customer_id)).get()


def selection_lock(customers: Selection, *, values: Sequence[str] = ()) -> list[Any]:
    """Lock the selected customers in primary-key order; return their ids, sorted.

    A queryset is locked in one query; a long list of ids in batches (still in key order, so
    two services never deadlock). With ``values``, ``(pk, *values)`` tuples in the same order
    (see :func:`customers_lock`).
    """
    if isinstance(customers, QuerySet):
        return customers_lock(queryset=selection_queryset(customers), values=values)
    ids = sorted({int(pk) for pk in customers})
    locked_ids: list[Any] = []
    for batch in id_batches(ids):
        locked_ids.extend(customers_lock(queryset=customers_with_ids(batch), values=values))
    return locked_ids
