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


# Set by --statements: print where each action's time goes, statement by statement.
STATEMENTS = {"on": False}


class _StatementTimes:
    """An execute_wrapper that adds up the time of each statement, keyed by its first words."""

    def __init__(self):
        self.times: dict[str, list[float]] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split())[:90]
            self.times.setdefault(key, []).append(time.perf_counter() - started)

    def print(self, work: float, commit: float) -> None:
        spent = 0.0
        for key, times in sorted(self.times.items(), key=lambda item: -sum(item[1])):
            spent += sum(times)
            print(f"      {sum(times):6.3f} s  x{len(times):<3d} {key}")
        print(f"      {work - spent:6.3f} s  outside statements (Python)")
        print(f"      {commit:6.3f} s  commit (deferred foreign-key checks)")


def timed(label: str, work) -> None:
    """Run ``work`` in a transaction; print its wall and CPU time and query count."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    statements = _StatementTimes()
    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(statements):
        t0, cpu0 = time.perf_counter(), time.process_time()
        with transaction.atomic():  # the services' own atomic, plus on_commit (email)
            result = work()
            worked = time.perf_counter() - t0
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    verdict = "ok" if elapsed < 3 else "SLOW"
    # cpu: this process only (all of SQLite's work; Python only on PostgreSQL). On a shared
    # machine it shows how much of the wall time was waiting for a core.
    print(
        f"  {label:45s} {elapsed:6.2f} s (cpu {cpu:5.2f} s)  queries={len(ctx):4d}  "
        f"{verdict}  {result}"
    )
    if STATEMENTS["on"]:
        statements.print(worked, elapsed - worked)


def write_counts() -> tuple[int, int, float] | None:
    """Rows of customers_customer updated and HOT-updated so far, and the CPU seconds the
    PostgreSQL server process of this connection has used (read from /proc)."""
    import os

    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd, pg_backend_pid() FROM pg_stat_user_tables "
            "WHERE relname = 'customers_customer'"
        )
        updated, hot, pid = cursor.fetchone()
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        server_cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:  # the server runs elsewhere
        server_cpu = float("nan")
    return updated, hot, server_cpu


def timed_hot(label: str, work) -> None:
    """``timed``, plus how many customer rows it rewrote, how many stayed on their page (HOT:
    no index entry written), and the server's CPU time: on a busy machine the wall time
    counts the waiting for a core, these figures do not."""
    before = write_counts()
    timed(label, work)
    after = write_counts()
    if before is not None and after is not None:
        updated, hot, server_cpu = (a - b for a, b in zip(after, before, strict=True))
        share = f"{hot / updated:.0%}" if updated else "-"
        print(
            f"  {'':45s} server cpu {server_cpu:5.2f} s  customer rows rewritten={updated:.0f} "
            f"HOT={hot:.0f} ({share})"
        )


def bulk_actions_on_everyone(count: int, run: int = 0) -> None:
    """Tag, untag, group, ungroup, archive and unarchive all ``count`` customers (target < 3 s).

    Each line also says how many customer rows were rewritten and how many of those were HOT.
    """
    import os

    from customers.models import Customer
    from customers.services.archiving import customers_archive, customers_unarchive
    from customers.services.grouping import customers_assign_group, customers_remove_group
    from customers.services.tagging import customers_add_tags, customers_remove_tags
    from groups.models import CustomerGroup

    print(f"  -- every bulk action on all {count} (load average {os.getloadavg()[0]:.2f})")
    group = CustomerGroup.objects.create(name=f"Everyone {run}")
    a, b, c = (f"{name}{run or ''}" for name in "ABC")
    everyone = Customer.objects.listed_by_default()
    lines = [
        ("add one tag", lambda: customers_add_tags(actor="bench", customers=everyone, names=[a])),
        (
            "remove it",
            lambda: customers_remove_tags(actor="bench", customers=everyone, names=[a.lower()]),
        ),
        (
            "add two tags",
            lambda: customers_add_tags(actor="bench", customers=everyone, names=[b, c]),
        ),
        (
            "set a group",
            lambda: customers_assign_group(actor="bench", customers=everyone, group=group),
        ),
        ("remove the group", lambda: customers_remove_group(actor="bench", customers=everyone)),
        ("archive", lambda: customers_archive(actor="bench", customers=everyone)),
        (
            "unarchive",
            lambda: customers_unarchive(
                actor="bench", customers=Customer.objects.filter(status="archived")
            ),
        ),
    ]
    for label, work in lines:
        timed_hot(f"{label} on all {count}", lambda work=work: _summary(work()))
    print(f"  -- load average {os.getloadavg()[0]:.2f}")


def plain_column_rewrite(count: int) -> None:
    """Rewrite an unindexed column (and the version) of all ``count`` customers, in batches.

    What fillfactor is for: on PostgreSQL the share of HOT updates (new row version on the same
    page, no index entry) shows how much room the pages kept.
    """
    from customers.db.bulk import versions_bump
    from customers.models import Customer

    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    timed_hot(
        f"tax exempt on all {count} (unindexed column)",
        lambda: versions_bump(ids, tax_exempt=True),
    )


def _summary(result) -> str:
    changed = getattr(result, "changed", None)
    return f"changed={changed}" if changed is not None else str(result)


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


def _database_name() -> str:
    """The benchmark's throwaway database, named after DATABASE_URL's own (``bulk4`` gives
    ``bench_bulk_actions_bulk4``): runs from two checkouts on one server then never drop each
    other's database mid-run."""
    import os

    own = os.environ.get("DATABASE_URL", "").rpartition("/")[2]
    return f"bench_bulk_actions_{own}" if own and "." not in own else "bench_bulk_actions"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--selected", type=int, default=10_000)
    parser.add_argument(
        "--only-everyone", action="store_true", help="only the bulk actions on everyone"
    )
    parser.add_argument("--repeat", type=int, default=1, help="run those actions N times")
    parser.add_argument(
        "--statements", action="store_true", help="print each action's time per statement"
    )
    args = parser.parse_args()
    STATEMENTS["on"] = args.statements
    setup_django(_database_name())

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
    if args.only_everyone:
        for run in range(args.repeat):
            bulk_actions_on_everyone(args.customers, run)
        return
    plain_column_rewrite(args.customers)
    bulk_actions_on_everyone(args.customers)

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
