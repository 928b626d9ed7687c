"""Time the customer list with CustomerFilterSet's conditions on: ranges, dates, tags, address.

Builds N customers as bench_million does (a third with orders, a tenth tagged VIP), adds a
default address to every fifth and a birthday to every seventh, then times each filtered page
and ``customers_matching`` (count and first page, as a segment is evaluated):

    python -m tests.benchmarks.bench_filters --customers 200000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python -m tests.benchmarks.bench_filters
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time

from tests.benchmarks._setup import setup_django, staff_client, time_pages
from tests.benchmarks.bench_million import _populate


def _addresses_and_birthdays() -> None:
    """A default address for every fifth customer, a birthday in three days for every seventh."""
    from django.utils import timezone

    from customers.db.bulk import insert_fields, model_values, rows_insert
    from customers.models import Address, Customer

    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    fields = insert_fields(Address, with_pk=False)
    template = list(model_values(Address(is_default=True, created_at=timezone.now()), fields))
    at = {name: fields.index(name) for name in fields}
    countries = ["US", "FR", "ES", "CA", "DE"]

    def address_row(i: int, pk: int) -> tuple:
        row = template.copy()
        row[at["customer_id"]] = pk
        row[at["address1"]] = f"{i} Main St"
        row[at["city"]] = "Paris" if i % 2 else "Boston"
        row[at["country_code"]] = countries[i % 5]
        row[at["postal_code"]] = "02114"
        return tuple(row)

    rows_insert(
        model=Address, fields=fields, rows=(address_row(i, pk) for i, pk in enumerate(ids[::5]))
    )
    soon = datetime.date.today() + datetime.timedelta(days=3)
    born = datetime.date(1990, soon.month, min(soon.day, 28))
    chosen = ids[::7]
    for start in range(0, len(chosen), 5000):
        Customer.objects.filter(pk__in=chosen[start : start + 5000]).update(date_of_birth=born)


def _time_matching(conditions: dict, repeat: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customers.selectors.filtersets import customers_matching

    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            matching = customers_matching(conditions=conditions)
            count = matching.count()
            list(matching.order_by("-created_at", "-pk")[:100])
            times.append(time.perf_counter() - t0)
    print(
        f"  segment {conditions} -> {count} customers: queries={len(ctx.captured_queries)} "
        f"median={statistics.median(times) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    setup_django("bench_filters")

    from django.contrib.auth import get_user_model
    from django.db import connection

    _populate(args.customers)
    _addresses_and_birthdays()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
    client = staff_client(user)
    url = "/admin/customers/customer/"
    pages = [
        ("no condition", url),
        ("total spent 50-80", f"{url}?total_spent_min=50&total_spent_max=80"),
        ("orders at least 3", f"{url}?order_count_min=3"),
        ("average order at least 90", f"{url}?average_order_min=90"),
        ("sorted by average order", f"{url}?o=-8"),
        (
            "created this week",
            f"{url}?created_from={datetime.date.today() - datetime.timedelta(days=7)}",
        ),
        ("birthday within 7 days", f"{url}?birthday_within=7"),
        ("country FR, city Paris", f"{url}?country=FR&city=Paris"),
        ("email domain", f"{url}?email_domain=example.com"),
        ("tag all of VIP", f"{url}?tag_all=VIP"),
        ("tag none of VIP", f"{url}?tag_none=VIP"),
        (
            "three conditions, 500 rows",
            f"{url}?total_spent_min=20&tag_any=VIP&country=US&per_page=500",
        ),
    ]
    print(f"{connection.vendor}, {args.customers} customers (median of {args.repeat}):")
    time_pages(client, pages, repeat=args.repeat, width=30)
    _time_matching({"total_spent_min": "20", "tag_any": "VIP", "country": "US"}, args.repeat)


if __name__ == "__main__":
    main()
