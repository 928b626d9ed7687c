"""Reads of the audit trail: a customer's history, its consent history.

How each event reads on the history page lives beside its writer, in ``customers.audit.events``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from customers.models import ConsentSource, CustomerEvent, EventKind

CONSENT_FIELDS = {"email_consent": "email", "sms_consent": "sms"}
# Events that may carry consent changes inside their "changes" (imports and merges record
# them there when they do not write a CONSENT_CHANGED event of their own).
_SOURCE_BY_KIND = {
    EventKind.IMPORTED: ConsentSource.IMPORT,
    EventKind.MERGED: ConsentSource.MERGE,
    EventKind.UNMERGED: ConsentSource.MERGE,
}


def customer_events(*, customer_id: int) -> QuerySet[CustomerEvent]:
    """A customer's audit trail, newest first (kept after deletion through ``customer_ref``)."""
    return CustomerEvent.objects.filter(customer_ref=customer_id).order_by("-created_at", "-pk")


def consent_history(*, customer_ids: Iterable[int]) -> list[dict]:
    """Every recorded consent change of these customers, oldest first, as plain dicts."""
    events = CustomerEvent.objects.filter(customer_ref__in=list(customer_ids)).filter(
        Q(kind=EventKind.CONSENT_CHANGED)
        | Q(data__changes__has_key="email_consent")
        | Q(data__changes__has_key="sms_consent")
    )
    history = []
    for event in events.order_by("created_at", "pk"):
        data = event.data if isinstance(event.data, dict) else {}
        base = {"at": event.created_at.isoformat(), "by": event.actor_label, "event": event.kind}
        if event.kind == EventKind.CONSENT_CHANGED:
            history.append(
                {
                    **base,
                    "channel": data.get("channel"),
                    "old": data.get("old"),
                    "new": data.get("new"),
                    "source": data.get("source"),
                }
            )
            continue
        for name, channel in CONSENT_FIELDS.items():
            change = (data.get("changes") or {}).get(name)
            if isinstance(change, list | tuple) and len(change) == 2:
                history.append(
                    {
                        **base,
                        "channel": channel,
                        "old": change[0],
                        "new": change[1],
                        "source": _SOURCE_BY_KIND.get(event.kind, ConsentSource.ADMIN),
                    }
                )
    return history
