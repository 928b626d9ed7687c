"""Time the background jobs of the customer list on N customers: a mailing to all of them (console
backend, its output to /dev/null, no rate limit: the job's own cost) and a "select all" add-tag.

    python -m tests.benchmarks.bench_mailing --customers 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        python -m tests.benchmarks.bench_mailing

Each job is started as the confirmed admin page starts it (``mailing_job_start`` /
``bulk_job_start`` with a "select all" on the list's default filter) and run by the job runner
(``run_job``, what ``db_worker`` calls) in this process, so its queries can be counted. Prints
seconds, queries, messages a second, and the time the configured rate would take.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

from tests.benchmarks._setup import setup_django


class QueryCount:
    """Count every statement (CaptureQueriesContext keeps only the last 9,000)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    setup_django("bench_mailing")

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.urls import reverse

    from backoffice.jobs.models import Job
    from backoffice.jobs.tasks import run_job
    from customers.admin.selection import ActionSelection
    from customers.jobs_bulk import bulk_job_start, mailing_job_start
    from customers.models import Customer, CustomerEvent, EventKind, TaggedCustomer

    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    rate = settings.BACKOFFICE_EMAIL_RATE
    settings.BACKOFFICE_EMAIL_RATE = 0
    started = time.perf_counter()
    Customer.objects.bulk_create(
        (
            Customer(first_name=f"First{i}", last_name=f"Last{i}", email=f"c{i}@example.com")
            for i in range(args.customers)
        ),
        batch_size=2000,
    )
    actor = User.objects.create_superuser("bench", "bench@example.com", "pw")
    print(
        f"{connection.vendor}: {args.customers} customers created in "
        f"{time.perf_counter() - started:.1f} s"
    )

    def select_all(action: str) -> ActionSelection:
        return ActionSelection(
            queryset=None,
            select_across=True,
            ids=[],
            count=args.customers,
            post_url=reverse("admin:customers_customer_changelist"),
            action=action,
        )

    def run(label: str, job: Job, *, quiet: bool = False) -> tuple[float, Job]:
        with contextlib.ExitStack() as stack:
            if quiet:
                stack.enter_context(contextlib.redirect_stdout(open(os.devnull, "w")))  # noqa: SIM115
            queries = QueryCount()
            stack.enter_context(connection.execute_wrapper(queries))
            began = time.perf_counter()
            state = run_job.call(job.pk)
            seconds = time.perf_counter() - began
        job.refresh_from_db()
        print(f"{label}: {state} in {seconds:.1f} s, {queries.count} queries; {job.message}")
        return seconds, job

    mailing = mailing_job_start(
        actor=actor,
        selection=select_all("send_email"),
        subject="Spring news, {first_name}",
        body="Dear {first_name} {last_name},\n\nOur spring collection is in.\n",
        marketing=False,
    )
    seconds, mailing = run("mailing", mailing, quiet=True)
    emailed = CustomerEvent.objects.filter(kind=EventKind.EMAILED).count()
    print(
        f"  {mailing.result['sent'] / seconds:.0f} messages/s, {emailed} EMAILED events; "
        f"at BACKOFFICE_EMAIL_RATE={rate:g}/s it would take "
        f"{args.customers / rate / 60:.0f} min"
        if rate
        else ""
    )
    tagging = bulk_job_start(
        actor=actor, action="add_tags", selection=select_all("add_tags"), data={"tags": ["Bench"]}
    )
    run("select all, add tag", tagging)
    print(f"  {TaggedCustomer.objects.count()} tag links")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
