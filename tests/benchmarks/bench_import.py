"""Time the CSV import against django-import-export and the schema floor, in one run.

    python -m tests.benchmarks.bench_import --rows 100000 --huge 200000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/importspeed \
        python -m tests.benchmarks.bench_import --rows 100000 --huge 200000

Prints, each with the load average (the machine is shared: compare the ratios):
- our import of a Shopify file into an empty database, then the same file again;
- django-import-export's bulk mode (``use_bulk=True``, batches of 2,000) on the same file, both
  runs, and the ratio of our speed to it;
- the schema floor: the exact rows our import wrote (customers, addresses, tag links, notes,
  events) read back, the tables emptied, and the rows inserted again with nothing else, 2,000
  customers per transaction (multi-row INSERTs of up to 32,000 values on SQLite, as the import
  writes them, COPY on PostgreSQL), and our ratio to it;
- with ``--huge N``, the peak memory of an import of N rows (flat memory: the same as at 100,000).

Everything runs with DEBUG off, as deployed (``--debug`` to measure with it on): with DEBUG on,
Django writes every statement with its parameters quoted into ``connection.queries``, which
cost a fifth of the import's time and most of its peak memory (the import's multi-row INSERTs
are hundreds of kilobytes of SQL each), and django-import-export pays the same.

Each measured import runs in a child process (a fresh interpreter, as the command would), which
reports its own wall time and peak RSS (resource.getrusage), so memory is the import's alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time

from tests.benchmarks._setup import setup_django

SHOPIFY = [
    "First Name",
    "Last Name",
    "Email",
    "Accepts Email Marketing",
    "Default Address Company",
    "Default Address Address1",
    "Default Address Address2",
    "Default Address City",
    "Default Address Province Code",
    "Default Address Country Code",
    "Default Address Zip",
    "Default Address Phone",
    "Phone",
    "Accepts SMS Marketing",
    "Tags",
    "Note",
    "Tax Exempt",
]
FIRST = ["Ann", "Élodie", "José", "Marie", "Chen", "Zoë", "Omar", "Luis", "Inès", "Paul", "Ngozi"]
LAST = ["Lee", "Lefèvre", "García", "O'Brien", "Dupont", "王", "Müller", "Núñez", "Smith", "Roy"]
CITIES = [("Boston", "MA", "02114"), ("Austin", "TX", "73301"), ("Denver", "CO", "80202")]
TAGS = ["VIP", "wholesale", "newsletter", "B2B", "retail", "loyal", "Paris", "Madrid"]


def _valid_areas() -> list[int]:
    import phonenumbers

    def us(number: str) -> bool:
        parsed = phonenumbers.parse(number)
        return phonenumbers.is_valid_number(parsed) and (
            phonenumbers.region_code_for_number(parsed) == "US"
        )

    # Mainland US area codes, where every ordinary exchange is valid.
    return [
        area
        for area in range(201, 990)
        if all(us(f"+1{area}{ex}4567") for ex in (234, 456, 789))
        and all(us(f"+1{area}{ex}4567") for ex in EXCHANGES[::31])
    ]


EXCHANGES = [n for n in range(234, 990) if n % 100 != 11 and n not in (555, 950, 958, 959, 976)]
AREAS = _valid_areas()


def phone(rng: random.Random, i: int) -> str:
    area = AREAS[i % len(AREAS)]
    exchange = EXCHANGES[(i // len(AREAS)) % len(EXCHANGES)]
    line = (i // (len(AREAS) * len(EXCHANGES))) * 7 % 10000
    formats = [
        f"({area}) {exchange}-{line:04d}",
        f"+1 {area}-{exchange}-{line:04d}",
        f"{area}.{exchange}.{line:04d}",
        f"'+1{area}{exchange}{line:04d}",
    ]
    return formats[rng.randrange(4)]


def write_file(path: str, rows: int, seed: int = 5) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(SHOPIFY)
        for i in range(rows):
            city, state, zip_code = CITIES[i % 3]
            writer.writerow(
                [
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    f"customer{i}@example.com",
                    rng.choice(["yes", "no", ""]),
                    "",
                    f"{1 + i % 999} Main St",
                    "",
                    city,
                    state,
                    "US",
                    zip_code,
                    "",
                    phone(rng, i),
                    rng.choice(["yes", "no"]),
                    ", ".join(rng.sample(TAGS, rng.randint(1, 3))),
                    "",
                    "no",
                ]
            )


def _usage() -> dict:
    """Peak RSS and CPU seconds of this process and of its children (the normalising workers).

    The peak is this process's own VmHWM: ``ru_maxrss`` survives exec on Linux, so a child
    started by a big parent would report the parent's peak.
    """
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open("/proc/self/status") as status:
        hwm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return {
        "peak_mb": max(hwm_kb, children.ru_maxrss) / 1024,
        "cpu": me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime,
    }


def child_import(path: str) -> None:
    """Run import_customers in this (child) process; print wall time, CPU, peak RSS, outcome."""
    import io

    import django

    django.setup()
    from django.core.management import call_command

    before = _usage()["cpu"]
    out = io.StringIO()
    started = time.perf_counter()
    try:
        call_command("import_customers", path, "--json", stdout=out)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    elapsed = time.perf_counter() - started
    usage = _usage()
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    outcome = {k: report[k] for k in ("created", "updated", "unchanged", "skipped")}
    outcome["errors"] = len(report["errors"])
    print(
        json.dumps(
            {"seconds": elapsed, "peak_mb": usage["peak_mb"], "cpu": usage["cpu"] - before}
            | {"outcome": outcome}
        )
    )


def run_child(path: str, mode: str = "--child") -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_import", mode, path],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def iie_child(path: str) -> None:
    """Import the file with django-import-export in bulk mode; print wall time, CPU, peak RSS."""
    import django

    django.setup()
    import tablib
    from import_export import fields, resources

    from customers.models import Customer

    class ShopifyCustomerResource(resources.ModelResource):
        """A minimal resource over Customer for the Shopify columns it can take as they are."""

        first_name = fields.Field(attribute="first_name", column_name="First Name")
        last_name = fields.Field(attribute="last_name", column_name="Last Name")
        email = fields.Field(attribute="email", column_name="Email")
        company = fields.Field(attribute="company", column_name="Default Address Company")

        class Meta:
            model = Customer
            fields = ("first_name", "last_name", "email", "company")
            import_id_fields = ("email",)
            use_bulk = True
            batch_size = 2000
            skip_diff = True

    with open(path, encoding="utf-8", newline="") as f:
        dataset = tablib.Dataset().load(f.read(), format="csv")
    before = _usage()["cpu"]
    started = time.perf_counter()
    result = ShopifyCustomerResource().import_data(dataset, raise_errors=True)
    elapsed = time.perf_counter() - started
    assert not result.has_errors()
    usage = _usage()
    outcome = {k.lower(): v for k, v in result.totals.items() if v}
    print(
        json.dumps(
            {"seconds": elapsed, "peak_mb": usage["peak_mb"], "cpu": usage["cpu"] - before}
            | {"outcome": outcome}
        )
    )


def wipe(*, tags: bool = True) -> None:
    """Empty the tables an import writes (plain DELETEs: the ORM's cascade walks every row)."""
    from django.apps import apps
    from django.db import connection, transaction

    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        for label in (
            "customers.DuplicateKey",
            *(["customers.DuplicateKeyGroup"] if tags else []),
            "customers.TaggedCustomer",
            "customers.Address",
            "customers.Note",
            "customers.CustomerEvent",
            "customers.Customer",
            *(["customers.Tag"] if tags else []),
        ):
            cursor.execute(f"DELETE FROM {quote(apps.get_model(label)._meta.db_table)}")


# The tables an import writes, with the column naming each row's customer.
FLOOR_TABLES = (
    ("customers.Customer", "id"),
    ("customers.Address", "customer_id"),
    ("customers.TaggedCustomer", "content_object_id"),
    ("customers.Note", "customer_id"),
    ("customers.CustomerEvent", "customer_ref"),
    # The holders of the duplicate keys (the keys themselves stay: the holders point at them).
    ("customers.DuplicateKey", "customer_id"),
)


def schema_floor(batch: int = 2000) -> tuple[float, float, int]:
    """Re-insert the rows the import wrote, with nothing else; return (seconds, CPU, customers).

    The CPU seconds are this process's: on SQLite all of the work, on PostgreSQL the client's.
    """
    from django.apps import apps
    from django.db import connection, transaction

    quote = connection.ops.quote_name
    tables = []
    with connection.cursor() as cursor:
        for label, owner in FLOOR_TABLES:
            model = apps.get_model(label)
            columns = [f.column for f in model._meta.concrete_fields if not f.generated]
            cursor.execute(
                f"SELECT {', '.join(map(quote, columns))} FROM {quote(model._meta.db_table)} "
                f"ORDER BY {quote(model._meta.pk.column)}"
            )
            tables.append((model, columns, columns.index(owner), cursor.fetchall()))
    customer_ids = [row[0] for row in tables[0][3]]
    batch_of = {pk: i // batch for i, pk in enumerate(customer_ids)}
    batches: list[list[list]] = [
        [[] for _ in tables] for _ in range((len(customer_ids) + batch - 1) // batch)
    ]
    for t, (_model, _columns, owner, rows) in enumerate(tables):
        for row in rows:
            batches[batch_of[row[owner]]][t].append(row)
    wipe(tags=False)  # the links point at the store's tags, the holders at the keys
    started, cpu = time.perf_counter(), time.process_time()
    for rows_by_table in batches:
        with transaction.atomic(), connection.cursor() as cursor:
            for (model, columns, _owner, _all), rows in zip(tables, rows_by_table, strict=True):
                _floor_insert(cursor, model._meta.db_table, columns, rows)
    return time.perf_counter() - started, time.process_time() - cpu, len(customer_ids)


# SQLite accepts 32,766 parameters a statement: what rows_insert puts in one.
FLOOR_SQLITE_PARAMS = 32_000


def _floor_insert(cursor, table: str, columns: list[str], rows: list) -> None:
    from django.db import connection

    if not rows:
        return
    quote = connection.ops.quote_name
    names = ", ".join(map(quote, columns))
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    # Multi-row INSERTs, as rows_insert writes them: executemany is one statement a row, and
    # the search index (FTS5 triggers) flushes at the end of every statement.
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per_statement = max(1, FLOOR_SQLITE_PARAMS // len(columns))
    for start in range(0, len(rows), per_statement):
        part = rows[start : start + per_statement]
        cursor.execute(
            f"INSERT INTO {quote(table)} ({names}) VALUES " + ", ".join([row_sql] * len(part)),
            [value for row in part for value in row],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--huge", type=int, default=0, help="Also import a file this large.")
    parser.add_argument("--no-iie", action="store_true", help="Skip django-import-export.")
    parser.add_argument(
        "--debug", action="store_true", help="Run with DEBUG on (every query logged)."
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--iie-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_import(args.child)
        return
    if args.iie_child:
        iie_child(args.iie_child)
        return
    debug_set(args.debug)
    setup_django(_database_name())
    from django.db import connection

    vendor = connection.vendor
    connection.close()
    workdir = tempfile.mkdtemp(prefix="bench-import-")
    print(f"{vendor} (DEBUG {'on' if args.debug else 'off'}):")
    if args.rows:
        _compare(workdir, args.rows, iie=not args.no_iie)
    if args.huge:
        wipe()
        huge = os.path.join(workdir, f"shopify-{args.huge}.csv")
        write_file(huge, args.huge, seed=11)
        _line(f"{args.huge} rows:", args.huge, run_child(huge))
        os.remove(huge)


def _database_name() -> str:
    """The throwaway database, named after DATABASE_URL's own (``import5`` gives
    ``bench_import_import5``): runs from two checkouts on one server never drop each other's."""
    own = os.environ.get("DATABASE_URL", "").rpartition("/")[2]
    return f"bench_import_{own}" if own and "." not in own else "bench_import"


def debug_set(debug: bool) -> None:
    """Set DEBUG for this process and the measured children (they inherit the environment)."""
    os.environ["DJANGO_DEBUG"] = "1" if debug else "0"
    # The settings refuse DEBUG off without a key; a throwaway one signs nothing here.
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-import-" + "x" * 50)


def _line(label: str, rows: int, result: dict) -> tuple[float, float]:
    """Print one run; return its rows per second of wall time and per CPU second."""
    speed, per_cpu = rows / result["seconds"], rows / result["cpu"]
    print(
        f"  {label:24s} {result['seconds']:6.2f} s = {speed:8,.0f} rows/s; "
        f"CPU {result['cpu']:6.2f} s = {per_cpu:8,.0f} rows/CPU-s; "
        f"peak {result['peak_mb']:4.0f} MB; {result['outcome']} ({load()})"
    )
    return speed, per_cpu


def _ratios(label: str, ours: tuple[float, float], theirs: tuple[float, float]) -> str:
    return f"{label} {ours[0] / theirs[0]:.2f} (CPU {ours[1] / theirs[1]:.2f})"


def _compare(workdir: str, rows: int, *, iie: bool) -> None:
    from django.db import connection

    path = os.path.join(workdir, f"shopify-{rows}.csv")
    write_file(path, rows)
    print(f"  {rows} rows, {os.path.getsize(path) / 2**20:.1f} MB")
    create = _line("into an empty database:", rows, run_child(path))
    again = _line("same file again:", rows, run_child(path))
    seconds, cpu, customers = schema_floor()
    method = "COPY" if connection.vendor == "postgresql" else "multi-row INSERTs"
    connection.close()
    floor = (customers / seconds, customers / cpu)
    print(
        f"  {'schema floor:':24s} {seconds:6.2f} s = {floor[0]:8,.0f} rows/s; "
        f"CPU {cpu:6.2f} s = {floor[1]:8,.0f} rows/CPU-s "
        f"({method}, 2,000 customers a transaction; {load()})"
    )
    print(
        "  ratio to the floor: "
        + _ratios("create", create, floor)
        + ", "
        + _ratios("again", again, floor)
    )
    if iie:
        wipe()
        connection.close()
        iie_create = _line("import-export create:", rows, run_child(path, "--iie-child"))
        iie_again = _line("import-export again:", rows, run_child(path, "--iie-child"))
        print(
            "  ratio to django-import-export (bulk mode): "
            + _ratios("create", create, iie_create)
            + ", "
            + _ratios("again", again, iie_again)
        )
    os.remove(path)


if __name__ == "__main__":
    main()
