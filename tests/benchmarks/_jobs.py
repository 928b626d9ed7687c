"""What the job benchmarks share: a signed-in staff client, a real worker and its peak memory."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def superuser_client():
    """A new superuser and a test client signed in as them, second factor included."""
    from django.contrib.auth import get_user_model

    from tests.benchmarks._setup import staff_client

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "pw")
    return staff_client(user), user


def _peak_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError):
            # "pid (name) state ppid ...": the name may hold spaces, so split after it.
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _descendants(pid: int) -> list[int]:
    found = _children(pid)
    for child in list(found):
        found += _descendants(child)
    return found


class Worker:
    """A `manage.py db_worker` process on the benchmark's database; `sample()` tracks its peak
    resident memory and that of the processes it forks (the import's normalising pool)."""

    def __init__(self, private_root: str):
        env = {**os.environ, "BACKOFFICE_PRIVATE_ROOT": private_root, "PYTHONUNBUFFERED": "1"}
        self.log = open(os.path.join(private_root, "worker.log"), "w")  # noqa: SIM115
        self.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--no-startup-delay",
                "--interval=0.1",
                "--no-reload",  # one process, the one that runs the jobs: its memory is measured
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.peak_kb = 0
        self.children_peak_kb = 0

    def sample(self) -> None:
        self.peak_kb = max(self.peak_kb, _peak_kb(self.process.pid))
        for child in _descendants(self.process.pid):
            self.children_peak_kb = max(self.children_peak_kb, _peak_kb(child))

    def stop(self) -> None:
        self.sample()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def wait_for_job(kind: str, worker: Worker, *, between=None, timeout: float = 3600):
    """Wait for the newest job of `kind` to finish, sampling memory; call `between()` meanwhile."""
    from backoffice.jobs.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.sample()
        job = Job.objects.filter(kind=kind).order_by("-pk").first()
        if job is not None and job.is_finished:
            return job
        if worker.process.poll() is not None:
            raise SystemExit(f"the worker exited ({worker.process.returncode}); see worker.log")
        if between is not None:
            between(job)
        time.sleep(0.1)
    raise SystemExit(f"{kind} did not finish in {timeout} s")
