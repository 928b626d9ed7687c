"""Bounded load run for the Shopify webhook endpoint and the inbox workers (not a test).

Run from the worktree root against a server started on PostgreSQL with the tasks backend that
only records jobs, so that the endpoint's own cost is measured:

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_channels
    BACKOFFICE_TASKS_BACKEND=django_tasks.backends.dummy.DummyBackend \\
        gunicorn backoffice.wsgi -w 2 -b 127.0.0.1:8011 &
    python -m tests.channels.load_webhooks --url http://127.0.0.1:8011 -n 3000 -c 16 --workers 2

Phase 1 posts N signed customers/create webhooks (distinct customers) with C connections and
prints accepted/s and p50/p99 latency. Phase 2 starts the workers, kills one with SIGKILL
mid-run, starts them again, and checks that every event ended processed exactly once.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    import django

    django.setup()


def _connection():
    from customers.models import ChannelConnection

    name = f"load-{uuid.uuid4().hex[:8]}"
    return ChannelConnection.objects.create(
        channel="shopify", name=name, webhook_secret="load-secret", tags="Shopify"
    )


def _bodies(n: int, run: str) -> list[bytes]:
    from tests.channels.conftest import payload

    base = payload("customers_create")
    out = []
    for i in range(n):
        body = dict(base, id=10**12 + i, email=f"load{run}-{i}@example.com", phone=None)
        out.append(json.dumps(body).encode())
    return out


def _post_all(url, connection, bodies, concurrency) -> tuple[list[float], int]:
    from customers.channels.shopify import sign

    target = urllib.parse.urlsplit(url)
    path = f"/channels/shopify/{connection.uuid}/"
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    queue = list(enumerate(bodies))

    def client():
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        while True:
            with lock:
                if not queue:
                    break
                i, body = queue.pop()
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": "customers/create",
                "X-Shopify-Hmac-Sha256": sign(body=body, secret=connection.webhook_secret),
                "X-Shopify-Webhook-Id": f"load-{connection.pk}-{i}",
                "X-Shopify-Shop-Domain": "load.myshopify.com",
            }
            start = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if response.status != 200:
                    errors[0] += 1

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors[0]


def _work(worker: int, workers: int, connection_id: int) -> None:
    """Process this worker's share of the connection's pending events, oldest first."""
    from customers.models import ChannelEvent
    from customers.services.channel_events import channel_event_process

    ids = ChannelEvent.objects.filter(connection_id=connection_id, state="pending").order_by("pk")
    for pk in ids.values_list("pk", flat=True):
        if pk % workers == worker:
            channel_event_process(event_id=pk)


def _run_workers(workers: int, connection_id: int, kill_after: float | None = None) -> float:
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.channels.load_webhooks",
                "--work",
                str(i),
                "--workers",
                str(workers),
                "--connection-id",
                str(connection_id),
            ]
        )
        for i in range(workers)
    ]
    if kill_after is not None:
        time.sleep(kill_after)
        procs[0].send_signal(signal.SIGKILL)
    for proc in procs:
        proc.wait()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8011")
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("-c", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-after", type=float, default=4.0, help="seconds")
    parser.add_argument("--work", type=int)
    parser.add_argument("--connection-id", type=int)
    args = parser.parse_args()
    _django()
    if args.work is not None:
        _work(args.work, args.workers, args.connection_id)
        return
    from customers.models import ChannelEvent, CustomerEvent

    connection = _connection()
    bodies = _bodies(args.n, connection.name)
    start = time.perf_counter()
    latencies, errors = _post_all(args.url, connection, bodies, args.c)
    wall = time.perf_counter() - start
    latencies.sort()
    print(
        f"accepted {len(latencies) - errors}/{args.n} in {wall:.2f}s: "
        f"{(len(latencies) - errors) / wall:.0f} webhooks/s, "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms, errors {errors}"
    )
    first = _run_workers(args.workers, connection.pk, kill_after=args.kill_after)
    pending = ChannelEvent.objects.filter(connection=connection, state="pending").count()
    second = _run_workers(args.workers, connection.pk)
    events = ChannelEvent.objects.filter(connection=connection)
    done = events.filter(state="done").count()
    created = CustomerEvent.objects.filter(kind="created", data__connection=connection.name)
    print(
        f"workers: one killed with SIGKILL after {args.kill_after} s ({pending} left pending), "
        f"restarted; {done}/{events.count()} done, {created.count()} customers created, "
        f"{first + second:.1f}s total: {done / (first + second):.0f} events/s"
    )
    assert done == events.count() == args.n == created.count(), "lost or doubled events"


if __name__ == "__main__":
    main()
