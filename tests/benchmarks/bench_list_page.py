"""Time the customer list page with N seeded customers: queries and server time per page size."""

from __future__ import annotations

import argparse
import io
import time

from tests.benchmarks._setup import setup_django, staff_client, time_pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup_django("bench_list_page")

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    call_command("seed_demo", customers=args.customers, stdout=io.StringIO())
    print(
        f"{connection.vendor}: seed_demo --customers {args.customers}: "
        f"{time.perf_counter() - started:.1f} s"
    )
    client = staff_client(get_user_model().objects.get(username="demo"))
    pages = [
        ("default list, 100 rows", "/admin/customers/customer/"),
        ("10 rows", "/admin/customers/customer/?per_page=10"),
        ("20 rows", "/admin/customers/customer/?per_page=20"),
        ("500 rows", "/admin/customers/customer/?per_page=500"),
        # Every link of a row keeps the filters: the rows' URLs carry a query of their own.
        ("500 rows, filtered + sorted", "/admin/customers/customer/?o=-7&status=all&per_page=500"),
        ("sorted by orders", "/admin/customers/customer/?o=6"),
        ("filter 2-5 orders + tag", "/admin/customers/customer/?orders=2-5&tag=1"),
        ("search phone 613-555-1212", "/admin/customers/customer/?q=613-555-1212"),
        ("search name", "/admin/customers/customer/?q=dupont"),
    ]
    time_pages(client, pages, repeat=args.repeat)


if __name__ == "__main__":
    main()
