"""django-tasks-db's worker, which also reaps dead workers' jobs: at its start and periodically."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connection
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from backoffice.jobs.services import jobs_reap_stale

logger = logging.getLogger(__name__)


def reap_periodically(stop: threading.Event, every: float) -> None:
    """Reap stale jobs every `every` seconds until `stop` is set (runs in a daemon thread)."""
    while not stop.wait(every):
        try:
            jobs_reap_stale()
        except Exception:  # a locked or restarting database must not kill the reaper
            logger.exception("Reaping stale jobs failed")
        finally:
            connection.close()


class Command(DatabaseWorkerCommand):
    help = "Run a background worker; it also marks failed the jobs of workers that died."

    def handle(self, *args, **options) -> None:
        reaped = jobs_reap_stale()
        if reaped:
            logger.warning("Marked %d job(s) of dead workers as failed", reaped)
        connection.close()
        stop = threading.Event()
        every = max(1.0, settings.BACKOFFICE_JOB_HEARTBEAT_TIMEOUT / 2)
        threading.Thread(
            target=reap_periodically, args=(stop, every), name="job-reaper", daemon=True
        ).start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
