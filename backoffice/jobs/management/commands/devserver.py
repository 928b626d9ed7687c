"""Run the web server and a background worker together; Ctrl-C stops both."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start runserver and a background worker (db_worker) together; Ctrl-C stops both."

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *, addrport: str, **options) -> None:
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        worker = subprocess.Popen([*manage, "db_worker", "--no-reload"])  # noqa: S603
        web = subprocess.Popen([*manage, "runserver", addrport])  # noqa: S603
        try:
            # Whichever stops first (Ctrl-C reaches both, they share our process group) ends both.
            while web.poll() is None and worker.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    web.wait(timeout=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            # runserver serves from a child of its reloader: note it while it is known.
            grandchildren = [pid for process in (web, worker) for pid in _children(process.pid)]
            for process in (web, worker):
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in (web, worker):
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            _stop_all(grandchildren)


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started and theirs (Linux; none where /proc is missing)."""
    found: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in map(int, listing.read_text().split()):
                found += [child, *_children(child)]
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _stop_all(pids: list[int], *, grace: float = 5) -> None:
    """Let the processes that outlived their parent finish, then kill them: nothing this
    command started keeps running after it (a server child left behind holds its port)."""
    deadline = time.monotonic() + grace
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if _running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
