"""Shared plumbing of the bulk services: selections, batches and inserts without the ORM's cost.

A selection is a queryset (the admin's filtered list, "select all") or ids; it is walked in
batches. For the big set-based writes (imports, the audit trail), ``bulk_create`` compiles every
value of every row through the ORM (about 2 µs a value here): a 26-column customer row costs
~50 µs before the database sees it, more than a whole row's budget in a 100,000-row import.
:func:`rows_insert` takes rows as tuples, converts only the columns that need it (dates,
datetimes, JSON) and hands them to the driver (``executemany``, or ``COPY`` on PostgreSQL). The
database constraints still hold, and new primary keys are reserved from the table's own sequence
so they are never reused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

from django.db import connection, models
from django.db.models import F, Lookup, Q, QuerySet
from django.utils import timezone

from customers.models import Customer, TaggedCustomer
from groups.models import CustomerGroup

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


def versions_bump(ids: list[int], **changes) -> int:
    """Write ``changes`` on these customers and bump their version (concurrent edits then fail).

    One UPDATE per batch of ids, no row read; returns the number of rows written.
    """
    now = timezone.now()
    return sum(
        customers_with_ids(batch).update(version=F("version") + 1, updated_at=now, **changes)
        for batch in id_batches(ids)
    )


def versions_bump_where(ids: list[int], *, where: Q, **changes) -> list[int]:
    """Write ``changes`` on those of these customers that match ``where``; return their ids.

    One ``UPDATE ... RETURNING`` per batch of ids and nothing read before: the rows that
    already had the new value are neither rewritten nor returned. ``where`` is a condition on
    the customer's own columns (no join).
    """
    quote = connection.ops.quote_name
    opts = Customer._meta
    values = {"updated_at": timezone.now(), **changes}
    assignments = [f"{quote('version')} = {quote('version')} + 1"]
    params: list = []
    for name, value in values.items():
        field = opts.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    written: list[int] = []
    with connection.cursor() as cursor:
        for batch in id_batches(ids):
            query = customers_with_ids(batch).filter(where).query
            where_sql, where_params = query.get_compiler(connection=connection).compile(query.where)
            cursor.execute(
                f"UPDATE {quote(opts.db_table)} SET {', '.join(assignments)} "
                f"WHERE {where_sql} RETURNING {quote(opts.pk.column)}",
                [*params, *where_params],
            )
            written.extend(row[0] for row in cursor.fetchall())
    written.sort()
    return written


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


def insert_from_select_returning(
    model: type[models.Model],
    columns: list[str],
    select: QuerySet,
    *,
    returning: Sequence[str],
    ignore_conflicts: bool = False,
) -> list[tuple]:
    """Like :func:`insert_from_select`, and return ``returning`` of each row inserted.

    With ``ignore_conflicts`` the rows skipped are not returned: the caller learns in the same
    statement what was new (SQLite 3.35+ and PostgreSQL understand RETURNING).
    """
    sql, params = select.order_by().query.sql_with_params()
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
    back = ", ".join(quote(model._meta.get_field(name).column) for name in returning)
    suffix = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) {sql}{suffix} RETURNING {back}", params)
        return cursor.fetchall()


def delete_returning(queryset: QuerySet, *, returning: Sequence[str]) -> list[tuple]:
    """Delete the rows of a plain queryset (no cascade, no signals); return their ``returning``.

    For link rows nothing points to: one statement instead of a read and a delete. A
    condition on the table's own columns is written straight into the DELETE: as
    ``pk IN (SELECT ...)`` PostgreSQL joins the table to itself, and with statistics taken
    before the rows were inserted (links added earlier in the same minute) it chose a nested
    loop over two sequential scans: 12 minutes for 10,000 links of 100,000.
    """
    model = queryset.model
    quote = connection.ops.quote_name
    back = ", ".join(quote(model._meta.get_field(name).column) for name in returning)
    table = quote(model._meta.db_table)
    query = queryset.order_by().query
    compiler = query.get_compiler(connection=connection)
    where, params = compiler.compile(query.where)
    joined = [alias for alias, refs in query.alias_refcount.items() if refs]
    if len(joined) > 1:  # a condition through a join: keep it in a subquery
        pk = quote(model._meta.pk.column)
        select, params = queryset.order_by().values("pk").query.sql_with_params()
        where = f"{pk} IN ({select})"
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {where} RETURNING {back}", params)
        return cursor.fetchall()


CHUNK_SIZE = 2000
_PLAIN = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.ForeignKey,
    models.AutoField,
    models.BigAutoField,
)


def _converter(field: models.Field):
    """Return None when the driver takes the Python value as is, else a converting function."""
    if isinstance(field, _PLAIN) and not isinstance(field, models.DateField):
        return None
    if isinstance(field, models.JSONField):
        return _json_converter(field)
    cache: dict = {}

    def convert(value):
        if value is None:
            return None
        try:
            return cache[value]
        except (KeyError, TypeError):
            pass
        prepared = field.get_db_prep_save(value, connection)
        try:
            if len(cache) < 64:
                cache[value] = prepared
        except TypeError:  # unhashable (JSON)
            pass
        return prepared

    return convert


def _json_converter(field: models.JSONField):
    """What JSONField.get_db_prep_save makes of a dict or list, without its per-value lookups.

    An event's payload is a new dict on every row, so no cache serves it, and Django's path
    around the dump cost several times the dump itself.
    """
    adapt = connection.ops.adapt_json_value  # the connection of this insert, looked up once
    encoder = field.encoder

    def convert(value):
        if isinstance(value, (dict, list)):
            return adapt(value, encoder)
        return field.get_db_prep_save(value, connection)

    return convert


def rows_insert(
    *,
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence],
    ignore_conflicts: bool = False,
) -> None:
    """Insert rows (tuples in ``fields`` order, attnames): COPY on PostgreSQL, multi-row
    INSERTs on SQLite.

    ``ignore_conflicts`` skips rows that break a unique constraint (ON CONFLICT DO NOTHING).
    """
    opts = model._meta
    concrete = [opts.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    sql_head = "INSERT INTO {} ({}) VALUES ".format(
        quote(opts.db_table), ", ".join(quote(field.column) for field in concrete)
    )
    sql_tail = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    if connection.vendor == "postgresql":
        _postgres_insert(opts.db_table, concrete, rows, ignore_conflicts)
        return
    converters = [(i, c) for i, field in enumerate(concrete) if (c := _converter(field))]
    iterator = iter(rows)
    with connection.cursor() as cursor:
        while chunk := list(islice(iterator, CHUNK_SIZE)):
            if converters:
                converted = []
                for row in chunk:
                    row = list(row)
                    for index, convert in converters:
                        row[index] = convert(row[index])
                    converted.append(row)
                chunk = converted
            _sqlite_insert(cursor, (sql_head, sql_tail), len(concrete), chunk)


# SQLite accepts 32,766 parameters a statement (3.32+).
SQLITE_MAX_PARAMS = 32_000


def _sqlite_insert(cursor, sql: tuple[str, str], width: int, chunk: list) -> None:
    """Insert a chunk with multi-row INSERTs.

    Not executemany: the customer search index (an FTS5 table fed by triggers) flushes its
    pending terms at the end of every statement, so one statement per row cost half the speed.
    """
    per_statement = max(1, SQLITE_MAX_PARAMS // max(width, 1))
    row_sql = "(" + ", ".join(["%s"] * width) + ")"
    statements: dict[int, str] = {}
    for start in range(0, len(chunk), per_statement):
        part = chunk[start : start + per_statement]
        n = len(part)
        if n not in statements:
            statements[n] = sql[0] + ", ".join([row_sql] * n) + sql[1]
        cursor.execute(statements[n], [value for row in part for value in row])


def _postgres_insert(table: str, concrete, rows: Iterable[Sequence], ignore_conflicts: bool):
    """COPY the rows in (one statement, no per-row parsing on either side).

    COPY knows no ON CONFLICT: with ``ignore_conflicts`` the rows are sent as one array per
    column and unnested by a single INSERT ... ON CONFLICT DO NOTHING.
    """
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in concrete)
    json_columns = [i for i, field in enumerate(concrete) if isinstance(field, models.JSONField)]
    with connection.cursor() as cursor:
        if ignore_conflicts:
            rows = list(rows)
            if not rows:
                return
            casts = ", ".join(f"%s::{_pg_type(field)}[]" for field in concrete)
            cursor.execute(
                f"INSERT INTO {quote(table)} ({columns}) SELECT * FROM unnest({casts}) "
                "ON CONFLICT DO NOTHING",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        with cursor.cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                if json_columns:
                    row = list(row)
                    for index in json_columns:
                        row[index] = json.dumps(row[index])
                copy.write_row(row)


def _pg_type(field: models.Field) -> str:
    if isinstance(field, models.ForeignKey):
        return field.target_field.rel_db_type(connection)
    return field.db_type(connection)


def ids_reserve(*, model: type[models.Model], count: int) -> list[int]:
    """Reserve ``count`` new primary keys from the table's sequence, in one query.

    On SQLite the caller must hold the write lock (inside ``transaction.atomic``, which our
    settings open IMMEDIATE); the AUTOINCREMENT counter is read so a deleted row's id is never
    handed out again (audit events keep the ids of deleted customers).
    """
    if count <= 0:
        return []
    table = model._meta.db_table
    pk_column = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk_column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        if connection.vendor == "sqlite":
            quote = connection.ops.quote_name
            cursor.execute(
                f"SELECT MAX(COALESCE((SELECT MAX({quote(pk_column)}) FROM {quote(table)}), 0), "
                "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0))",
                [table],
            )
            start = cursor.fetchone()[0] + 1
            return list(range(start, start + count))
    raise NotImplementedError(connection.vendor)


def model_values(obj: models.Model, fields: Sequence[str]) -> tuple:
    """The values of a model instance in ``fields`` order (attnames), for :func:`rows_insert`."""
    values = obj.__dict__  # plain attributes: skips the descriptors' work
    return tuple(values[name] if name in values else getattr(obj, name) for name in fields)


def insert_fields(model: type[models.Model], *, with_pk: bool) -> list[str]:
    """The attnames of a model's writable columns, with or without its primary key.

    Generated columns (the address matching key) are computed by the database, never written.
    """
    return [
        field.attname
        for field in model._meta.concrete_fields
        if (with_pk or not field.primary_key) and not field.generated
    ]


# --- PostgreSQL statements that return the rows they changed ---------------------------------
# Each is an ``UPDATE``, ``INSERT`` or ``DELETE ... RETURNING customer_id, ...`` as SQL and
# parameters, for the audit writers to wrap in one statement with the events of those rows
# (``events_write_returned``): the database writes both, nothing crosses back to Python per row.
# Ids go as one array parameter: one statement for the whole selection, no SQL per id.


def pg_array(model: type[models.Model], name: str) -> str:
    """``%s::<type>[]``: a list parameter as an array of the column's type."""
    return f"%s::{_pg_type(model._meta.get_field(name))}[]"


def _customers_update_sql(
    changes: dict, *, from_sql: str, where_sql: str, returning: str, params: Sequence
) -> tuple[str, list]:
    """``UPDATE`` customers: ``changes``, ``updated_at`` and ``version + 1`` (as versions_bump)."""
    quote = connection.ops.quote_name
    opts = Customer._meta
    table = quote(opts.db_table)
    assignments = [f"{quote('version')} = {table}.{quote('version')} + 1"]
    values: list = []
    for name, value in {"updated_at": timezone.now(), **changes}.items():
        field = opts.get_field(name)
        assignments.append(f"{quote(field.column)} = %s::{field.db_type(connection)}")
        values.append(field.get_db_prep_save(value, connection))
    from_clause = f" FROM {from_sql}" if from_sql else ""
    return (
        f"UPDATE {table} SET {', '.join(assignments)}{from_clause} WHERE {where_sql} "
        f"RETURNING {returning}",
        [*values, *params],
    )


def versions_bump_where_sql(ids: list[int], *, where: Q, **changes) -> tuple[str, list]:
    """:func:`versions_bump_where` as one PostgreSQL statement returning ``customer_id``."""
    quote = connection.ops.quote_name
    table, pk = quote(Customer._meta.db_table), quote(Customer._meta.pk.column)
    query = Customer.objects.filter(where).query
    where_sql, where_params = query.get_compiler(connection=connection).compile(query.where)
    return _customers_update_sql(
        changes,
        from_sql="",
        where_sql=f"{table}.{pk} = ANY({pg_array(Customer, 'id')}) AND {where_sql}",
        returning=f"{table}.{pk} AS customer_id",
        params=[ids, *where_params],
    )


def groups_move_sql(moves: Sequence[tuple[int, int | None]], *, group_id: int | None):
    """Move customers into ``group_id`` (``moves``: their ids and the groups they leave, as
    locked); one PostgreSQL statement returning ``customer_id`` and ``old_name``, the name of
    the group each left (NULL for none)."""
    quote = connection.ops.quote_name
    table, pk = quote(Customer._meta.db_table), quote(Customer._meta.pk.column)
    groups = quote(CustomerGroup._meta.db_table)
    from_sql = (
        f"unnest({pg_array(Customer, 'id')}, {pg_array(Customer, 'group')}) AS moved(id, old) "
        f"LEFT JOIN {groups} AS old_group ON old_group.{quote('id')} = moved.old"
    )
    return _customers_update_sql(
        {"group_id": group_id},
        from_sql=from_sql,
        where_sql=f"{table}.{pk} = moved.id",
        returning=f"{table}.{pk} AS customer_id, old_group.{quote('name')} AS old_name",
        params=[[pk for pk, _old in moves], [old for _pk, old in moves]],
    )


def _tag_links_columns() -> tuple[str, str, str]:
    quote = connection.ops.quote_name
    opts = TaggedCustomer._meta
    return (
        quote(opts.db_table),
        quote(opts.get_field("content_object").column),
        quote(opts.get_field("tag").column),
    )


def tag_links_insert_sql(ids: list[int], tag_ids: list[int]) -> tuple[str, list]:
    """Link every customer to every tag, skipping links that exist, in tag order then id
    order (as one INSERT per tag did); one PostgreSQL statement returning ``customer_id`` and
    ``tag_id`` of each new link."""
    table, customer, tag = _tag_links_columns()
    return (
        f"INSERT INTO {table} ({tag}, {customer}) "
        f"SELECT tags.id, customers.id FROM unnest({pg_array(TaggedCustomer, 'tag')}) "
        "WITH ORDINALITY AS tags(id, position) "
        f"CROSS JOIN unnest({pg_array(Customer, 'id')}) AS customers(id) "
        "ORDER BY tags.position, customers.id "
        f"ON CONFLICT DO NOTHING RETURNING {customer} AS customer_id, {tag} AS tag_id",
        [tag_ids, ids],
    )


def tag_links_delete(ids: list[int], tag_ids: list[int]) -> list[tuple[int, int]]:
    """Delete these customers' links to these tags in one PostgreSQL statement; return the
    ``(customer_id, tag_id)`` of each link deleted.

    A plain ``DELETE`` with its condition in it, not inside a ``WITH``: see
    :func:`delete_returning` for the plan PostgreSQL chose when the link table was joined.
    """
    table, customer, tag = _tag_links_columns()
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE {customer} = ANY({pg_array(Customer, 'id')}) "
            f"AND {tag} = ANY({pg_array(TaggedCustomer, 'tag')}) "
            f"RETURNING {customer}, {tag}",
            [ids, tag_ids],
        )
        return cursor.fetchall()


def tag_links_rows_sql(links: Sequence[tuple[int, int]]) -> tuple[str, list]:
    """``(customer_id, tag_id)`` pairs as a PostgreSQL statement returning them as rows."""
    return (
        f"SELECT * FROM unnest({pg_array(Customer, 'id')}, {pg_array(TaggedCustomer, 'tag')}) "
        "AS links(customer_id, tag_id)",
        [[customer for customer, _tag in links], [tag for _customer, tag in links]],
    )
