"""Bulk inserts for the big set-based writes (imports, the audit trail), without the ORM's cost.

``bulk_create`` compiles every value of every row through the ORM (about 2 µs a value here): a
26-column customer row costs ~50 µs before the database sees it, more than our whole per-row
budget for a 100,000-row import. These helpers take rows as tuples, convert only the columns that
need it (dates, datetimes, JSON) and hand them to the driver's ``executemany``. Callers keep the
ORM's guarantees that matter: the database constraints still hold, and new primary keys are
reserved from the table's own sequence so they are never reused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from itertools import islice

from django.db import connection, models

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


def rows_insert(
    *,
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence],
    ignore_conflicts: bool = False,
) -> None:
    """Insert rows (tuples in ``fields`` order, attnames) with one executemany per chunk.

    ``ignore_conflicts`` skips rows that break a unique constraint (ON CONFLICT DO NOTHING).
    """
    opts = model._meta
    concrete = [opts.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(opts.db_table),
        ", ".join(quote(field.column) for field in concrete),
        ", ".join(["%s"] * len(concrete)),
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
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
            # SQLite runs in-process: one prepared statement executed many times is cheapest.
            cursor.executemany(sql, chunk)


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
    """The attnames of a model's concrete columns, with or without its primary key."""
    return [
        field.attname for field in model._meta.concrete_fields if with_pk or not field.primary_key
    ]
