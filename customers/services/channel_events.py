"""The webhook inbox: store a delivery once, process it exactly once, retry.

A delivery is stored (and answered) before any rule runs: one INSERT, nothing enqueued per
event. Workers drain the inbox (``channel_events_process_pending``, run by the task in
``customers.channels.tasks``): each event is claimed with a row lock that other workers skip,
applied and marked in the same transaction, so a worker killed half-way leaves it pending with
its changes rolled back, and the next drain applies it: every event exactly once.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from customers.channels import shopify
from customers.db.locks import locked
from customers.models import (
    ChannelConnection,
    ChannelEvent,
    ChannelEventState,
    Customer,
)
from customers.services.channels import (
    SyncResult,
    channel_customer_sync,
    channel_customer_unlink,
    channel_customers_for,
    channel_order_sync,
    channel_service_user,
)
from customers.services.privacy import customers_request_erasure

logger = logging.getLogger(__name__)

State = ChannelEventState
# An event whose processing crashed (not a business error) this many times is marked failed.
MAX_ATTEMPTS = 5


@dataclass
class StoreResult:
    event: ChannelEvent
    created: bool


def channel_event_store(
    *, connection_id: int, topic: str, webhook_id: str, body: str, headers: dict
) -> StoreResult:
    """Store one delivery in the inbox; a delivery already stored (same webhook id) is not.

    No actor: nothing about a customer changes here, only the raw delivery is kept. Outside a
    transaction this is one INSERT in autocommit; a retried delivery (Shopify resends until it
    gets a 200) is caught by the unique constraint and read back.
    """
    event = ChannelEvent(
        connection_id=connection_id,
        topic=topic,
        webhook_id=webhook_id,
        event_id=headers.get("X-Shopify-Event-Id", ""),
        body=body,
        headers=headers,
    )
    try:
        if _in_transaction():
            with transaction.atomic():  # a savepoint: the caller's transaction survives a retry
                event.save(force_insert=True)
        else:
            event.save(force_insert=True)
    except IntegrityError:
        event = ChannelEvent.objects.get(connection_id=connection_id, webhook_id=webhook_id)
        return StoreResult(event=event, created=False)
    return StoreResult(event=event, created=True)


def _in_transaction() -> bool:
    return connection.in_atomic_block


def _erasure(actor, connection: ChannelConnection, customers) -> Customer | None:
    customers_request_erasure(actor=actor, queryset=customers)
    return customers.order_by("pk").first()


def _apply(event: ChannelEvent, actor) -> tuple[str, SyncResult]:
    """Run the rules for one Shopify event; return its final state and what it touched."""
    connection = event.connection
    payload = json.loads(event.body)
    topic = event.topic
    if topic in shopify.CUSTOMER_TOPICS:
        result = channel_customer_sync(
            actor=actor, connection=connection, data=shopify.customer_from_payload(payload)
        )
    elif topic in shopify.ORDER_TOPICS:
        result = channel_order_sync(
            actor=actor, connection=connection, data=shopify.order_from_payload(payload)
        )
    elif topic == "customers/delete":
        customer = channel_customer_unlink(
            actor=actor, connection=connection, external_id=str(payload.get("id", ""))
        )
        result = SyncResult(customer=customer)
    elif topic in ("customers/redact", "customers/data_request"):
        raw = payload.get("customer") or {}
        emails = [str(raw["email"]).strip().lower()] if raw.get("email") else []
        customers = channel_customers_for(
            connection=connection, ids=[str(raw.get("id", ""))], emails=emails
        )
        if topic == "customers/redact":
            result = SyncResult(customer=_erasure(actor, connection, customers))
        else:
            # Staff send the personal-data export (the customer's admin page has it); the
            # event, with its customer, is what they work from.
            result = SyncResult(customer=customers.order_by("pk").first())
    elif topic == "shop/redact":
        customers = channel_customers_for(connection=connection, everyone=True)
        result = SyncResult(customer=_erasure(actor, connection, customers))
    else:
        raise ValueError(f"unknown topic {topic!r}")
    return (State.IGNORED_STALE if result.stale else State.DONE), result


def _is_duplicate(event: ChannelEvent) -> bool:
    """Another delivery of the same Shopify event (same event id and topic) was applied."""
    if not event.event_id:
        return False
    return (
        ChannelEvent.objects.filter(
            connection_id=event.connection_id,
            topic=event.topic,
            event_id=event.event_id,
            state__in=[State.DONE, State.IGNORED_STALE],
        )
        .exclude(pk=event.pk)
        .exists()
    )


def _process_locked(event: ChannelEvent) -> str:
    """Apply a claimed (locked, pending) event and mark it, in the caller's transaction."""
    actor = channel_service_user(connection=event.connection)
    event.attempts += 1
    event.error = ""
    if _is_duplicate(event):
        event.state = State.IGNORED_DUPLICATE
    else:
        try:
            # No savepoint here: each service ``_apply`` calls is atomic, so a refused event
            # leaves nothing written, and the event's own transaction stays usable.
            event.state, result = _apply(event, actor)
            event.customer_ref = result.customer.pk if result.customer else None
            event.order = result.order
        except ValidationError as exc:
            event.state, event.error = State.FAILED, "; ".join(exc.messages)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            event.state, event.error = State.FAILED, f"{type(exc).__name__}: {exc}"
    event.processed_at = timezone.now()
    event.save()
    return event.state


def _claimable():
    return ChannelEvent.objects.filter(state=State.PENDING).select_related(
        "connection__service_user"
    )


@transaction.atomic
def channel_event_process(*, event_id: int) -> str | None:
    """Process one pending inbox event exactly once; return its new state (None: not pending).

    Business errors (a ``ValidationError``, a malformed payload) mark the event failed with the
    reason, in the same transaction, so staff can retry it; anything else rolls back and
    leaves it pending for the next drain.
    """
    event = locked(_claimable().filter(pk=event_id)).first()
    if event is None:
        return None
    return _process_locked(event)


@dataclass
class DrainResult:
    processed: int = 0
    crashed: int = 0
    more: bool = False  # the time was up with events still pending


def channel_events_process_pending(*, seconds: float | None = None) -> DrainResult:
    """Process pending events, oldest first, one transaction each, until none is left.

    Several workers drain at once: each claims the next event no other transaction holds
    (``SKIP LOCKED``). An event whose processing crashes is counted (``MAX_ATTEMPTS``) and left
    for a later drain. ``seconds`` bounds the run; ``more`` then says whether work is left.
    """
    run = DrainResult()
    crashed: set[int] = set()
    deadline = None if seconds is None else time.monotonic() + seconds
    while deadline is None or time.monotonic() < deadline:
        event = None
        try:
            with transaction.atomic():
                event = locked(_claimable().exclude(pk__in=crashed), skip_locked=True).first()
                if event is None:
                    return run
                _process_locked(event)
        except Exception as exc:
            if event is None:
                raise  # the claim itself failed (database gone): the task fails, events wait
            logger.exception("Channel event %s crashed; it stays pending", event.pk)
            crashed.add(event.pk)
            run.crashed += 1
            _note_crash(event.pk, exc)
            continue
        run.processed += 1
    run.more = _claimable().exclude(pk__in=crashed).exists()
    return run


def _note_crash(event_id: int, exc: Exception) -> None:
    """Count a crashed attempt (its changes were rolled back); fail it after MAX_ATTEMPTS."""
    with transaction.atomic():
        event = locked(ChannelEvent.objects.filter(pk=event_id, state=State.PENDING)).first()
        if event is None:
            return
        event.attempts += 1
        event.error = f"{type(exc).__name__}: {exc}"
        if event.attempts >= MAX_ATTEMPTS:
            event.state = State.FAILED
            event.processed_at = timezone.now()
        event.save(update_fields=["attempts", "error", "state", "processed_at"])


@transaction.atomic
def channel_events_retry(*, actor, event_ids) -> list[int]:
    """Put failed events back to pending; return their ids (the next drain applies them).

    ``actor`` is the staff user asking; the retry itself is recorded on the event (attempts).
    """
    ids = list(
        locked(ChannelEvent.objects.filter(pk__in=list(event_ids), state=State.FAILED)).values_list(
            "pk", flat=True
        )
    )
    ChannelEvent.objects.filter(pk__in=ids).update(state=State.PENDING)
    return ids
