"""The webhook inbox: store a delivery once, process it exactly once, retry and sweep.

A delivery is stored (and answered) before any rule runs. Processing locks the event row, skips
it unless it is pending, applies it and marks it in the same transaction: a worker killed
half-way leaves it pending and its changes rolled back, and the sweeper hands it out again.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.channels import shopify
from customers.models import (
    ChannelConnection,
    ChannelCustomerLink,
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

State = ChannelEventState


@dataclass
class StoreResult:
    event: ChannelEvent
    created: bool


def channel_event_store(
    *, connection: ChannelConnection, topic: str, webhook_id: str, body: str, headers: dict
) -> StoreResult:
    """Store one delivery in the inbox; a delivery already stored (same webhook id) is not.

    No actor: nothing about a customer changes here, only the raw delivery is kept.
    """
    # Insert first and let the unique constraint catch a retry: one statement on the hot path.
    try:
        with transaction.atomic():
            event = ChannelEvent.objects.create(
                connection=connection,
                topic=topic,
                webhook_id=webhook_id,
                event_id=headers.get("X-Shopify-Event-Id", ""),
                body=body,
                headers=headers,
            )
    except IntegrityError:
        # A retried delivery (Shopify resends until it gets a 200).
        event = ChannelEvent.objects.get(connection=connection, webhook_id=webhook_id)
        return StoreResult(event=event, created=False)
    return StoreResult(event=event, created=True)


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


@transaction.atomic
def channel_event_process(*, event_id: int) -> str | None:
    """Process one pending inbox event exactly once; return its new state (None: not pending).

    Business errors (a ``ValidationError``, a malformed payload) mark the event failed with the
    reason, in the same transaction, so staff can retry it; anything else rolls back and
    leaves it pending for the sweeper.
    """
    event = (
        ChannelEvent.objects.select_for_update(of=("self",))
        .select_related("connection")
        .filter(pk=event_id, state=State.PENDING)
        .first()
    )
    if event is None:
        return None
    actor = channel_service_user(connection=event.connection)
    event.attempts += 1
    event.error = ""
    if _is_duplicate(event):
        event.state = State.IGNORED_DUPLICATE
    else:
        try:
            with transaction.atomic():
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


@transaction.atomic
def channel_events_retry(*, actor, event_ids) -> list[int]:
    """Put failed events back to pending; return their ids for the caller to enqueue.

    ``actor`` is the staff user asking; the retry itself is recorded on the event (attempts).
    """
    ids = list(
        ChannelEvent.objects.select_for_update(of=("self",))
        .filter(pk__in=list(event_ids), state=State.FAILED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    ChannelEvent.objects.filter(pk__in=ids).update(state=State.PENDING)
    return ids


def channel_events_stuck(*, older_than: float | None = None) -> list[int]:
    """Ids of events still pending ``older_than`` seconds after they arrived (the sweeper's)."""
    seconds = settings.BACKOFFICE_CHANNEL_SWEEP_SECONDS if older_than is None else older_than
    cutoff = timezone.now() - datetime.timedelta(seconds=seconds)
    return list(
        ChannelEvent.objects.filter(state=State.PENDING, received_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


REDACTED_BODY = "{}"


@transaction.atomic
def channel_data_erase(*, actor, customer_ids) -> int:
    """Erase what the channels left about these customers: raw deliveries and channel ids.

    For the erasure service to call beside its own redaction (its REDACTED event records the
    erasure; ``actor`` is the same). The inbox rows stay, with their topic and state, so the
    channel events page still accounts for every delivery. Returns the events emptied.
    """
    ids = list(customer_ids)
    ChannelCustomerLink.objects.filter(customer_ref__in=ids).delete()
    return ChannelEvent.objects.filter(customer_ref__in=ids).update(body=REDACTED_BODY, headers={})
