"""Time the admin import end to end as background jobs, and a clerk saving during its preview.

    python -m tests.benchmarks.bench_admin_import --rows 200000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python -m tests.benchmarks.bench_admin_import

On a fresh database (a SQLite file, or a database of its own on DATABASE_URL's server), with 1%
of the file's customers already stored: a signed-in superuser uploads a Shopify file through the
admin's import page; a real `manage.py db_worker` process runs the preview job, then the confirm
job. Meanwhile, once a second, a clerk saves one of the file's customers through the same service
as the change form (`customer_save`). Prints each step's wall time, the worker's peak resident
memory (and that of the processes it forks to check records), and the clerk's save times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from tests.benchmarks._jobs import Worker, superuser_client, wait_for_job
from tests.benchmarks._setup import setup_django


def seed_stored(rows: int) -> list[int]:
    """Store every 100th customer of the file (the import updates them); return their ids."""
    from customers.models import Customer

    Customer.objects.bulk_create(
        Customer(email=f"customer{i}@example.com", first_name="Stored", last_name=str(i))
        for i in range(0, rows, 100)
    )
    return list(Customer.objects.order_by("pk").values_list("pk", flat=True))


class Clerk:
    """Saves a customer of the file once a second, timing each save."""

    def __init__(self, user, ids: list[int]):
        self.user = user
        self.ids = ids
        self.times: list[float] = []
        self.failures: list[str] = []
        self.conflicts = 0  # the import changed the customer between read and save: not slow
        self.last = 0.0

    def __call__(self, job) -> None:
        from django.core.exceptions import ValidationError
        from django.db import OperationalError

        from customers.models import Customer
        from customers.services.editing import customer_save

        if job is None or job.state != "running" or time.monotonic() - self.last < 1:
            return
        self.last = time.monotonic()
        customer = Customer.objects.get(pk=self.ids[len(self.times) % len(self.ids)])
        customer.first_name = f"Clerk{len(self.times)}"
        started = time.perf_counter()
        try:
            customer_save(actor=self.user, customer=customer, expected_version=customer.version)
        except ValidationError:
            self.conflicts += 1
        except OperationalError as exc:
            self.failures.append(str(exc))
        self.times.append(time.perf_counter() - started)

    def line(self) -> str:
        if not self.times:
            return "no save (the job was not seen running)"
        return (
            f"{len(self.times)} saves, median {statistics.median(self.times) * 1000:.0f} ms, "
            f"max {max(self.times) * 1000:.0f} ms, failures {len(self.failures)}, "
            f"version conflicts {self.conflicts}"
            + (" - target < 1 s: ok" if max(self.times) < 1 and not self.failures else " - SLOW")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    setup_django("bench_admin_import")
    from django.db import connection
    from django.urls import reverse

    from customers.jobs_import import IMPORT_CONFIRM, IMPORT_PREVIEW
    from customers.models import Customer
    from tests.benchmarks.bench_import import write_file

    workdir = tempfile.mkdtemp(prefix="bench-admin-import-")
    os.environ["BACKOFFICE_PRIVATE_ROOT"] = workdir
    from django.conf import settings

    settings.PRIVATE_UPLOAD_ROOT = workdir
    path = os.path.join(workdir, "customers.csv")
    write_file(path, args.rows, seed=7)
    size_mb = os.path.getsize(path) / 2**20
    ids = seed_stored(args.rows)
    client, user = superuser_client()
    print(f"{connection.vendor}: {args.rows} rows ({size_mb:.1f} MB), {len(ids)} already stored")
    worker = Worker(workdir)
    try:
        started = time.perf_counter()
        with open(path, "rb") as upload:
            response = client.post(
                reverse("admin:customers_customer_import"), {"import_file": upload}
            )
        assert response.status_code == 302, response.status_code
        uploaded = time.perf_counter() - started
        clerk = Clerk(user, ids)
        preview_job = wait_for_job(IMPORT_PREVIEW, worker, between=clerk)
        previewed = time.perf_counter() - started
        assert preview_job.state == "done", preview_job.error_message
        page_started = time.perf_counter()
        page = client.get(response["Location"])
        page_s = time.perf_counter() - page_started
        assert page.status_code == 200 and b"Confirm" in page.content, page.status_code
        token = response["Location"].rstrip("/").split("/")[-1]
        confirm_started = time.perf_counter()
        client.post(reverse("admin:customers_customer_import_confirm", args=[token]))
        confirm_clerk = Clerk(user, ids)
        confirm_job = wait_for_job(IMPORT_CONFIRM, worker, between=confirm_clerk)
        confirmed = time.perf_counter() - confirm_started
        assert confirm_job.state == "done", confirm_job.error_message
        result = client.get(reverse("admin:customers_customer_import_result", args=[token]))
        assert result.status_code == 200
    finally:
        worker.stop()
    summary = confirm_job.result
    print(f"  upload request      {uploaded:7.2f} s")
    print(f"  preview job         {previewed - uploaded:7.2f} s (upload to preview done)")
    print(f"  preview page        {page_s:7.2f} s")
    print(f"  confirm job         {confirmed:7.2f} s")
    print(f"  end to end          {previewed + confirmed:7.2f} s")
    print(
        f"  worker peak RSS     {worker.peak_kb / 1024:7.0f} MB (its check processes: "
        f"{worker.children_peak_kb / 1024:.0f} MB each at most)"
    )
    print(f"  clerk during preview: {clerk.line()}")
    print(f"  clerk during confirm: {confirm_clerk.line()}")
    print(
        f"  imported: {summary['created']} created, {summary['updated']} updated, "
        f"{summary['error']} rejected; customers now {Customer.objects.count()}"
    )


if __name__ == "__main__":
    main()
