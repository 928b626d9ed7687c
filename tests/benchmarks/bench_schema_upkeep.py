"""What each piece of the schema costs the import: the schema floor without it, piece by piece.

    python -m tests.benchmarks.bench_schema_upkeep --rows 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python -m tests.benchmarks.bench_schema_upkeep

Imports a Shopify file of ``--rows`` customers once (bench_import's file and command), then runs
bench_import's schema floor (the rows the import wrote, emptied and inserted again, 2,000
customers a transaction) with everything, and once with each secondary index, the search index
(SQLite: the FTS5 triggers; PostgreSQL: the trigram GIN index) or the foreign-key checks taken
away. Prints each run's rows per second and what the piece costs per customer (the difference to
the run with everything, in microseconds). Then the duplicate keys' own upkeep
(``duplicate_keys_refresh`` over every customer, 2,000 a transaction, from empty tables) and, on
PostgreSQL, how many rows of a bulk "set a group" and "archive" on everyone were HOT updates.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from tests.benchmarks._setup import setup_django

FLOOR_TABLE_LABELS = (
    "customers.Customer",
    "customers.Address",
    "customers.TaggedCustomer",
    "customers.Note",
    "customers.CustomerEvent",
    "customers.DuplicateKey",
)


def _load() -> str:
    return "load " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _tables() -> list[str]:
    from django.apps import apps

    return [apps.get_model(label)._meta.db_table for label in FLOOR_TABLE_LABELS]


def _pieces() -> list[tuple[str, list[str], list[str]]]:
    """Each removable piece: (label, statements dropping it, statements creating it again)."""
    from django.db import connection

    from customers.selectors.search import SEARCH_TABLE, TRGM_INDEX

    tables = _tables()
    pieces = []
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            marks = ", ".join(["%s"] * len(tables))
            cursor.execute(
                "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' "
                f"AND sql IS NOT NULL AND tbl_name IN ({marks}) ORDER BY tbl_name, name",
                tables,
            )
            for name, table, sql in cursor.fetchall():
                pieces.append((f"{table}: {name}", [f'DROP INDEX "{name}"'], [sql]))
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'customers_customer'"
            )
            triggers = cursor.fetchall()
            if triggers:
                pieces.append(
                    (
                        "search: FTS5 triggers",
                        [f'DROP TRIGGER "{name}"' for name, _sql in triggers],
                        [sql for _name, sql in triggers],
                    )
                )
        else:
            tables = [*tables, SEARCH_TABLE]
            cursor.execute(
                "SELECT t.relname, i.relname, pg_get_indexdef(i.oid), c.conname, "
                "pg_get_constraintdef(c.oid) FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
                "LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.contype <> 'f' "
                "WHERE t.relname = ANY(%s) AND NOT x.indisprimary ORDER BY t.relname, i.relname",
                [tables],
            )
            for table, name, sql, constraint, definition in cursor.fetchall():
                if constraint:
                    drop = [f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}"']
                    create = [f'ALTER TABLE "{table}" ADD CONSTRAINT "{constraint}" {definition}']
                else:
                    drop, create = [f'DROP INDEX "{name}"'], [sql]
                if name == TRGM_INDEX:
                    pieces.append((f"search: trigram GIN index on {table}", drop, create))
                elif table != SEARCH_TABLE:
                    pieces.append((f"{table}: {name}", drop, create))
            cursor.execute(
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                "WHERE tgrelid = 'customers_customer'::regclass AND NOT tgisinternal"
            )
            triggers = cursor.fetchall()
            if triggers:
                pieces.append(
                    (
                        "search: triggers (the search table's rows, GIN included)",
                        [f'DROP TRIGGER "{name}" ON customers_customer' for name, _ in triggers],
                        [sql for _name, sql in triggers],
                    )
                )
    return pieces


def _execute(statements: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _fts_rebuild() -> None:
    """Fill the search table again from the customers (after a run without its triggers)."""
    from django.db import connection

    from customers.selectors.search import SEARCH_TABLE, search_index_missing

    if connection.vendor == "sqlite":
        _execute([f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('rebuild')"])
    elif SEARCH_TABLE not in search_index_missing():
        joined = " || ' ' || ".join(("first_name", "last_name", "email", "company", "username"))
        _execute(
            [
                f"TRUNCATE {SEARCH_TABLE}",
                f"INSERT INTO {SEARCH_TABLE} (customer_id, text, phone) "
                f"SELECT id, LOWER({joined}), phone FROM customers_customer",
            ]
        )


def _server_cpu() -> float:
    """CPU seconds used so far by this connection's PostgreSQL process (0 on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SERVER_CPU_AT_START = 0.0


def _wipe_to_empty(original):
    """bench_import's wipe, as an empty database would be, then the server's CPU noted.

    PostgreSQL: TRUNCATE (fresh heaps and indexes; the search table's truncate trigger empties
    it). SQLite: the DELETEs without the search triggers (each would write an FTS5 delete
    record), then an empty FTS5 index. Only the inserts that follow are then measured.
    """

    def wipe(*, tags: bool = True) -> None:
        global SERVER_CPU_AT_START
        from django.db import connection

        from customers.selectors.search import SEARCH_TABLE

        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name = 'customers_customer'"
                )
                triggers = cursor.fetchall()
            _execute([f'DROP TRIGGER "{name}"' for name, _sql in triggers])
            original(tags=tags)
            _execute([f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('delete-all')"])
            _execute([sql for _name, sql in triggers])
        else:
            # The floor's tables; CASCADE reaches only tables that point at them (empty here).
            _execute([f"TRUNCATE {', '.join(_tables())} CASCADE"])
        SERVER_CPU_AT_START = _server_cpu()

    return wipe


def _floor_line(label: str, base: float | None) -> float:
    """Run the schema floor; print rows/s, CPU per customer and the cost against ``base``.

    The CPU (this process and, on PostgreSQL, its server process) is what the piece costs;
    the wall time also counts the waiting for a core on a shared machine.
    """
    from tests.benchmarks import bench_import

    bench_import.wipe = _wipe_to_empty(WIPE)
    seconds, cpu, customers = bench_import.schema_floor()
    cpu += _server_cpu() - SERVER_CPU_AT_START
    per_customer = cpu / customers * 1e6
    cost = f"{per_customer - base:+7.1f} µs/customer" if base is not None else " " * 18
    print(
        f"  {label:62s} {customers / seconds:8,.0f} rows/s  CPU {per_customer:6.1f} µs  "
        f"{cost}  ({_load()})",
        flush=True,
    )
    return per_customer


def _without_foreign_keys(label: str, base: float) -> None:
    from django.db import connection

    if connection.vendor == "sqlite":
        _execute(["PRAGMA foreign_keys = OFF"])
        _floor_line(label, base)
        _execute(["PRAGMA foreign_keys = ON"])
    else:
        # The foreign keys are checked by system triggers, which the replica role skips.
        _execute(["SET session_replication_role = replica"])
        _floor_line(label, base)
        _execute(["SET session_replication_role = DEFAULT"])


def _grouped(pieces, each: str) -> list[tuple[str, list[str], list[str]]]:
    """One piece per table (all its secondary indexes), and one per index of tables in ``each``."""
    grouped: dict[str, tuple[str, list[str], list[str]]] = {}
    single = []
    for label, drop, create in pieces:
        table = label.split(":")[0]
        if each and each in table:
            single.append((label, drop, create))
            continue
        name = label if label.startswith("search") else f"{table}: every secondary index"
        entry = grouped.setdefault(name, (name, [], []))
        entry[1].extend(drop)
        entry[2].extend(create)
    return [*grouped.values(), *single]


def pieces_lines(each: str = "") -> None:
    """The floor with everything, then without each piece, then without every secondary one."""
    base = min(_floor_line("everything", None), _floor_line("everything", None))
    pieces = _grouped(_pieces(), each)
    for number, (label, drop, create) in enumerate(pieces, 1):
        if number % 8 == 0:
            _floor_line("everything", base)
        _execute(drop)
        _floor_line(f"without {label}", base)
        _execute(create)
        if "search" in label:
            _fts_rebuild()
    _without_foreign_keys("without the foreign-key checks", base)
    everything = _pieces()
    for _label, drop, _create in everything:
        _execute(drop)
    _floor_line("without any secondary index nor search index", base)
    for _label, _drop, create in everything:
        _execute(create)
    _fts_rebuild()
    _floor_line("everything, again", base)


def duplicate_keys_line(batch: int = 2000) -> None:
    """Time the duplicate keys of every customer from empty tables, ``batch`` a transaction."""
    from django.db import transaction

    from customers.models import Customer, DuplicateKey, DuplicateKeyGroup
    from customers.services.duplicate_keys import duplicate_keys_refresh

    DuplicateKey.objects.all()._raw_delete(DuplicateKey.objects.db)
    DuplicateKeyGroup.objects.all()._raw_delete(DuplicateKeyGroup.objects.db)
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    started = time.perf_counter()
    for start in range(0, len(ids), batch):
        with transaction.atomic():
            duplicate_keys_refresh(customer_ids=ids[start : start + batch])
    seconds = time.perf_counter() - started
    print(
        f"  {'duplicate_keys_refresh of every customer, from empty':62s} "
        f"{len(ids) / seconds:8,.0f} rows/s  {seconds / len(ids) * 1e6:6.1f} µs  "
        f"groups={DuplicateKeyGroup.objects.count():,} holders={DuplicateKey.objects.count():,} "
        f"({_load()})",
        flush=True,
    )


def hot_lines() -> None:
    """On PostgreSQL: the share of HOT updates of a bulk group and archive on everyone."""
    from django.db import connection

    from customers.models import Customer
    from customers.services.archiving import customers_archive
    from customers.services.grouping import customers_assign_group
    from groups.models import CustomerGroup
    from tests.benchmarks.bench_bulk_actions import timed_hot

    if connection.vendor != "postgresql":
        return
    _execute(["VACUUM customers_customer"])
    group = CustomerGroup.objects.create(name="Everyone")
    everyone = Customer.objects.listed_by_default()
    timed_hot(
        "set a group on everyone",
        lambda: customers_assign_group(actor="bench", customers=everyone, group=group),
    )
    _execute(["VACUUM customers_customer"])
    timed_hot("archive everyone", lambda: customers_archive(actor="bench", customers=everyone))


WIPE = None


FLOOR_INSERT = None


def _multirow_insert(cursor, table: str, columns: list[str], rows: list) -> None:
    """bench_import's floor insert, in the import's own statements on SQLite (rows_insert)."""
    from django.db import connection

    from customers.db.bulk import _sqlite_insert

    if connection.vendor != "sqlite" or not rows:
        FLOOR_INSERT(cursor, table, columns, rows)
        return
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(table)} ({', '.join(map(quote, columns))}) VALUES "
    _sqlite_insert(cursor, (head, ""), len(columns), rows)


def main() -> None:
    global WIPE, FLOOR_INSERT
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--each", default="", help="one line per index of the tables whose name holds this"
    )
    parser.add_argument(
        "--multirow",
        action="store_true",
        help="SQLite: the floor in multi-row INSERTs (as rows_insert writes), not executemany",
    )
    parser.add_argument("--db", default="bench_schema_upkeep", help="the database's name")
    parser.add_argument("--no-pieces", action="store_true", help="the floor with everything only")
    args = parser.parse_args()
    setup_django(args.db)
    from django.db import connection

    from tests.benchmarks import bench_import
    from tests.benchmarks.bench_import import run_child, write_file

    WIPE = bench_import.wipe
    FLOOR_INSERT = bench_import._floor_insert
    if args.multirow:
        bench_import._floor_insert = _multirow_insert

    path = os.path.join(tempfile.mkdtemp(prefix="bench-upkeep-"), "shopify.csv")
    write_file(path, args.rows)
    connection.close()
    imported = run_child(path)
    os.remove(path)
    print(
        f"{connection.vendor}: imported {args.rows:,} rows in {imported['seconds']:.1f} s; "
        f"the schema floor, {args.rows:,} customers ({_load()}):"
    )
    if args.no_pieces:
        _floor_line("everything", None)
    else:
        pieces_lines(args.each)
    duplicate_keys_line()
    hot_lines()


if __name__ == "__main__":
    main()
