"""Shared plumbing of the bulk services: what a selection is and how to walk it in batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone

from customers.models import Customer
from customers.services.locks import customers_lock

# A selection of customers: a queryset (the admin's filtered list, "select all") or their ids.
Selection = QuerySet[Customer] | Iterable[int]


def selection_queryset(customers: Selection) -> QuerySet[Customer]:
    """Return a plain queryset of the selected customers (no annotations, no ordering).

    An admin queryset carries annotations (order counts) and ordering that would only slow the
    locking query down; its primary keys, as a subquery, are all the services need.
    """
    if isinstance(customers, QuerySet):
        return Customer.objects.filter(pk__in=customers.order_by().values("pk"))
    return Customer.objects.filter(pk__in=[int(pk) for pk in customers])


def id_batch_size() -> int:
    """Ids per ``IN (...)`` list: SQLite allows 999 parameters a statement, PostgreSQL far more."""
    limit = connection.features.max_query_params
    return 900 if limit and limit < 10_000 else 10_000


def id_batches(ids: list[int]) -> Iterator[list[int]]:
    """Yield the ids in batches small enough for one query each."""
    size = id_batch_size()
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def selection_lock(customers: Selection) -> list[int]:
    """Lock the selected customers in primary-key order; return their ids, sorted.

    A queryset is locked in one query; a long list of ids in batches (still in key order, so
    two services never deadlock).
    """
    if isinstance(customers, QuerySet):
        return customers_lock(queryset=selection_queryset(customers))
    ids = sorted({int(pk) for pk in customers})
    locked: list[int] = []
    for batch in id_batches(ids):
        locked.extend(customers_lock(ids=batch))
    return locked


def versions_bump(ids: list[int], **changes) -> None:
    """Write ``changes`` on these customers and bump their version (concurrent edits then fail)."""
    now = timezone.now()
    for batch in id_batches(ids):
        Customer.objects.filter(pk__in=batch).update(
            version=F("version") + 1, updated_at=now, **changes
        )
