"""Time the CSV import: a Shopify file into an empty database, the same file again, a huge file's
peak memory, a plain bulk_create of the same customers, and the admin preview and confirm.

    python -m tests.benchmarks.bench_import --rows 100000 --huge 1000000 --admin-rows 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt5 python -m tests.benchmarks.bench_import ...

Each measured import runs in a child process (a fresh interpreter, as the command would), which
reports its own wall time and peak RSS (resource.getrusage), so memory is the import's alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

from tests.benchmarks._setup import setup_django, staff_client

SHOPIFY = [
    "First Name",
    "Last Name",
    "Email",
    "Accepts Email Marketing",
    "Default Address Company",
    "Default Address Address1",
    "Default Address Address2",
    "Default Address City",
    "Default Address Province Code",
    "Default Address Country Code",
    "Default Address Zip",
    "Default Address Phone",
    "Phone",
    "Accepts SMS Marketing",
    "Tags",
    "Note",
    "Tax Exempt",
]
FIRST = ["Ann", "Élodie", "José", "Marie", "Chen", "Zoë", "Omar", "Luis", "Inès", "Paul", "Ngozi"]
LAST = ["Lee", "Lefèvre", "García", "O'Brien", "Dupont", "王", "Müller", "Núñez", "Smith", "Roy"]
CITIES = [("Boston", "MA", "02114"), ("Austin", "TX", "73301"), ("Denver", "CO", "80202")]
TAGS = ["VIP", "wholesale", "newsletter", "B2B", "retail", "loyal", "Paris", "Madrid"]


def _valid_areas() -> list[int]:
    import phonenumbers

    def us(number: str) -> bool:
        parsed = phonenumbers.parse(number)
        return phonenumbers.is_valid_number(parsed) and (
            phonenumbers.region_code_for_number(parsed) == "US"
        )

    # Mainland US area codes, where every ordinary exchange is valid.
    return [
        area
        for area in range(201, 990)
        if all(us(f"+1{area}{ex}4567") for ex in (234, 456, 789))
        and all(us(f"+1{area}{ex}4567") for ex in EXCHANGES[::31])
    ]


EXCHANGES = [n for n in range(234, 990) if n % 100 != 11 and n not in (555, 950, 958, 959, 976)]
AREAS = _valid_areas()


def phone(rng: random.Random, i: int) -> str:
    area = AREAS[i % len(AREAS)]
    exchange = EXCHANGES[(i // len(AREAS)) % len(EXCHANGES)]
    line = (i // (len(AREAS) * len(EXCHANGES))) * 7 % 10000
    formats = [
        f"({area}) {exchange}-{line:04d}",
        f"+1 {area}-{exchange}-{line:04d}",
        f"{area}.{exchange}.{line:04d}",
        f"'+1{area}{exchange}{line:04d}",
    ]
    return formats[rng.randrange(4)]


def write_file(path: str, rows: int, seed: int = 5) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(SHOPIFY)
        for i in range(rows):
            city, state, zip_code = CITIES[i % 3]
            writer.writerow(
                [
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    f"customer{i}@example.com",
                    rng.choice(["yes", "no", ""]),
                    "",
                    f"{1 + i % 999} Main St",
                    "",
                    city,
                    state,
                    "US",
                    zip_code,
                    "",
                    phone(rng, i),
                    rng.choice(["yes", "no"]),
                    ", ".join(rng.sample(TAGS, rng.randint(1, 3))),
                    "",
                    "no",
                ]
            )


def child_import(path: str) -> None:
    """Run import_customers in this (child) process and print wall time and peak RSS."""
    import resource

    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        try:
            call_command("import_customers", path, "--json", stdout=sink)
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise
    elapsed = time.perf_counter() - started
    # Children are the normalising workers: count the largest of us and them.
    peak_kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    print(json.dumps({"seconds": elapsed, "peak_mb": peak_kb / 1024}))


def run_child(path: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_import", "--child", path],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bulk_create_baseline(path: str) -> float:
    """Plain bulk_create of the same customers (no phones, addresses, tags or matching)."""
    from django.db import transaction

    from customers.models import Customer

    started = time.perf_counter()
    with open(path, encoding="utf-8", newline="") as f, transaction.atomic():
        reader = csv.DictReader(f)
        batch = []
        for row in reader:
            batch.append(
                Customer(
                    first_name=row["First Name"], last_name=row["Last Name"], email=row["Email"]
                )
            )
            if len(batch) == 2000:
                Customer.objects.bulk_create(batch)
                batch = []
        Customer.objects.bulk_create(batch)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def wipe() -> None:
    from customers.models import Address, Customer, CustomerEvent, Note, Tag, TaggedCustomer

    for model in (TaggedCustomer, Address, Note, CustomerEvent, Customer, Tag):
        model.objects.all().delete()


def admin_timings(rows: int, workdir: str) -> tuple[float, float]:
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    path = os.path.join(workdir, f"admin-{rows}.csv")
    write_file(path, rows, seed=7)
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "pw")
    client = staff_client(user)
    url = reverse("admin:customers_customer_import")
    with open(path, "rb") as f:
        started = time.perf_counter()
        response = client.post(url, {"import_file": f})
        preview = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    token = re.search(r"/import/([A-Za-z0-9_-]+)/confirm/", response.content.decode()).group(1)
    started = time.perf_counter()
    response = client.post(reverse("admin:customers_customer_import_confirm", args=[token]))
    confirm = time.perf_counter() - started
    assert response.status_code in (200, 302), response.status_code
    return preview, confirm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--huge", type=int, default=0, help="Also import a file this large.")
    parser.add_argument("--admin-rows", type=int, default=20_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_import(args.child)
        return
    setup_django("bench_import")
    from django.db import connection

    vendor = connection.vendor
    connection.close()
    workdir = tempfile.mkdtemp(prefix="bench-import-")
    print(f"{vendor}:")
    if args.rows:
        path = os.path.join(workdir, f"shopify-{args.rows}.csv")
        write_file(path, args.rows)
        print(f"  {args.rows} rows, {os.path.getsize(path) / 2**20:.1f} MB")
        first = run_child(path)
        print(
            f"  into an empty database: {first['seconds']:.2f} s = "
            f"{args.rows / first['seconds']:,.0f} rows/s, peak {first['peak_mb']:.0f} MB"
        )
        again = run_child(path)
        print(
            f"  same file again:        {again['seconds']:.2f} s = "
            f"{args.rows / again['seconds']:,.0f} rows/s, peak {again['peak_mb']:.0f} MB"
        )
        wipe()
        baseline = bulk_create_baseline(path)
        print(
            f"  plain bulk_create:      {baseline:.2f} s = {args.rows / baseline:,.0f} rows/s; "
            f"import/bulk_create time ratio {first['seconds'] / baseline:.1f}"
        )
        os.remove(path)
    if args.admin_rows:
        wipe()
        preview, confirm = admin_timings(args.admin_rows, workdir)
        print(f"  admin, {args.admin_rows} rows: preview {preview:.1f} s, confirm {confirm:.1f} s")
    if args.huge:
        wipe()
        huge = os.path.join(workdir, f"shopify-{args.huge}.csv")
        write_file(huge, args.huge, seed=11)
        result = run_child(huge)
        print(
            f"  {args.huge} rows: {result['seconds']:.1f} s = "
            f"{args.huge / result['seconds']:,.0f} rows/s, peak {result['peak_mb']:.0f} MB"
        )
        os.remove(huge)


if __name__ == "__main__":
    main()
