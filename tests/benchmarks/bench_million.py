"""Time the customer list at a million customers: pages, searches, filters, sorts.

Builds N customers in a few set-based inserts (not seed_demo: the point is the list, not the
seeding), a third with orders, a tenth tagged, then times each page as a signed-in superuser:
server time and query count. Run on SQLite and on PostgreSQL (DATABASE_URL):

    python -m tests.benchmarks.bench_million --customers 1000000
"""

from __future__ import annotations

import argparse
import datetime
import time
from decimal import Decimal
from urllib.parse import quote

from tests.benchmarks._setup import setup_django, staff_client, time_pages

FIRST = ["Élodie", "James", "María", "Chen", "Fatima", "Olga", "Kwame", "Aiko", "Liam", "Zoé"]


def _populate(count: int) -> None:
    """Insert ``count`` customers, their orders and tags, then build the order summaries."""
    from django.utils import timezone

    from customers.db.bulk import insert_fields, model_values, rows_insert
    from customers.models import Customer, Order, Tag, TaggedCustomer
    from customers.services.order_summary import rebuild_order_summaries

    started = time.perf_counter()
    now = timezone.now()
    fields = insert_fields(Customer, with_pk=False)
    template = list(model_values(Customer(created_at=now, updated_at=now), fields))
    at = {name: fields.index(name) for name in fields}

    def customer_row(i: int) -> tuple:
        row = template.copy()
        row[at["first_name"]] = FIRST[i % len(FIRST)]
        row[at["last_name"]] = f"Name{i % 50000:05d}"
        row[at["email"]] = f"customer{i}@example.com"
        row[at["phone"]] = f"+1201{2000000 + i % 8000000:07d}"
        row[at["created_at"]] = now - datetime.timedelta(minutes=i)
        return tuple(row)

    rows_insert(model=Customer, fields=fields, rows=(customer_row(i) for i in range(count)))
    first = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
    order_fields = ["number", "customer_id", "placed_at", "total", "currency", "source"]
    rows_insert(
        model=Order,
        fields=order_fields + ["shipping_address"],
        rows=(
            (f"#{i}-{n}", first + i, now, Decimal(10 + i % 90), "USD", "shopify", {})
            for i in range(0, count, 3)
            for n in range(1 + i % 4)
        ),
    )
    tag = Tag.objects.create(name="VIP")
    rows_insert(
        model=TaggedCustomer,
        fields=["content_object_id", "tag_id"],
        rows=((first + i, tag.pk) for i in range(0, count, 10)),
    )
    summaries = time.perf_counter()
    rebuild_order_summaries()
    print(
        f"built {count} customers in {time.perf_counter() - started:.0f} s "
        f"(order summaries {time.perf_counter() - summaries:.0f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    setup_django("bench_million")

    from django.contrib.auth import get_user_model
    from django.db import connection

    _populate(args.customers)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
    client = staff_client(user)
    n = args.customers
    local = f"{2000000 + n // 3:07d}"
    typed = f"(201) {local[:3]}-{local[3:]}"  # the phone of customer n // 3, as staff type it
    url = "/admin/customers/customer/"
    pages = [
        ("first page (100 rows)", url),
        ("first page, 500 rows", f"{url}?per_page=500"),
        (f"page {min(5000, n // 200):,}", f"{url}?p={min(5000, n // 200)}"),
        ("search exact email", f"{url}?q=customer{n // 2}@example.com"),
        (f"search phone {typed}", f"{url}?q={quote(typed)}"),
        ("search a last name", f"{url}?q=Name01234"),
        ("search part of an email", f"{url}?q=customer12345"),
        ("filter 2-5 orders", f"{url}?orders=2-5"),
        ("filter tag", f"{url}?tag=VIP"),
        ("sorted by total spent", f"{url}?o=-7"),
        ("sorted by orders", f"{url}?o=-6"),
    ]
    print(f"{connection.vendor}, {n} customers (median of {args.repeat}):")
    time_pages(client, pages, repeat=args.repeat, width=30)


if __name__ == "__main__":
    main()
