"""Time erasure requests and runs, the history page and the personal-data export at scale."""

from __future__ import annotations

import argparse
import io
import time
from datetime import timedelta

from tests.benchmarks._setup import setup_django, staff_client, time_pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--erase", type=int, default=1000, help="customers to request and erase")
    parser.add_argument("--events", type=int, default=5000, help="events on one customer")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup_django("bench_privacy")

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from customers.audit.events import events_write_rows
    from customers.models import Customer, EventKind
    from customers.services.privacy import customers_process_erasure, customers_request_erasure

    call_command("seed_demo", customers=args.customers, stdout=io.StringIO())
    user = get_user_model().objects.get(username="demo")
    print(f"{connection.vendor}: {args.customers} customers seeded")

    def timed(label, func):
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            result = func()
            elapsed = time.perf_counter() - t0
        print(f"  {label:46s} queries={len(ctx.captured_queries):5d}  {elapsed * 1000:8.0f} ms")
        return result

    targets = Customer.objects.filter(
        pk__in=Customer.objects.active().order_by("pk").values("pk")[: args.erase]
    )
    timed(
        f"request erasure of {args.erase} (admin action)",
        lambda: customers_request_erasure(actor=user, queryset=targets),
    )
    later = timezone.now() + timedelta(days=3650)
    run = timed(
        "dry run", lambda: customers_process_erasure(actor="bench", now=later, dry_run=True)
    )
    run = timed(
        f"erase {len(run.due)} customers",
        lambda: customers_process_erasure(actor="bench", now=later),
    )
    print(f"    erased {len(run.erased)}")
    timed("second run (nothing to do)", lambda: customers_process_erasure(actor="bench", now=later))

    customer = Customer.objects.active().order_by("pk").first()
    events_write_rows(
        actor=user,
        kind=EventKind.UPDATED,
        rows=[(customer.pk, {"changes": {"company": ["A", "B"]}})] * args.events,
    )
    client = staff_client(user)
    pages = (
        (
            f"history page 1 ({args.events} events)",
            f"/admin/customers/customer/{customer.pk}/history/",
        ),
        ("history last page", f"/admin/customers/customer/{customer.pk}/history/?p=last"),
        ("change page", f"/admin/customers/customer/{customer.pk}/change/"),
        ("personal-data export", f"/admin/customers/customer/{customer.pk}/personal-data/"),
    )
    time_pages(client, pages, repeat=args.repeat, width=46)


if __name__ == "__main__":
    main()
