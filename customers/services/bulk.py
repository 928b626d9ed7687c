"""Shared plumbing of the bulk services: what a selection is and how to walk it in batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db import connection, models
from django.db.models import F, Lookup, QuerySet
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
    return customers_with_ids(customers)


# Ids per statement: big enough that 100,000 customers take ten statements, small enough that
# one statement stays well under a megabyte of SQL.
ID_BATCH_SIZE = 10_000


class IdIn(Lookup):
    """``column IN (1, 2, 3)`` with the integers written into the SQL.

    Django's ``__in`` turns every value into a parameter, preparing each in Python (seconds for
    100,000 ids) and meeting SQLite's limit on parameters. ``get_prep_lookup`` makes every value
    an int, so writing them in is safe. Use it as ``.filter(IdIn(F("pk"), ids))``.
    """

    lookup_name = "id_in"

    def get_prep_lookup(self):
        return [int(value) for value in self.rhs]

    def as_sql(self, compiler, connection):
        lhs_sql, params = compiler.compile(self.lhs)
        values = ",".join(map(str, self.rhs))
        return (f"{lhs_sql} IN ({values})" if values else "1 = 0"), params


def customers_with_ids(ids: Iterable[int]) -> QuerySet[Customer]:
    return Customer.objects.filter(IdIn(F("pk"), list(ids)))


def id_batches(ids: list[int]) -> Iterator[list[int]]:
    """Yield the ids in batches of ``ID_BATCH_SIZE``, one statement each."""
    for start in range(0, len(ids), ID_BATCH_SIZE):
        yield ids[start : start + ID_BATCH_SIZE]


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
        locked.extend(customers_lock(queryset=customers_with_ids(batch)))
    return locked


def versions_bump(ids: list[int], **changes) -> None:
    """Write ``changes`` on these customers and bump their version (concurrent edits then fail)."""
    now = timezone.now()
    for batch in id_batches(ids):
        customers_with_ids(batch).update(version=F("version") + 1, updated_at=now, **changes)


def insert_from_select(
    model: type[models.Model],
    columns: list[str],
    select: QuerySet,
    *,
    ignore_conflicts: bool = False,
) -> int:
    """Run ``INSERT INTO model (columns) SELECT ...``; return the number of rows inserted.

    ``select`` is a values_list() queryset whose columns match ``columns`` one for one. The
    database builds the rows: inserting 100,000 rows through bulk_create costs seconds of
    Python per column, this costs one statement. ``ignore_conflicts`` skips rows that break a
    unique constraint (ON CONFLICT DO NOTHING, understood by SQLite and PostgreSQL).
    """
    sql, params = select.order_by().query.sql_with_params()
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
    # SQLite needs the SELECT to have a WHERE before ON CONFLICT (it always has one here).
    suffix = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) {sql}{suffix}", params)
        return cursor.rowcount
