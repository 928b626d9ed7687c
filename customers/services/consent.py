"""Marketing consent: a state, when it last changed and where the change came from."""

from __future__ import annotations

from django.utils import timezone

from customers.models import Customer

CHANNELS = ("email", "sms")


def consent_apply(
    *, customer: Customer, channel: str, state: str, source: str, when=None
) -> tuple[str, str] | None:
    """Set a consent state on an unsaved customer object; return (old, new) if it changed.

    The caller saves the customer and records the returned change in its audit event.
    """
    if channel not in CHANNELS:
        raise ValueError(channel)
    field = f"{channel}_consent"
    old = getattr(customer, field)
    if old == state and getattr(customer, f"{field}_updated_at") is not None:
        return None
    setattr(customer, field, state)
    setattr(customer, f"{field}_updated_at", when or timezone.now())
    setattr(customer, f"{field}_source", source)
    return (old, state) if old != state else None
