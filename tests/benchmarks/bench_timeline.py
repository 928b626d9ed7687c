"""Time the customer change page and its timeline for a customer with 5 events and one with N.

The trail is built set-based (one insert per batch), among other customers' events so that the
table is not the customer's alone; pages are timed through the admin, the selector alone too.
"""

from __future__ import annotations

import argparse
import statistics
import time

from tests.benchmarks._setup import setup_django, staff_client, time_pages


def _trail(customer_id: int, count: int, *, note_every: int) -> None:
    """``count`` edits a minute apart ending now, and a note every ``note_every`` of them."""
    import datetime

    from django.utils import timezone

    from customers.db.bulk import rows_insert
    from customers.models import CustomerEvent, EventKind

    now = timezone.now()
    rows = []
    for i in range(count):
        at = now - datetime.timedelta(minutes=count - i)
        data = {"changes": {"company": [f"C{i}", f"C{i + 1}"]}}
        rows.append((customer_id, customer_id, "bench", EventKind.UPDATED, data, at))
        if i % note_every == 0:
            note = {"id": i, "body": f"note {i}"}
            rows.append((customer_id, customer_id, "bench", EventKind.NOTE_ADDED, note, at))
    fields = ("customer_id", "customer_ref", "actor_label", "kind", "data", "created_at")
    rows_insert(model=CustomerEvent, fields=fields, rows=rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--others", type=int, default=2_000, help="other customers, 50 events each")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup_django("bench_timeline")

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customers.models import Customer
    from customers.selectors.timeline import customer_timeline

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "pw")
    few = Customer.objects.create(first_name="Few", last_name="Events", email="few@example.com")
    many = Customer.objects.create(first_name="Many", last_name="Events", email="many@example.com")
    started = time.perf_counter()
    others = Customer.objects.bulk_create(
        Customer(first_name="O", last_name=str(i), email=f"o{i}@example.com")
        for i in range(args.others)
    )
    for other in others:
        _trail(other.pk, 50, note_every=10)
    _trail(few.pk, 5, note_every=5)
    _trail(many.pk, args.events, note_every=1000)
    print(
        f"{connection.vendor}: {args.events} events on one customer, {args.others} others "
        f"with 50 each: built in {time.perf_counter() - started:.1f} s"
    )

    with connection.cursor() as cursor:
        # What autovacuum does on a live database: without statistics PostgreSQL plans blind.
        cursor.execute("ANALYZE")
    deep = customer_timeline(customer_id=many.pk, per_page=args.events // 2).older
    for label, customer in (("5 events", few), (f"{args.events} events", many)):
        for name, params in (
            ("first page", {}),
            ("notes only", {"kind": "notes"}),
            ("edits only", {"kind": "edits"}),
            ("orders only (none)", {"kind": "orders"}),
            *([("page in the middle", {"before": deep})] if customer is many else []),
        ):
            times = []
            for _ in range(args.repeat):
                with CaptureQueriesContext(connection) as ctx:
                    t0 = time.perf_counter()
                    customer_timeline(customer_id=customer.pk, **params)
                    times.append(time.perf_counter() - t0)
            print(
                f"  selector {label:14s} {name:20s} queries={len(ctx.captured_queries)}  "
                f"median={statistics.median(times) * 1000:6.1f} ms"
            )
    client = staff_client(user)
    url = "/admin/customers/customer/{}/change/"
    time_pages(
        client,
        [
            ("change page, 5 events", url.format(few.pk)),
            (f"change page, {args.events} events", url.format(many.pk)),
            ("  ... notes only", url.format(many.pk) + "?timeline=notes"),
        ],
        repeat=args.repeat,
        width=30,
    )


if __name__ == "__main__":
    main()
