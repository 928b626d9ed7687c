"""Background jobs of the sales channels (django-tasks)."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from customers.services.channel_events import channel_event_process, channel_events_stuck


@task()
def channel_event_process_task(event_id: int) -> str | None:
    return channel_event_process(event_id=event_id)


@task()
def channel_events_sweep_task() -> int:
    """Hand every event left pending (a killed worker, a lost job) to a worker again."""
    ids = channel_events_stuck()
    for event_id in ids:
        channel_event_process_task.enqueue(event_id)
    return len(ids)


def channel_events_enqueue(event_ids) -> None:
    """Enqueue processing once the events are committed (a worker must be able to read them)."""
    ids = list(event_ids)
    transaction.on_commit(lambda: [channel_event_process_task.enqueue(pk) for pk in ids])
