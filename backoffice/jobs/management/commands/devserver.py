"""Run the web server and a background worker together; Ctrl-C stops both."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys

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
            for process in (web, worker):
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in (web, worker):
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
