"""Time "Edit selected customers" (the mass update service) on all N customers, as the admin
calls it on "select all" and as its background job runs it (batches of 10,000, a transaction
each): group + a tag, then five changes (clear the group, tax exempt, SMS unsubscribe, remove
the tag, a note). Target: each under 3 s.

Every round starts from the same state (the five changes undone untimed, the tables vacuumed on
PostgreSQL), so rounds can be repeated and medians taken. ``--compare FILE`` loads another
version of ``customers/services/mass_update.py`` (``git show REV:customers/services/...``) and
times it interleaved with this checkout's, round by round, on the same database.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time

from tests.benchmarks._setup import setup_django
from tests.benchmarks.bench_bulk_actions import _populate, write_counts


def _database_name() -> str:
    own = os.environ.get("DATABASE_URL", "").rpartition("/")[2]
    return f"bench_mass_update_{own}" if own and "." not in own else "bench_mass_update"


def _load(path: str):
    spec = importlib.util.spec_from_file_location("mass_update_compared", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _reset() -> None:
    """Undo the five changes (untimed) so that the next round does the same work."""
    from django.db import connection

    from customers.models import Consent, Customer, Note

    Customer.objects.update(tax_exempt=False, sms_consent=Consent.NOT_SUBSCRIBED)
    Note.objects.all().delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("customers_customer", "customers_taggedcustomer", "customers_note"):
                cursor.execute(f"VACUUM ANALYZE {table}")


class Statements:
    """Time each statement (``connection.execute_wrapper``), summed by its first words."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split()[:4])[:60]
            self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - t0
            self.count[key] = self.count.get(key, 0) + 1

    def print(self, commit: float) -> None:
        slowest = sorted(self.seconds.items(), key=lambda item: -item[1])[:8]
        for key, seconds in slowest:
            print(f"      {seconds:6.2f} s  {self.count[key]:4d} x  {key}")
        print(f"      {commit:6.2f} s     1 x  COMMIT (deferred foreign-key checks)")


def _timed(label: str, work, *, statements: bool = False) -> tuple[float, int, float]:
    """Run ``work`` in a transaction; print and return its wall time, query count and CPU time
    (this process, plus the PostgreSQL server process serving it)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    spy = Statements()
    before = write_counts()  # PostgreSQL: rows rewritten, HOT, the server's CPU so far
    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(spy):
        t0, cpu0 = time.perf_counter(), time.process_time()
        with transaction.atomic():
            result = work()
            t1 = time.perf_counter()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    server, server_cpu = "", 0.0
    if before is not None:
        updated, hot, server_cpu = (a - b for a, b in zip(write_counts(), before, strict=True))
        # On a shared machine the wall time counts the waits for a core; these do not.
        server = f"  server cpu {server_cpu:5.2f} s  rows rewritten {updated:.0f} (HOT {hot:.0f})"
    print(
        f"  {label:52s} {elapsed:6.2f} s (cpu {cpu:5.2f} s)  queries={len(ctx):4d}  "
        f"load {os.getloadavg()[0]:.2f}  {result}{server}",
        flush=True,
    )
    if statements:
        spy.print(commit=t0 + elapsed - t1)
    return elapsed, len(ctx), cpu + server_cpu


def _as_job(service, changes, ids: list[int], size: int):
    """What the background job does: the service on each batch of ids, a transaction each."""
    from django.db import transaction

    changed = 0
    for start in range(0, len(ids), size):
        with transaction.atomic():
            batch = ids[start : start + size]
            changed += service(actor="bench", customers=batch, changes=changes).changed
    return f"changed={changed}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compare", help="another mass_update.py, timed interleaved")
    parser.add_argument("--job", action="store_true", help="also time the job's batches")
    parser.add_argument("--statements", action="store_true", help="time each kind of statement")
    args = parser.parse_args()
    setup_django(_database_name())

    from django.conf import settings
    from django.db import connection

    from customers.models import Consent, Customer
    from customers.services import mass_update
    from groups.models import CustomerGroup

    _populate(args.customers)
    group = CustomerGroup.objects.create(name="Mass")
    versions = {"this checkout": mass_update}
    if args.compare:
        versions["compared"] = _load(args.compare)
    ids = sorted(Customer.objects.values_list("pk", flat=True))
    size = settings.BACKOFFICE_BULK_JOB_BATCH
    figures: dict[tuple[str, str], list[float]] = {}
    print(f"{connection.vendor}: {len(ids)} customers, load {os.getloadavg()[0]:.2f}")
    for round_number in range(args.repeat):
        for name, module in versions.items():
            two = module.MassUpdate(group=group, add_tags=("Mass",))
            five = module.MassUpdate(
                clear_group=True,
                tax_exempt=True,
                sms_consent=Consent.UNSUBSCRIBED,
                remove_tags=("Mass",),
                note="Benchmark note",
            )
            lines = [("group + tag", two), ("5 changes", five)]
            for label, changes in lines:
                everyone = Customer.objects.listed_by_default()
                elapsed, _queries, cpu = _timed(
                    f"[{round_number + 1}] {name}: {label} on all",
                    lambda m=module, c=changes, s=everyone: (
                        m.customers_mass_update(actor="bench", customers=s, changes=c).changed
                    ),
                    statements=args.statements,
                )
                figures.setdefault((name, label), []).append((elapsed, cpu))
            _reset()
            if args.job:
                for label, changes in lines:
                    elapsed, queries, cpu = _timed(
                        f"[{round_number + 1}] {name}: {label}, job batches of {size}",
                        lambda m=module, c=changes: _as_job(m.customers_mass_update, c, ids, size),
                    )
                    print(f"  {'':52s} queries per batch {queries / -(-len(ids) // size):.1f}")
                    figures.setdefault((name, f"{label} (job)"), []).append((elapsed, cpu))
                _reset()
    print(f"medians of {args.repeat}, load {os.getloadavg()[0]:.2f}:")
    for (name, label), runs in figures.items():
        times = [elapsed for elapsed, _cpu in runs]
        verdict = "ok" if statistics.median(times) < 3 else "SLOW"
        print(
            f"  {name:14s} {label:28s} median {statistics.median(times):6.2f} s  "
            f"(min {min(times):.2f}, max {max(times):.2f})  "
            f"cpu median {statistics.median(cpu for _e, cpu in runs):5.2f} s  {verdict}"
        )


if __name__ == "__main__":
    main()
