"""Row locks for services that rewrite customers: always in primary-key order, so two services
locking overlapping sets wait for each other instead of deadlocking."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from customers.models import Customer


def customers_lock(
    *, queryset: QuerySet[Customer] | None = None, ids: Iterable[int] | None = None
) -> list[int]:
    """Lock the given customers (by queryset or ids) until the transaction ends; return their ids.

    One query whatever the count. Call inside ``transaction.atomic``. SQLite has no row locks;
    there the IMMEDIATE transaction mode serialises writers instead.
    """
    qs = queryset if queryset is not None else Customer.objects.filter(pk__in=list(ids or ()))
    return list(qs.order_by("pk").select_for_update(of=("self",)).values_list("pk", flat=True))
