"""The audit trail: one function writes one customer's event, one writes many set-based."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from customers.models import Customer, CustomerEvent
from customers.services.bulk import rows_insert

# A staff user, or a label for work done without one (a management command, cron).
Actor = AbstractBaseUser | str | None

BATCH_SIZE = 2000


def _actor_fields(actor: Actor) -> dict[str, Any]:
    if actor is None:
        return {"actor": None, "actor_label": "system"}
    if isinstance(actor, str):
        return {"actor": None, "actor_label": actor}
    return {"actor": actor, "actor_label": actor.get_username()}


def event_record(
    *, actor: Actor, customer: Customer, kind: str, data: dict | None = None
) -> CustomerEvent:
    """Write one audit event on a customer."""
    return CustomerEvent.objects.create(
        customer=customer,
        customer_ref=customer.pk,
        kind=kind,
        data=data or {},
        **_actor_fields(actor),
    )


def events_record_bulk(
    *,
    actor: Actor,
    kind: str,
    customer_ids: Iterable[int],
    data: dict | None = None,
    data_by_customer: dict[int, dict] | None = None,
    keep_link: bool = True,
) -> int:
    """Write the same kind of event on many customers in batched inserts; return how many.

    ``data_by_customer`` overrides ``data`` per customer. ``keep_link=False`` writes events whose
    customer is about to be deleted (the id stays in ``customer_ref``).
    """
    now = timezone.now()
    actor_fields = _actor_fields(actor)
    actor_id = actor_fields["actor"].pk if actor_fields["actor"] is not None else None
    by_customer = data_by_customer or {}
    rows = [
        (
            pk if keep_link else None,
            pk,
            actor_id,
            actor_fields["actor_label"],
            kind,
            by_customer.get(pk, data or {}),
            now,
        )
        for pk in customer_ids
    ]
    # Straight to executemany: the ORM's bulk_create costs more than the rest of a big import.
    rows_insert(
        model=CustomerEvent,
        fields=(
            "customer_id",
            "customer_ref",
            "actor_id",
            "actor_label",
            "kind",
            "data",
            "created_at",
        ),
        rows=rows,
    )
    return len(rows)
