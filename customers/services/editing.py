"""Creating and editing one customer by hand (the admin's change form)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from customers.models import ConsentSource, Customer, EventKind
from customers.services.audit import Actor, event_record
from customers.services.consent import CHANNELS, consent_apply

# Fields whose change the audit trail records; consent has its own event.
AUDITED_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "company",
    "username",
    "tax_exempt",
    "group",
    "source",
    "status",
    "has_active_subscription",
)


def _plain(value):
    """Make a field value JSON-friendly for the audit trail."""
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return str(value)
    return value


@dataclass
class SaveResult:
    customer: Customer
    created: bool
    changes: dict[str, list] = field(default_factory=dict)


@transaction.atomic
def customer_save(*, actor: Actor, customer: Customer, tags: list[str] | None = None) -> SaveResult:
    """Save a customer edited by hand, bump its version and record what changed.

    ``customer`` carries the new values (already validated by ``full_clean``); ``tags``, when
    given, replaces its tag set.
    """
    now = timezone.now()
    created = customer.pk is None
    changes: dict[str, list] = {}
    if created:
        for channel in CHANNELS:
            consent_apply(
                customer=customer,
                channel=channel,
                state=getattr(customer, f"{channel}_consent"),
                source=ConsentSource.ADMIN,
                when=now,
            )
        customer.save()
    else:
        stored = Customer.objects.select_for_update().get(pk=customer.pk)
        for name in AUDITED_FIELDS:
            old, new = getattr(stored, name), getattr(customer, name)
            if old != new:
                changes[name] = [_plain(old), _plain(new)]
        for channel in CHANNELS:
            attr = f"{channel}_consent"
            new_state = getattr(customer, attr)
            # Restore the stored state so consent_apply sees the real transition.
            setattr(customer, attr, getattr(stored, attr))
            if new_state != getattr(stored, attr):
                consent_apply(
                    customer=customer,
                    channel=channel,
                    state=new_state,
                    source=ConsentSource.ADMIN,
                    when=now,
                )
                changes[attr] = [getattr(stored, attr), new_state]
        customer.version = stored.version + 1
        customer.save()
    if tags is not None:
        before = set(customer.tags.names())
        customer.tags.set(tags)
        after = set(customer.tags.names())
        added = sorted(after - before, key=str.lower)
        removed = sorted(before - after, key=str.lower)
        if added:
            changes["tags_added"] = added
        if removed:
            changes["tags_removed"] = removed
    if created:
        event_record(
            actor=actor, customer=customer, kind=EventKind.CREATED, data={"source": customer.source}
        )
    elif changes:
        event_record(
            actor=actor, customer=customer, kind=EventKind.UPDATED, data={"changes": changes}
        )
    return SaveResult(customer=customer, created=created, changes=changes)
