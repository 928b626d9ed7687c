"""Time "has possible duplicates" and the duplicates page at N customers, and the keys' upkeep.

Builds N customers set-based, each with one address; about 2% share a phone with another and
3% an address, a few old emails are stored untrimmed. Then times the list filtered on "has
possible duplicates" (admin page and the bare count), the duplicates page per kind, and with
``--upkeep`` what the writes cost: an import of 10,000 new Shopify rows, the same file again
with every phone changed (10,000 updates that move keys), a bulk archive of 10,000 customers.
Runs on a tree without the duplicate keys table too, to measure before and after:

    python -m tests.benchmarks.bench_duplicates --customers 200000 --upkeep
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python -m tests.benchmarks.bench_duplicates
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

from tests.benchmarks._setup import setup_django, staff_client, time_pages

UPKEEP_ROWS = 10_000


def _populate(count: int) -> None:
    """Insert ``count`` customers and one address each; build the derived tables."""
    from django.utils import timezone

    from customers.db.bulk import insert_fields, model_values, rows_insert
    from customers.models import Address, Customer

    started = time.perf_counter()
    now = timezone.now()
    fields = insert_fields(Customer, with_pk=False)
    template = list(model_values(Customer(created_at=now, updated_at=now), fields))
    at = {name: fields.index(name) for name in fields}
    phones = max(1, count - count // 50)
    places = max(1, count - count // 33)

    def customer_row(i: int) -> tuple:
        row = template.copy()
        row[at["first_name"]] = "Ann"
        row[at["last_name"]] = f"Name{i % 50000:05d}"
        # One in 20,000 emails predates the rules: stored with a space, beside its twin.
        row[at["email"]] = (
            f" customer{i - 1}@example.com" if i % 20000 == 1 else f"customer{i}@example.com"
        )
        row[at["phone"]] = f"+1201{2000000 + i % phones:07d}"
        return tuple(row)

    rows_insert(model=Customer, fields=fields, rows=(customer_row(i) for i in range(count)))
    first = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
    address_fields = insert_fields(Address, with_pk=False)
    address = list(
        model_values(
            Address(
                city="Boston",
                postal_code="02114",
                country_code="US",
                is_default=True,
                created_at=now,
            ),
            address_fields,
        )
    )
    where = {name: address_fields.index(name) for name in address_fields}

    def address_row(i: int) -> tuple:
        row = address.copy()
        row[where["customer_id"]] = first + i
        row[where["address1"]] = f"{i % places} Main St"
        return tuple(row)

    rows_insert(model=Address, fields=address_fields, rows=(address_row(i) for i in range(count)))
    print(f"built {count} customers in {time.perf_counter() - started:.0f} s", end="")
    try:
        from customers.services.duplicate_keys import rebuild_duplicate_keys
    except ImportError:
        print(" (no duplicate keys table)")
        return
    keys = time.perf_counter()
    rebuild_duplicate_keys()
    print(f" (rebuild_duplicate_keys {time.perf_counter() - keys:.1f} s)")


def _timed(function, repeat: int) -> tuple[object, float]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - t0)
    return result, statistics.median(times)


def _shopify_file(start: int, phone_offset: int) -> bytes:
    lines = [
        "First Name,Last Name,Email,Accepts Email Marketing,Default Address Address1,"
        "Default Address City,Default Address Province Code,Default Address Country Code,"
        "Default Address Zip,Phone"
    ]
    for i in range(start, start + UPKEEP_ROWS):
        lines.append(
            f"Eve,Stone{i},eve{i}@example.net,no,{i} Elm St,Boston,MA,US,02114,"
            f"+1617{2000000 + i + phone_offset:07d}"
        )
    return ("\n".join(lines) + "\n").encode()


def _upkeep(user) -> None:
    from customers.models import Customer
    from customers.services.archiving import customers_archive
    from customers.services.importing import customers_import

    def run(data: bytes) -> str:
        t0 = time.perf_counter()
        result = customers_import(actor=user, source=io.BytesIO(data), filename="bench.csv")
        elapsed = time.perf_counter() - t0
        return (
            f"{elapsed:6.2f} s ({UPKEEP_ROWS / elapsed:,.0f} rows/s; created {result.created}, "
            f"updated {result.updated}, errors {len(result.errors)})"
        )

    print(f"  import {UPKEEP_ROWS:,} new rows        {run(_shopify_file(0, 0))}")
    print(f"  same rows, every phone new   {run(_shopify_file(0, 5_000_000))}")
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:UPKEEP_ROWS])
    t0 = time.perf_counter()
    customers_archive(actor=user, customers=ids)
    print(f"  bulk archive {UPKEEP_ROWS:,} customers  {time.perf_counter() - t0:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--upkeep", action="store_true")
    args = parser.parse_args()
    setup_django("bench_duplicates")

    from django.contrib.auth import get_user_model
    from django.db import connection

    from customers.models import Customer
    from customers.selectors.duplicates import customers_with_possible_duplicates

    _populate(args.customers)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
    client = staff_client(user)
    print(f"{connection.vendor}, {args.customers} customers (median of {args.repeat}):")
    found, seconds = _timed(
        lambda: customers_with_possible_duplicates(Customer.objects.all()).count(), args.repeat
    )
    print(f"  {'has possible duplicates: count':34s} {seconds * 1000:6.0f} ms  ({found} customers)")
    url = "/admin/customers/customer/"
    time_pages(
        client,
        [
            ("list, has possible duplicates", f"{url}?duplicates=yes"),
            ("duplicates page, phone", f"{url}duplicates/?reason=phone"),
            ("duplicates page, phone p.50", f"{url}duplicates/?reason=phone&p=50"),
            ("duplicates page, address", f"{url}duplicates/?reason=address"),
            ("duplicates page, email", f"{url}duplicates/?reason=email"),
            ("duplicates page, search", f"{url}duplicates/?reason=phone&q=Name01234"),
        ],
        repeat=args.repeat,
        width=33,
    )
    if args.upkeep:
        _upkeep(user)


if __name__ == "__main__":
    main()
