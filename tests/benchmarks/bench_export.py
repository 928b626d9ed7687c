"""Time a big admin export as a background job: the file written by a real worker, then served.

    python -m tests.benchmarks.bench_export --rows 500000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python -m tests.benchmarks.bench_export

On a fresh database, stores the customers (each with a default address, every third with two
tags and every tenth with a note) with bulk_create, then a signed-in superuser asks the admin's
export page for every customer and every column: above BACKOFFICE_EXPORT_JOB_THRESHOLD that
starts a job that a real `manage.py db_worker` runs. Prints the seeding time, the request's
time, the job's wall time and rows per second, the worker's peak resident memory, the file's size
and the download's time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from tests.benchmarks._jobs import Worker, superuser_client, wait_for_job
from tests.benchmarks._setup import setup_django

CHUNK = 10_000


def seed(rows: int) -> None:
    from customers.models import Address, Customer, Note, Tag, TaggedCustomer

    tags = [Tag.objects.create(name=name, slug=name.lower()) for name in ("VIP", "Wholesale")]
    for start in range(0, rows, CHUNK):
        customers = Customer.objects.bulk_create(
            Customer(
                email=f"export{i}@example.com",
                first_name="Élodie" if i % 2 else "José",
                last_name=f"Núñez-{i}",
                phone=f"+1617555{i % 10000:04d}",
            )
            for i in range(start, min(rows, start + CHUNK))
        )
        Address.objects.bulk_create(
            Address(
                customer=c,
                is_default=True,
                address1=f"{c.pk % 999 + 1} Main St",
                city="Boston",
                province_code="MA",
                country_code="US",
                postal_code="02114",
            )
            for c in customers
        )
        TaggedCustomer.objects.bulk_create(
            TaggedCustomer(content_object=c, tag=tag) for c in customers[::3] for tag in tags
        )
        Note.objects.bulk_create(Note(customer=c, body="Prefers email") for c in customers[::10])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=500_000)
    args = parser.parse_args()
    setup_django("bench_export")
    from django.conf import settings
    from django.db import connection
    from django.urls import reverse

    from customers.admin.import_export import EXPORT
    from customers.services.exporting import ALL_HEADERS

    workdir = tempfile.mkdtemp(prefix="bench-export-")
    os.environ["BACKOFFICE_PRIVATE_ROOT"] = workdir
    settings.PRIVATE_UPLOAD_ROOT = workdir
    started = time.perf_counter()
    seed(args.rows)
    seeded = time.perf_counter() - started
    client, _user = superuser_client()
    print(f"{connection.vendor}: {args.rows} customers stored in {seeded:.1f} s")
    worker = Worker(workdir)
    try:
        started = time.perf_counter()
        response = client.post(
            reverse("admin:customers_customer_export"),
            {"scope": "all", "columns": ALL_HEADERS, "delimiter": ","},
        )
        requested = time.perf_counter() - started
        assert response.status_code == 302, response.status_code
        job = wait_for_job(EXPORT, worker)
        written = time.perf_counter() - started
        assert job.state == "done", job.error_message
    finally:
        worker.stop()
    started = time.perf_counter()
    download = client.get(f"{reverse('admin:customers_customer_export')}?download={job.pk}")
    size = sum(len(chunk) for chunk in download.streaming_content)
    served = time.perf_counter() - started
    print(f"  export request      {requested:7.2f} s (counts, starts the job)")
    print(f"  export job          {written:7.2f} s ({job.result['rows'] / written:,.0f} rows/s)")
    print(f"  worker peak RSS     {worker.peak_kb / 1024:7.0f} MB")
    print(f"  file                {size / 2**20:7.1f} MB, {job.result['rows']} rows")
    print(f"  download            {served:7.2f} s")


if __name__ == "__main__":
    main()
