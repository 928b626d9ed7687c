"""Jobs run by real `db_worker` processes on the test database: progress, a killed worker, races."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection, transaction

from backoffice.jobs import services
from backoffice.jobs.models import Job
from backoffice.jobs.services import job_start
from tests.jobs.kinds import COUNT, write_marker
from tests.jobs.worker import ROOT, database_env, running_worker

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition, *, timeout: float = 60, what: str = "", process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"the process exited ({process.returncode}) before {what}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def job_row(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


def test_a_worker_process_takes_a_queued_job_through_running_to_done(staff, tmp_path):
    job = job_start(actor=staff(), kind=COUNT, params={"n": 25, "delay": 0.1}, total=25)
    assert job_row(job).state == "queued"  # committed and waiting: no worker yet
    seen = []
    with running_worker(tmp_path) as worker:

        def progressed():
            row = job_row(job)
            seen.append((row.state, row.done))
            return row.state == "running" and 0 < row.done < 25

        wait_for(progressed, what="progress from the worker", process=worker)
        done = wait_for(
            lambda: (row := job_row(job)).state == "done" and row, what="done", process=worker
        )
    assert (done.done, done.total, done.result) == (25, 25, {"counted": 25})
    assert done.task_id and done.heartbeat_at >= done.started_at
    states = [state for state, _ in seen]
    assert states[0] == "queued" and "running" in states


def test_a_killed_worker_leaves_a_failed_job_not_a_running_one(staff, tmp_path, client, settings):
    settings.BACKOFFICE_JOB_HEARTBEAT_TIMEOUT = 2
    clerk = staff()
    job = job_start(actor=clerk, kind=COUNT, params={"n": 10_000, "delay": 0.05}, total=10_000)
    with running_worker(tmp_path) as worker:
        wait_for(lambda: job_row(job).done > 0, what="the job's progress", process=worker)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    killed = job_row(job)
    assert killed.state == "running"  # nobody knows yet
    time.sleep(2.5)
    client.force_login(clerk)
    data = client.get(f"/admin/jobs/job/{job.pk}/progress.json").json()
    assert (data["state"], data["finished"]) == ("failed", True)
    assert data["message"] == str(services.WORKER_LOST)
    assert data["done"] == killed.done > 0


def test_a_starting_worker_fails_the_jobs_of_a_worker_that_died(staff, tmp_path, settings):
    clerk = staff()
    job = job_start(actor=clerk, kind=COUNT, params={"n": 10_000, "delay": 0.05}, total=10_000)
    with running_worker(tmp_path) as worker:
        wait_for(lambda: job_row(job).done > 0, what="the job's progress", process=worker)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    time.sleep(1.5)
    # Nobody reads the page: the next worker to start cleans up.
    with running_worker(tmp_path, BACKOFFICE_JOB_HEARTBEAT_TIMEOUT="1") as reaper:
        failed = wait_for(
            lambda: (row := job_row(job)).state == "failed" and row, what="reaped", process=reaper
        )
    assert failed.error_message == str(services.WORKER_LOST)


@pytest.mark.postgres_only
def test_two_concurrent_starts_with_one_key_make_one_job(staff):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    clerk = staff()
    first_inserted, results = threading.Event(), {}

    def first():
        with transaction.atomic():
            results["first"] = job_start(
                actor=clerk, kind=COUNT, params={"n": 1}, dedupe_key="upload:42"
            )
            first_inserted.set()
            time.sleep(0.5)  # the second start arrives while this one is not committed
        connection.close()

    def second():
        first_inserted.wait(10)
        results["second"] = job_start(
            actor=clerk, kind=COUNT, params={"n": 1}, dedupe_key="upload:42"
        )
        connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results["first"].pk == results["second"].pk
    assert Job.objects.filter(dedupe_key="upload:42").count() == 1


def test_devserver_starts_the_web_server_and_a_worker_and_ctrl_c_stops_both(tmp_path):
    port = 18000 + os.getpid() % 1000
    log = (tmp_path / "devserver.log").open("w")
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "devserver", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=database_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def answers():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/") as page:  # noqa: S310
                    return page.status == 200
            except OSError:
                return False

        wait_for(answers, what="the web server", process=server)
        marker = tmp_path / "marker.txt"
        write_marker.enqueue(str(marker))
        wait_for(marker.exists, what="the worker to run a task")
        os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        assert server.wait(timeout=20) == 0
        wait_for(lambda: not _group_alive(server.pid), timeout=20, what="every process to stop")
    finally:
        if _group_alive(server.pid):
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
    assert "Starting development server" in Path(log.name).read_text()


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs; zombies do not count.

    runserver's reloader child can outlive its parent by a moment; orphaned, it waits for the
    machine's init to reap it, and a signal to its group still "succeeds" until then.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its ")".
            state, _ppid, pgrp = stat.read_text().rpartition(")")[2].split()[:3]
        except OSError:
            continue
        if int(pgrp) == pgid and state != "Z":
            return True
    return False
