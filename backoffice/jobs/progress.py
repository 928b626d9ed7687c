"""How a handler reports: done / total, a status line, the heartbeat and the cancel check."""

from __future__ import annotations

import time

from django.utils import timezone

from backoffice.jobs.models import Job
from backoffice.jobs.registry import JobCancelled

# At most one progress write (and one cancel check) a second, whatever the handler's pace.
PROGRESS_INTERVAL = 1.0


class Progress:
    """Passed to each handler as `progress`; call it between batches, outside any transaction.

    `progress(done, total=None, message=None)` records where the handler is. At most once a second
    it writes that to the job row with a fresh heartbeat and reads the cancel flag; once cancel was
    requested it raises `JobCancelled`. Writes inside the handler's own `transaction.atomic` would
    stay invisible to the progress page until that transaction ends, so report between batches.
    """

    def __init__(self, job: Job, *, interval: float | None = None):
        self.job = job
        self.done = job.done
        self.total = job.total
        self.message = job.message
        self.cancelled = False
        self.interval = PROGRESS_INTERVAL if interval is None else interval
        self._last_write = time.monotonic()

    def __call__(self, done: int, total: int | None = None, *, message: str | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        if message is not None:
            self.message = str(message)[:300]
        now = time.monotonic()
        if now - self._last_write < self.interval:
            return
        self._last_write = now
        self.write()
        if Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            self.cancelled = True
            raise JobCancelled()

    def write(self) -> None:
        Job.objects.filter(pk=self.job.pk).update(
            done=self.done, total=self.total, message=self.message, heartbeat_at=timezone.now()
        )
