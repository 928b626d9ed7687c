"""Bounded load run: Shopify webhooks accepted by gunicorn on PostgreSQL, then drained by workers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_channels \\
        .venv/bin/python -m tests.benchmarks.load_webhooks --rate 300 --seconds 10

It drops and recreates the database ``bench_webhooks`` on that server and works there.

1. Starts gunicorn (``--gunicorn-workers`` sync workers, production settings: DEBUG off) on
   loopback and warms it up.
2. Accept: posts ``rate * seconds`` signed ``customers/create`` webhooks (distinct customers),
   one every ``1/rate`` s, from at most ``--concurrency`` connections at a time (the bound).
   Latency is counted from when a delivery was due, so a server falling behind shows in p99.
   Prints accepted/s, p50 and p99. Then stops gunicorn.
3. Process: starts ``--workers`` real ``manage.py db_worker`` processes (the drains the web
   processes queued are waiting), kills one with SIGKILL once ``--kill-at`` of the events are
   processed (its drain is cut short mid-event), starts a replacement, and waits until the inbox
   is empty. Prints events/s and checks that every event
   was applied exactly once (one customer, one link and one CREATED event per delivery).

Not a test (pytest does not collect it); exits 1 when the target or the exactly-once check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATH = "/channels/shopify/{uuid}/"


def _environment() -> dict[str, str]:
    """The production-like environment of the server and the workers."""
    return {
        **os.environ,
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "load-run-" + "x" * 50),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "PYTHONUNBUFFERED": "1",
    }


def _django() -> None:
    """Set up Django on a fresh database of its own on DATABASE_URL's server, migrated."""
    from tests.benchmarks._setup import setup_django

    os.environ.update(_environment())
    setup_django("bench_webhooks")  # the server and the workers inherit its DATABASE_URL


def _deliveries(connection, n: int) -> list[tuple[bytes, dict]]:
    from customers.channels.shopify import sign
    from tests.channels.conftest import payload

    base = payload("customers_create")
    out = []
    for i in range(n):
        body = json.dumps(
            dict(base, id=10**12 + i, email=f"{connection.name}-{i}@example.com", phone=None)
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "customers/create",
            "X-Shopify-Hmac-Sha256": sign(body=body, secret=connection.webhook_secret),
            "X-Shopify-Webhook-Id": f"{connection.name}-{i}",
            "X-Shopify-Event-Id": f"{connection.name}-event-{i}",
            "X-Shopify-Shop-Domain": "load.myshopify.com",
            "X-Shopify-Api-Version": "2024-10",
        }
        out.append((body, headers))
    return out


def _start_server(port: int, workers: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "backoffice.wsgi", "-w", str(workers)]
    command += ["-b", f"127.0.0.1:{port}", "--backlog", "2048"]
    server = subprocess.Popen(command, cwd=ROOT, env=_environment())  # noqa: S603
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def _raw_request(path: str, body: bytes, headers: dict) -> bytes:
    """One HTTP/1.1 request as bytes, built before the clock starts (the client does no work)."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _send(port: int, raw: bytes) -> int:
    """Send one request on a new connection (as Shopify does); return the status (0: failed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(raw)
            chunks = []
            while data := sock.recv(65536):
                chunks.append(data)
        return int(b"".join(chunks).split(b"\r\n", 1)[0].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _post_all(port, path, deliveries, rate: float, concurrency: int) -> list[tuple[int, float]]:
    """Send each delivery when it is due (``rate`` a second, 0: at once); return (status, s)."""
    requests = [_raw_request(path, body, headers) for body, headers in deliveries]
    results: list[tuple[int, float]] = [(0, 0.0)] * len(requests)
    lock = threading.Lock()
    cursor = [0]
    start = time.perf_counter() + 0.1

    def client() -> None:
        while True:
            with lock:
                i = cursor[0]
                if i >= len(requests):
                    return
                cursor[0] += 1
            due = start + i / rate if rate else time.perf_counter()
            if (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            status = _send(port, requests[i])
            results[i] = (status, time.perf_counter() - due)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _print_seconds(results: list[tuple[int, float]], rate: float) -> None:
    """Latency second by second (a slow second shows a neighbour's burst, a slow start warm-up)."""
    per_second = int(rate) or len(results)
    for start in range(0, len(results), per_second):
        window = sorted(seconds for _, seconds in results[start : start + per_second])
        print(
            f"  second {start // per_second}: p50 {statistics.median(window) * 1000:.1f} ms, "
            f"max {window[-1] * 1000:.1f} ms"
        )


def _accept(args, connection) -> float:
    """Run the accept phase; return its p99 in ms (and print the figures)."""
    server = _start_server(args.port, args.gunicorn_workers)
    path = PATH.format(uuid=connection.uuid)
    try:
        from customers.models import ChannelConnection

        warm = ChannelConnection.objects.create(
            channel="shopify", name=f"warm-{connection.name}", webhook_secret="warm"
        )
        _post_all(args.port, PATH.format(uuid=warm.uuid), _deliveries(warm, 200), 0, 8)
        deliveries = _deliveries(connection, int(args.rate * args.seconds))
        started = time.perf_counter()
        results = _post_all(args.port, path, deliveries, args.rate, args.concurrency)
        wall = time.perf_counter() - started - 0.1
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    if args.per_second:
        _print_seconds(results, args.rate)
    ok = sorted(seconds for status, seconds in results if status == 200)
    p50 = statistics.median(ok) * 1000
    p99 = ok[max(0, int(len(ok) * 0.99) - 1)] * 1000
    print(
        f"accept: {len(ok)}/{len(results)} accepted in {wall:.2f} s = {len(ok) / wall:.0f}/s "
        f"(offered {args.rate:.0f}/s, {args.gunicorn_workers} gunicorn workers, at most "
        f"{args.concurrency} in flight); p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
        f"errors {len(results) - len(ok)}",
        flush=True,
    )
    return p99 if len(ok) == len(results) else float("inf")


def _worker(worker_id: str) -> subprocess.Popen:
    command = [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--interval=0.2"]
    return subprocess.Popen(  # noqa: S603
        [*command, "--no-reload", f"--worker-id={worker_id}"],
        cwd=ROOT,
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _process(args, connection) -> bool:
    """Drain the inbox with real workers, one killed mid-run; check exactly once."""
    from django.db.models import Max, Min
    from django_tasks_db.models import DBTaskResult

    from customers.models import ChannelCustomerLink, ChannelEvent, Customer, CustomerEvent

    events = ChannelEvent.objects.filter(connection=connection)
    total = events.count()
    started = time.perf_counter()
    run = connection.name
    workers = [_worker(f"{run}-{i}") for i in range(args.workers)]
    try:
        while events.exclude(state="pending").count() < total * args.kill_at:
            time.sleep(0.05)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        done_at_kill = events.exclude(state="pending").count()
        workers.append(_worker(f"{run}-restarted"))  # systemd's Restart=always
        while events.filter(state="pending").exists():
            if time.perf_counter() - started > args.timeout:
                break
            time.sleep(0.2)
        wall = time.perf_counter() - started
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
    span = events.aggregate(first=Min("processed_at"), last=Max("processed_at"))
    seconds = (span["last"] - span["first"]).total_seconds() if span["last"] else 0
    done = events.filter(state="done").count()
    created = CustomerEvent.objects.filter(kind="created", data__connection=connection.name)
    customers = Customer.objects.filter(email__startswith=f"{connection.name}-")
    links = ChannelCustomerLink.objects.filter(connection=connection)
    counts = (done, created.count(), customers.count(), links.count())
    # The killed worker's drain never finished: the queue still says it runs (mid-processing).
    cut = DBTaskResult.objects.filter(status="RUNNING", worker_ids__contains=[f"{run}-0"]).exists()
    print(
        f"process: {args.workers} workers, one killed (SIGKILL) with {done_at_kill}/{total} "
        f"processed (its drain cut short: {'yes' if cut else 'no'}), a new one started; "
        f"{done}/{total} done in "
        f"{wall:.1f} s; {total / seconds if seconds else 0:.0f} events/s (first to last "
        f"processed); customers created {counts[2]}, CREATED events {counts[1]}, links {counts[3]}",
        flush=True,
    )
    return counts == (total, total, total, total) and cut and done_at_kill < total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=300, help="deliveries a second (0: max)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32, help="most deliveries in flight")
    parser.add_argument("--gunicorn-workers", type=int, default=3)
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--workers", type=int, default=2, help="db_worker processes")
    parser.add_argument("--kill-at", type=float, default=0.3, help="share processed, 0-1")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--target-p99", type=float, default=100.0, help="ms")
    parser.add_argument("--accept-only", action="store_true")
    parser.add_argument("--per-second", action="store_true", help="latency of each second")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server (the run makes its own base).")
    # A `timeout` or Ctrl-C still stops the server and the workers this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    _django()
    from customers.models import ChannelConnection

    connection = ChannelConnection.objects.create(
        channel="shopify", name=f"load-{uuid.uuid4().hex[:8]}", webhook_secret="load-secret"
    )
    load = os.getloadavg()
    print(f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    p99 = _accept(args, connection)
    met = p99 < args.target_p99
    if not args.accept_only:
        met = _process(args, connection) and met
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
