"""Time segments at scale: the segments page (one COUNT per segment), a segment of three
conditions (its count and the list's first page on it).

Reuses bench_million's set-based population (a third with orders, a tenth tagged VIP). Run on
SQLite and on PostgreSQL (DATABASE_URL):

    python -m tests.benchmarks.bench_segments --customers 200000
"""

from __future__ import annotations

import argparse
import statistics
import time

from tests.benchmarks._setup import setup_django, staff_client, time_pages
from tests.benchmarks.bench_million import _populate

THREE_CONDITIONS = {"total_spent_min": "50", "tag": "VIP", "order_count_min": "2"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--segments", type=int, default=10, help="a full page of the segments list")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    setup_django("bench_segments")

    from django.contrib.auth import get_user_model
    from django.db import connection

    from customers.selectors.segments import segment_customers
    from customers.services.segments import segment_create

    _populate(args.customers)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
    segment = segment_create(actor=user, name="Big VIPs", conditions=THREE_CONDITIONS)
    for n in range(1, args.segments):
        segment_create(actor=user, name=f"Spent {n}+", conditions={"total_spent_min": str(n)})

    counts = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        size = segment_customers(segment=segment).count()
        counts.append(time.perf_counter() - started)
    print(f"{connection.vendor}, {args.customers} customers (median of {args.repeat}):")
    print(
        f"  segment of three conditions: {size} customers, COUNT median "
        f"{statistics.median(counts) * 1000:.0f} ms"
    )
    client = staff_client(user)
    time_pages(
        client,
        [
            (f"segments page ({args.segments})", "/admin/customers/segment/"),
            ("list on the segment", f"/admin/customers/customer/?segment={segment.pk}"),
            (
                "list on the segment by spend",
                f"/admin/customers/customer/?segment={segment.pk}&o=-7",
            ),
        ],
        repeat=args.repeat,
        width=30,
    )


if __name__ == "__main__":
    main()
