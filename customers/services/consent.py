"""Marketing consent: a state, when it last changed and where the change came from."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core import signing
from django.db import transaction
from django.utils import timezone

from customers.audit.events import Actor, consent_changed_event
from customers.db.locks import customer_lock
from customers.models import Consent, ConsentSource, Customer, Status
from customers.selectors.matching import customer_survivor

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


# --- the unsubscribe link ------------------------------------------------------------------

UNSUBSCRIBE_SALT = "customers.unsubscribe"
# Who the consent history names for a change made through the link: the person themselves.
UNSUBSCRIBE_ACTOR = "customer (unsubscribe link)"


class UnsubscribeTokenInvalid(Exception):
    """The token was not signed by us (tampered with, cut short, or for another purpose)."""


@dataclass(frozen=True)
class UnsubscribeResult:
    customer_id: int
    channel: str
    changed: bool


def unsubscribe_token(*, customer_id: int, channel: str) -> str:
    """Sign the customer and channel an unsubscribe link stands for.

    No expiry: a link in an old email must keep working (a withdrawal of consent never lapses).
    """
    if channel not in CHANNELS:
        raise ValueError(channel)
    return signing.dumps({"c": customer_id, "ch": channel}, salt=UNSUBSCRIBE_SALT, compress=False)


def unsubscribe_token_read(token: str) -> tuple[int, str]:
    """Return the (customer id, channel) a token signs, or raise ``UnsubscribeTokenInvalid``."""
    try:
        payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature as error:
        raise UnsubscribeTokenInvalid from error
    if not isinstance(payload, dict):
        raise UnsubscribeTokenInvalid
    customer_id, channel = payload.get("c"), payload.get("ch")
    if not isinstance(customer_id, int) or channel not in CHANNELS:
        raise UnsubscribeTokenInvalid
    return customer_id, channel


@transaction.atomic
def customer_unsubscribe(
    *, actor: Actor, customer_id: int, channel: str, when: datetime.datetime | None = None
) -> UnsubscribeResult:
    """Withdraw a customer's marketing consent on one channel; record it in the consent history.

    Idempotent: an already unsubscribed customer is left as it is. A merged record's consent
    lives on the customer it was merged into; an erased or deleted one has nothing to withdraw.
    """
    found = Customer.objects.filter(pk=customer_id).first()
    if found is None:
        return UnsubscribeResult(customer_id=customer_id, channel=channel, changed=False)
    customer = customer_lock(customer_id=customer_survivor(found).pk)
    if customer.status == Status.REDACTED or getattr(customer, f"{channel}_consent") == (
        Consent.UNSUBSCRIBED
    ):
        return UnsubscribeResult(customer_id=customer.pk, channel=channel, changed=False)
    field = f"{channel}_consent"
    change = consent_apply(
        customer=customer,
        channel=channel,
        state=Consent.UNSUBSCRIBED,
        source=ConsentSource.UNSUBSCRIBE_LINK,
        when=when,
    )
    # A change form opened before this must not write the old consent back.
    customer.version += 1
    customer.save(
        update_fields=[field, f"{field}_updated_at", f"{field}_source", "version", "updated_at"]
    )
    if change is not None:
        consent_changed_event(
            actor=actor,
            customer=customer,
            channel=channel,
            old=change[0],
            new=change[1],
            source=ConsentSource.UNSUBSCRIBE_LINK,
        )
    return UnsubscribeResult(customer_id=customer.pk, channel=channel, changed=True)
