"""Background work of the sales channels: draining the webhook inbox on django-tasks.

The webhook view inserts the event and enqueues nothing per event: at 300 deliveries a second a
task row (or a ``Job`` row, made for work staff start and watch) per event would double or
triple the writes of the accept path, and the inbox row already is the durable record, with its
state, attempts and error on the channel events page. Instead:

- ``channel_events_kick`` (the view, the retry action, the replay command) enqueues one
  ``channel_events_drain`` at most every ``BACKOFFICE_CHANNEL_KICK_SECONDS`` per process, to run
  that long after it (so it sees every event this process accepted meanwhile);
- ``channel_events_drain`` processes pending events until none is left; several run side by side
  in several workers without sharing an event (``SKIP LOCKED``);
- the periodic sweep: each drain, as it starts, makes sure one drain is queued after it (delayed
  by ``BACKOFFICE_CHANNEL_SWEEP_SECONDS`` when none is waiting). A worker killed with ``kill -9``
  mid-drain leaves its event pending (rolled back) and that queued drain applies it; at rest this
  is one tiny task per sweep period.
"""

from __future__ import annotations

import datetime
import time
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from customers.services.channel_events import channel_events_process_pending

# A drain gives its worker back after this long (other job kinds get their turn), queuing the
# next drain if events are left.
DRAIN_SECONDS = 30.0


@task()
def channel_events_drain() -> dict:
    """Process the pending inbox events; return how many were processed and how many crashed."""
    _keep_one_queued()
    run = channel_events_process_pending(seconds=DRAIN_SECONDS)
    if run.more:
        _enqueue(delay=0)
    return {"processed": run.processed, "crashed": run.crashed}


def _enqueue(*, delay: float) -> None:
    drain = channel_events_drain
    if delay and drain.get_backend().supports_defer:
        drain = drain.using(run_after=timezone.now() + datetime.timedelta(seconds=delay))
    drain.enqueue()


def _keep_one_queued() -> None:
    """Queue the next sweep unless a drain is already waiting (the database queue only)."""
    backend = channel_events_drain.get_backend()
    if not isinstance(backend, DatabaseBackend):
        return  # the immediate backend of the tests and of debugging has nothing periodic
    waiting = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY,
        backend_name=backend.alias,
        task_path=channel_events_drain.module_path,
    )
    if not waiting.exists():
        _enqueue(delay=settings.BACKOFFICE_CHANNEL_SWEEP_SECONDS)


_next_kick = 0.0


def channel_events_kick() -> None:
    """Have a worker drain the inbox soon: one queued drain per kick period in this process.

    Any event stored before the queued drain starts is seen by it, so a throttled kick loses
    nothing. The enqueue waits for the caller's commit (the worker must see the event).
    """
    global _next_kick
    every = settings.BACKOFFICE_CHANNEL_KICK_SECONDS
    now = time.monotonic()
    if now < _next_kick:
        return
    _next_kick = now + every
    transaction.on_commit(partial(_enqueue, delay=every))
