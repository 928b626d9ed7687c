"""Time a merge of 10 customers with 1,000 orders, and the duplicate finder on many customers.

    python -m tests.benchmarks.bench_merge --sizes 100000 1000000

The customer base grows to each size in turn (bulk_create in batches): one address per
customer, about 4% sharing a phone with another customer, 3% sharing a postal address written
differently (case, spacing, punctuation), 1% merged and 0.5% redacted.
"""

from __future__ import annotations

import argparse
import statistics
import time

from tests.benchmarks._setup import setup_django, staff_client

BATCH = 10_000


def timed(fn, repeat: int = 1):
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return result, times


def fmt(times: list[float]) -> str:
    if len(times) == 1:
        return f"{times[0] * 1000:8.0f} ms"
    return f"median {statistics.median(times) * 1000:6.0f} ms (max {max(times) * 1000:.0f})"


def bench_merge(actor) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customers.models import Address, Customer, Note, Order
    from customers.services.merge import customer_unmerge, customers_merge
    from customers.services.orders import orders_record

    customers = [
        Customer.objects.create(email=f"merge{i}@example.com", first_name=f"M{i}")
        for i in range(10)
    ]
    for i, customer in enumerate(customers):
        customer.tags.add("vip", f"tag{i}")
        Address.objects.create(customer=customer, address1=f"{i % 3} Main St", country_code="US")
        Note.objects.create(customer=customer, body="note")
    orders_record(
        actor="bench",
        orders=[
            Order(customer=customers[n % 10], number=f"M{n}", total="9.99", source="shopify")
            for n in range(1000)
        ],
    )
    with CaptureQueriesContext(connection) as ctx:
        result, times = timed(
            lambda: customers_merge(
                actor=actor,
                survivor_id=customers[0].pk,
                absorbed_ids=[c.pk for c in customers[1:]],
            )
        )
    print(
        f"merge 10 customers / 1,000 orders: {fmt(times)}, {len(ctx.captured_queries)} queries "
        f"({result.orders} orders, {result.addresses} addresses moved, "
        f"{result.addresses_folded} folded)"
    )
    with CaptureQueriesContext(connection) as ctx:
        _, times = timed(lambda: customer_unmerge(actor=actor, merge_id=result.merge.pk))
    print(f"undo that merge:                   {fmt(times)}, {len(ctx.captured_queries)} queries")


def grow(start: int, stop: int) -> None:
    """Add customers ``start``..``stop`` (explicit ids) with one address each."""
    from customers.models import Address, Customer

    for low in range(start, stop, BATCH):
        high = min(low + BATCH, stop)
        customers, addresses = [], []
        for i in range(low, high):
            pk = 1_000_000_000 + i  # clear of the ids the merge benchmark used
            phone = f"+1617{i:07d}"
            street, postal = f"{i} Main Street", f"{i % 99999:05d}"
            status, merged_into = "active", None
            if i % 25 == 1:  # 4%: same phone as the previous customer
                phone = f"+1617{i - 1:07d}"
            if i % 33 == 2:  # 3%: same address as the previous one, written differently
                street, postal = f"{i - 1} main street.", f"{(i - 1) % 99999:05d}"
            if i % 100 == 3:
                status, merged_into = "merged", pk - 1
            elif i % 200 == 5:
                status = "redacted"
            customers.append(
                Customer(
                    pk=pk,
                    email=f"c{i}@example.com",
                    first_name="Bench",
                    last_name=f"C{i}",
                    phone=phone,
                    status=status,
                    merged_into_id=merged_into,
                )
            )
            addresses.append(
                Address(
                    customer_id=pk,
                    address1=street,
                    city="Boston",
                    province_code="MA",
                    postal_code=postal,
                    country_code="US",
                    is_default=True,
                )
            )
        Customer.objects.bulk_create(customers)
        Address.objects.bulk_create(addresses)


def bench_finder(client, size: int, repeat: int) -> None:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from customers.selectors.duplicates import duplicate_groups

    # Growing the base filled the debug query log (9,000 entries); counting needs room again.
    reset_queries()
    total, times = timed(lambda: duplicate_groups().count())
    print(f"  groups (all kinds, count):       {fmt(times)}  -> {total} groups")
    for reason in ("email", "phone", "address"):
        n, times = timed(lambda r=reason: duplicate_groups(reason=r).count())
        print(f"  groups {reason:8s} (count):        {fmt(times)}  -> {n}")
    url = reverse("admin:customers_customer_duplicates")
    for label, params in (
        ("page 1", {}),
        ("page 20", {"p": 20}),
        ("address page 1", {"reason": "address"}),
    ):
        with CaptureQueriesContext(connection) as ctx:
            response, times = timed(lambda p=params: client.get(url, p), repeat)
        assert response.status_code == 200, response.status_code
        print(f"  duplicates page, {label:15s} {fmt(times)}, {len(ctx.captured_queries)} queries")
    changelist = reverse("admin:customers_customer_changelist")
    with CaptureQueriesContext(connection) as ctx:
        response, times = timed(lambda: client.get(changelist, {"duplicates": "yes"}), repeat)
    assert response.status_code == 200, response.status_code
    print(
        f"  list filter 'has possible duplicates': {fmt(times)}, "
        f"{len(ctx.captured_queries)} queries, {response.context['cl'].result_count} customers"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--reuse",
        metavar="DATABASE_URL",
        help="time the finder again on a database an earlier run built (no merge, no growth)",
    )
    args = parser.parse_args()
    if args.reuse:
        reuse(args.reuse, args.repeat)
        return
    setup_django("bench_merge")
    from django.test.utils import setup_test_environment

    setup_test_environment()  # lets the client see the response context

    from django.contrib.auth import get_user_model
    from django.db import connection

    actor = get_user_model().objects.create_superuser("bench", "bench@example.com", "pw")
    print(f"database: {connection.vendor}")
    bench_merge(actor)
    client = staff_client(actor)
    built = 0
    for size in sorted(args.sizes):
        _, times = timed(lambda s=size, b=built: grow(b, s))
        built = size
        # Statistics and (PostgreSQL) the visibility map, as autovacuum keeps them in production.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
        print(f"{size:,} customers (built in {times[0]:.0f} s):")
        bench_finder(client, size, args.repeat)


def reuse(url: str, repeat: int) -> None:
    import os

    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_test_environment

    from customers.models import Customer

    setup_test_environment()
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    client = staff_client(get_user_model().objects.get(username="bench"))
    print(f"database: {connection.vendor}, reused")
    print(f"{Customer.objects.count():,} customers:")
    bench_finder(client, 0, repeat)


if __name__ == "__main__":
    main()
