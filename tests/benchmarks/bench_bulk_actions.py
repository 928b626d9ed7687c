"""Time the bulk services on N customers: tag all, untag all, group all, archive, email, and the
delete guard (and the delete itself) over a selection. Target: each under 3 s."""

from __future__ import annotations

import argparse
import time

from tests.benchmarks._setup import setup_django


def _populate(count: int) -> int:
    """Create ``count`` customers (1 in 50 subscribed, 1 in 7 with an order); return first pk."""
    from django.db import connection

    from customers.models import Customer, Order

    started = time.perf_counter()
    Customer.objects.bulk_create(
        (
            Customer(
                first_name="First",
                last_name=f"Last{i}",
                email=f"customer{i}@example.com",
                has_active_subscription=i % 50 == 1,
            )
            for i in range(count)
        ),
        batch_size=2000,
    )
    first = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
    Order.objects.bulk_create(
        (
            Order(number=str(i), customer_id=first + i, total="10.00", source="shopify")
            for i in range(0, count, 7)
        ),
        batch_size=2000,
    )
    print(
        f"{connection.vendor}: {count} customers created in {time.perf_counter() - started:.1f} s"
    )
    return first


def timed(label: str, work) -> None:
    """Run ``work`` in a transaction; print its wall and CPU time and query count."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        t0, cpu0 = time.perf_counter(), time.process_time()
        with transaction.atomic():  # the services' own atomic, plus on_commit (email)
            result = work()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    verdict = "ok" if elapsed < 3 else "SLOW"
    # cpu: this process only (all of SQLite's work; Python only on PostgreSQL). On a shared
    # machine it shows how much of the wall time was waiting for a core.
    print(
        f"  {label:45s} {elapsed:6.2f} s (cpu {cpu:5.2f} s)  queries={len(ctx):4d}  "
        f"{verdict}  {result}"
    )


def mass_update_line(*, count: int, group) -> None:
    """Time "Edit selected customers" on everyone: group and a tag, then five changes at once."""
    from customers.models import Consent, Customer
    from customers.services.mass_update import MassUpdate, customers_mass_update

    def run(changes: MassUpdate):
        everyone = Customer.objects.listed_by_default()
        return customers_mass_update(actor="bench", customers=everyone, changes=changes).counts

    timed(
        f"mass update of all {count}: group + tag",
        lambda: run(MassUpdate(group=group, add_tags=("Mass",))),
    )
    five = MassUpdate(
        clear_group=True,
        tax_exempt=True,
        sms_consent=Consent.UNSUBSCRIBED,
        remove_tags=("Mass",),
        note="Benchmark note",
    )
    timed(f"mass update of all {count}: 5 changes", lambda: run(five))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--selected", type=int, default=10_000)
    args = parser.parse_args()
    setup_django("bench_bulk_actions")

    from django.conf import settings

    from customers.models import Customer
    from customers.services.archiving import customers_archive, customers_unarchive
    from customers.services.deletion import customers_delete, customers_deletion_plan
    from customers.services.emailing import customers_email
    from customers.services.grouping import customers_assign_group
    from customers.services.tagging import customers_add_tags, customers_remove_tags
    from groups.models import CustomerGroup

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    first = _populate(args.customers)
    group = CustomerGroup.objects.create(name="Benchmark")
    everyone = Customer.objects.listed_by_default()  # "select all" on the default list
    selection = Customer.objects.filter(pk__lt=first + args.selected)

    timed(
        f"add one tag to all {args.customers}",
        lambda: customers_add_tags(actor="bench", customers=everyone, names=["Fair"]).per_tag,
    )
    timed(
        f"remove it from all {args.customers}",
        lambda: customers_remove_tags(actor="bench", customers=everyone, names=["fair"]).per_tag,
    )
    timed(
        f"assign a group to all {args.customers}",
        lambda: customers_assign_group(actor="bench", customers=everyone, group=group).changed,
    )
    timed(
        f"archive {args.selected}",
        lambda: customers_archive(actor="bench", customers=selection).changed,
    )
    timed(
        f"unarchive {args.selected}",
        lambda: customers_unarchive(actor="bench", customers=selection).changed,
    )
    timed(
        f"email {args.selected} (locmem backend)",
        lambda: (
            customers_email(
                actor="bench",
                customers=selection,
                subject="Hi {first_name}",
                body="x",
                marketing=False,
            ).emailed
        ),
    )

    def guard():
        plan = customers_deletion_plan(customers=selection)
        return f"deletable={len(plan.deletable)} kept={len(plan.kept)}"

    timed(f"delete guard (plan with reasons) over {args.selected}", guard)

    def delete():
        result = customers_delete(actor="bench", customers=selection)
        return f"deleted={result.deleted} kept={len(result.kept)}"

    timed(f"delete {args.selected} (guarded)", delete)
    mass_update_line(count=args.customers, group=CustomerGroup.objects.create(name="Mass"))


if __name__ == "__main__":
    main()
