"""Time the customer list at a million customers, beside a plain Django admin in the same run.

Builds N customers set-based (secondary indexes and triggers dropped during the load and
rebuilt after, as a bulk load does; order summaries written with the rows), a third with 1-4
orders, a tenth tagged, half with a Shopify id, a tenth linked to a channel id; the same N rows
in the anchor, a plain 6-column model with Django's default ModelAdmin
(tests/benchmarks/anchor, installed only here). Then GETs every page ``--repeat`` times as a
signed-in superuser and prints the median and worst server time, the median time spent in
SQL (the rest is Python: the admin's rendering) and the query count:

    python -m tests.benchmarks.bench_million --customers 1000000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python -m tests.benchmarks.bench_million

``--reuse`` keeps the built database (``/tmp/bench_million_N.sqlite3`` or the PostgreSQL
database ``bench_million_N``) and reuses it on the next run. More lines (bulk actions,
segments): append a function ``hook(bench: Bench) -> None`` to ``HOOKS``; it calls
``bench.page(label, url)`` or ``bench.timed(label, function)``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote

FIRST = ["Élodie", "James", "María", "Chen", "Fatima", "Olga", "Kwame", "Aiko", "Liam", "Zoé"]
PHONE_TYPED = "(201) 555-7381"
# Part of its digits, as staff type a number half remembered: a substring, not an exact lookup.
PHONE_DIGITS = "5557381"
URL = "/admin/customers/customer/"
ANCHOR_URL = "/admin/anchor/person/"
DEEP_PAGE = 5000


# --- the database -------------------------------------------------------------------------------


def _setup(count: int, reuse: bool, name: str = "") -> bool:
    """Point Django at the benchmark database; return True when it already holds the data."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.benchmarks.anchor.settings"
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    name = name or f"bench_million_{count}"
    url = os.environ.get("DATABASE_URL", "")
    if not reuse:
        from tests.benchmarks._setup import setup_django

        setup_django(name)
        _syncdb()
        return False
    if url.startswith("postgres"):
        import psycopg

        base, _, _ = url.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not found:
                conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = f"{base}/{name}"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:////tmp/{name}.sqlite3"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    _syncdb()
    from customers.models import Customer

    return Customer.objects.count() >= count


def _syncdb() -> None:
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)


@contextlib.contextmanager
def _bulk_load(tables: list[str]):
    """Drop the tables' secondary indexes and triggers, and create them again afterwards.

    One index build after the load costs a fraction of a million index insertions; constraints
    (primary and unique keys) stay, and re-created unique indexes check the rows again.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, type, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                f"AND sql IS NOT NULL AND tbl_name IN ({', '.join(['%s'] * len(tables))})",
                tables,
            )
            saved = cursor.fetchall()
            for name, kind, _sql in saved:
                cursor.execute(f'DROP {kind.upper()} "{name}"')
        else:
            cursor.execute(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
                "WHERE t.relname = ANY(%s) AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
                [tables],
            )
            saved = [(name, "index", sql) for name, sql in cursor.fetchall()]
            for name, _kind, _sql in saved:
                cursor.execute(f'DROP INDEX "{name}"')
    yield
    with connection.cursor() as cursor:
        for _name, _kind, sql in saved:
            cursor.execute(sql)
        if connection.vendor == "sqlite":
            from customers.selectors.search import SEARCH_TABLE

            cursor.execute(f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('rebuild')")
            cursor.execute("ANALYZE")
        else:
            cursor.execute("ANALYZE")


def _populate(count: int) -> None:
    """Insert ``count`` customers with their summaries, orders, tags and channel ids."""
    from django.db import connection
    from django.utils import timezone

    from customers.db.bulk import insert_fields, model_values, rows_insert
    from customers.models import (
        Channel,
        ChannelConnection,
        ChannelCustomerLink,
        Customer,
        Order,
        Status,
        Tag,
        TaggedCustomer,
    )

    now = timezone.now()
    fields = insert_fields(Customer, with_pk=False)
    template = list(model_values(Customer(created_at=now, updated_at=now), fields))
    at = {name: fields.index(name) for name in fields}

    def customer_row(i: int) -> tuple:
        row = template.copy()
        row[at["first_name"]] = FIRST[i % len(FIRST)]
        row[at["last_name"]] = f"Name{i % 50000:05d}"
        row[at["email"]] = f"customer{i}@example.com"
        # As in a real shop, not everyone left a phone or came from Shopify: a third of the
        # customers have no phone and half no Shopify id (partial indexes skip them), and 1 in
        # 50 is archived.
        if i % 3 != 2 or i == count // 3:
            row[at["phone"]] = _phone(i, count)
        row[at["created_at"]] = now - datetime.timedelta(minutes=i)
        if i % 2 == 0:
            row[at["shopify_id"]] = str(6_200_000_000_000 + i)
        if i % 50 == 49:
            row[at["status"]] = Status.ARCHIVED
        if i % 3 == 0:  # the orders inserted below, summarised as order_summary would
            orders = 1 + i % 4
            row[at["order_count"]] = orders
            row[at["total_spent"]] = Decimal(orders * (10 + i % 90))
            row[at["last_order_at"]] = now
        return tuple(row)

    tables = [Customer._meta.db_table, Order._meta.db_table, TaggedCustomer._meta.db_table]
    tables.append(ChannelCustomerLink._meta.db_table)
    if connection.vendor == "postgresql":
        from customers.selectors.search import SEARCH_TABLE

        # The triggers fill the side table during the load; its trigram index is built once after.
        tables.append(SEARCH_TABLE)
    with _bulk_load(tables):
        rows_insert(model=Customer, fields=fields, rows=(customer_row(i) for i in range(count)))
        first = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
        rows_insert(
            model=Order,
            fields=["number", "customer_id", "placed_at", "total", "currency", "source"]
            + ["shipping_address"],
            rows=(
                (f"#{i}-{n}", first + i, now, Decimal(10 + i % 90), "USD", "shopify", {})
                for i in range(0, count, 3)
                for n in range(1 + i % 4)
            ),
        )
        tag = Tag.objects.create(name="VIP", slug="vip")
        rows_insert(
            model=TaggedCustomer,
            fields=["content_object_id", "tag_id"],
            rows=((first + i, tag.pk) for i in range(0, count, 10)),
        )
        shop = ChannelConnection.objects.create(channel=Channel.SHOPIFY, name="Bench shop")
        rows_insert(
            model=ChannelCustomerLink,
            fields=["connection_id", "external_id", "customer_ref"],
            rows=((shop.pk, f"gid-{i}", first + i) for i in range(0, count, 10)),
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def _phone(i: int, count: int) -> str:
    """Customer ``count // 3`` has the phone staff type as ``(201) 555-7381``."""
    if i == count // 3:
        return "+12015557381"
    return f"+1201{2000000 + i % 3000000:07d}"


def _populate_anchor(count: int) -> None:
    from django.utils import timezone

    from customers.db.bulk import rows_insert
    from tests.benchmarks.anchor.models import Person

    now = timezone.now()
    fields = ["first_name", "last_name", "email", "phone", "is_active", "created_at"]
    rows_insert(
        model=Person,
        fields=fields,
        rows=(
            (
                FIRST[i % len(FIRST)],
                f"Name{i % 50000:05d}",
                f"customer{i}@example.com",
                _phone(i, count),
                i % 7 != 0,
                now - datetime.timedelta(minutes=i),
            )
            for i in range(count)
        ),
    )


# --- timing -------------------------------------------------------------------------------------


@dataclass
class Bench:
    """One run: the signed-in client, the size, and every figure measured so far."""

    client: object
    count: int
    repeat: int
    lines: list[tuple[str, float, float, int | None]] = field(default_factory=list)
    only: str = ""

    def timed(self, label: str, function: Callable[[], object]) -> float:
        """Call ``function`` ``repeat`` times; record its median, worst time and query count."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        if self.only and not any(part in label for part in self.only.split(",")):
            return 0.0
        times, sql_times = [], []
        for _ in range(self.repeat):
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                function()
                times.append(time.perf_counter() - started)
            sql_times.append(sum(float(q["time"]) for q in ctx.captured_queries))
        median = statistics.median(times) * 1000
        queries = len(ctx.captured_queries)
        self.lines.append((label, median, max(times) * 1000, queries))
        print(
            f"  {label:44s} {median:7.0f} ms  max {max(times) * 1000:6.0f}  "
            f"SQL {statistics.median(sql_times) * 1000:6.0f} ms  queries {queries:3d}",
            flush=True,
        )
        return median

    def page(self, label: str, url: str) -> float:
        def get():
            response = self.client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return self.timed(label, get)


def segment_lines(bench: Bench) -> None:
    """A segment of three conditions: its count, and the list opened on it (first page)."""
    from django.contrib.auth import get_user_model

    from customers.models import Segment
    from customers.selectors.segments import segment_customers
    from customers.services.segments import segment_create

    since = (datetime.date.today() - datetime.timedelta(days=400)).isoformat()
    conditions = {"total_spent_min": "40", "tag_any": "VIP", "created_from": since}
    Segment.objects.filter(name="Bench VIP").delete()
    segment = segment_create(
        actor=get_user_model().objects.get(username="bench"),
        name="Bench VIP",
        conditions=conditions,
    )
    members = segment_customers(segment=segment).count()
    bench.timed(
        f"segment of 3 conditions: count ({members:,})", segment_customers(segment=segment).count
    )
    bench.page("segment of 3 conditions: list, first page", f"{URL}?segment={segment.pk}")
    bench.page("list sorted by total spent, money columns, 500 rows", f"{URL}?o=-7&per_page=500")


def bulk_lines(bench: Bench) -> None:
    """Bulk actions and a mass update on 100,000 of the customers (run once: they write)."""
    from customers.models import Consent, Customer
    from customers.services.archiving import customers_archive
    from customers.services.grouping import customers_assign_group
    from customers.services.mass_update import MassUpdate, customers_mass_update
    from customers.services.tagging import customers_add_tags
    from groups.models import CustomerGroup

    size = min(100_000, bench.count)
    first = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
    chosen = Customer.objects.filter(pk__gte=first, pk__lt=first + size)
    group = CustomerGroup.objects.create(name=f"Bench {time.time():.0f}")
    once = Bench(client=bench.client, count=bench.count, repeat=1, lines=bench.lines)
    once.timed(
        f"add a tag to {size:,}",
        lambda: customers_add_tags(actor="bench", customers=chosen, names=["Fair"]),
    )
    once.timed(
        f"set a group on {size:,}",
        lambda: customers_assign_group(actor="bench", customers=chosen, group=group),
    )
    changes = MassUpdate(
        clear_group=True, tax_exempt=True, sms_consent=Consent.UNSUBSCRIBED, add_tags=("Mass",)
    )
    once.timed(
        f"mass update of {size:,} (4 changes)",
        lambda: customers_mass_update(actor="bench", customers=chosen, changes=changes),
    )
    once.timed(f"archive {size:,}", lambda: customers_archive(actor="bench", customers=chosen))


# Functions ``hook(bench)`` run after the list figures; bulk_lines writes, so it runs last.
HOOKS: list[Callable[[Bench], None]] = [segment_lines]


def deep_cursor(position: int, ordering: tuple[str, ...] = ("-created_at", "-pk")) -> str:
    """The "Next" cursor that follows row ``position`` of the list in ``ordering`` (by default
    the list's own sort: page 5,000's link); a sort on the phone starts with those who have one."""
    from customers.admin.pagination import SortKey
    from customers.models import Customer

    rows = Customer.objects.listed_by_default()
    if ordering[0].lstrip("-") == "phone":
        rows = rows.exclude(phone="")
    names = [name.lstrip("-") for name in ordering]
    values = rows.order_by(*ordering).values_list(*names)[position]
    # As cursor_encode writes it for the row.
    keys = [SortKey(name.lstrip("-"), name.startswith("-")) for name in ordering]
    raw = json.dumps([[key.name for key in keys], [str(value) for value in values]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def project_pages(bench: Bench) -> None:
    n = bench.count
    deep = min(DEEP_PAGE, n // 200)
    page = bench.page
    page("list, first page (100 rows)", URL)
    page("list, first page, 20 rows", f"{URL}?per_page=20")
    page("list, first page, 500 rows", f"{URL}?per_page=500")
    page(f"page {deep:,} by 'Next' (keyset cursor)", f"{URL}?after={deep_cursor(deep * 100 - 1)}")
    page(f"page {deep:,} by number (?p=, OFFSET)", f"{URL}?p={deep}")
    page("search an exact email", f"{URL}?q=customer{n // 2}@example.com")
    page(f"search a phone {PHONE_TYPED}", f"{URL}?q={quote(PHONE_TYPED)}")
    page(f"search phone digits {PHONE_DIGITS}", f"{URL}?q={PHONE_DIGITS}")
    page("search a last name", f"{URL}?q=Name01234")
    page("search part of an email", f"{URL}?q=customer12345")
    page("search a Shopify id", f"{URL}?q={6_200_000_000_000 + (n // 4) * 2}")
    page("search a channel id", f"{URL}?q=gid-{(n // 20) * 10}")
    page("filter orders 2-5", f"{URL}?orders=2-5")
    page("filter orders 2-5, 500 rows", f"{URL}?orders=2-5&per_page=500")
    page("filter at least 4 orders (narrower)", f"{URL}?order_count_min=4")
    page("filter at least 50 orders (nobody)", f"{URL}?order_count_min=50")
    page("filter tag", f"{URL}?tag=VIP")
    page("filter possible duplicates", f"{URL}?duplicates=yes")
    page("filter archived", f"{URL}?status=archived")
    page("sort by phone", f"{URL}?o=3")
    page("sort by phone, descending", f"{URL}?o=-3")
    by_phone = deep_cursor(deep * 100 - 1, ("phone", "-created_at", "-pk"))
    page(f"sort by phone, page {deep:,} by 'Next'", f"{URL}?o=3&after={by_phone}")
    page(f"sort by phone, page {deep:,} by number", f"{URL}?o=3&p={deep}")
    page("sort by total spent", f"{URL}?o=-7")
    page("sort by orders", f"{URL}?o=-6")
    page(f"sort by orders, page {deep:,} by number", f"{URL}?o=-6&p={deep}")
    page(f"filter orders 2-5, page {deep // 10:,} by number", f"{URL}?orders=2-5&p={deep // 10}")


def anchor_pages(bench: Bench) -> None:
    n = bench.count
    deep = min(DEEP_PAGE, n // 200)
    bench.page("anchor: list, first page (100 rows)", ANCHOR_URL)
    bench.page(f"anchor: page {deep:,}", f"{ANCHOR_URL}?p={deep}")
    bench.page("anchor: search an exact email", f"{ANCHOR_URL}?q=customer{n // 2}@example.com")
    bench.page("anchor: search a last name", f"{ANCHOR_URL}?q=Name01234")
    bench.page("anchor: boolean filter", f"{ANCHOR_URL}?is_active__exact=0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the database")
    parser.add_argument("--bulk", action="store_true", help="also time bulk actions (they write)")
    parser.add_argument(
        "--name", default="", help="the database's name (default bench_million_N): one per worktree"
    )
    parser.add_argument(
        "--only",
        default="",
        help="time only the lines whose label holds this (or one of these, comma-separated)",
    )
    args = parser.parse_args()
    ready = _setup(args.customers, args.reuse, args.name)

    from django.contrib.auth import get_user_model
    from django.db import connection

    from tests.benchmarks._setup import staff_client

    if not ready:
        started = time.perf_counter()
        _populate(args.customers)
        from customers.services.duplicate_keys import rebuild_duplicate_keys

        keys_started = time.perf_counter()
        rebuild_duplicate_keys()
        print(f"rebuilt the duplicate keys in {time.perf_counter() - keys_started:.0f} s")
        built = time.perf_counter() - started
        _populate_anchor(args.customers)
        print(
            f"built {args.customers:,} customers in {built:.0f} s "
            f"(and the anchor's rows in {time.perf_counter() - started - built:.0f} s)"
        )
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    bench = Bench(
        client=staff_client(user), count=args.customers, repeat=args.repeat, only=args.only
    )
    print(
        f"{connection.vendor}, {args.customers:,} customers, median of {args.repeat} "
        f"(load average {os.getloadavg()[0]:.2f}):"
    )
    project_pages(bench)
    anchor_pages(bench)
    for hook in HOOKS + ([bulk_lines] if args.bulk else []):
        hook(bench)


if __name__ == "__main__":
    main()
