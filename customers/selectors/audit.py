"""Reads of the audit trail: a customer's history page, its consent history, readable events."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from customers.models import Address, Consent, ConsentSource, Customer, CustomerEvent, EventKind

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


def _when(iso) -> str:
    try:
        moment = datetime.datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return display_value(iso)
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _label(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name.replace("_", " ")


def display_value(value) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str):
        for choices in (Consent, ConsentSource):
            if value in choices.values:
                return str(choices(value).label)
        return value
    if isinstance(value, list):
        return ", ".join(display_value(item) for item in value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _diff_lines(model, changes: dict) -> list[str]:
    return [
        _("%(field)s: %(old)s → %(new)s")
        % {
            "field": _label(model, name),
            "old": display_value(pair[0]),
            "new": display_value(pair[1]),
        }
        if isinstance(pair, list | tuple) and len(pair) == 2
        else f"{_label(model, name)}: {display_value(pair)}"
        for name, pair in changes.items()
    ]


def event_lines(event: CustomerEvent) -> list[str]:
    """Describe what an event recorded, one readable line per change.

    Events written by any path are shown: a shape this function does not know falls back to
    one "key: value" line per item rather than failing the page.
    """
    try:
        return _event_lines(event)
    except (AttributeError, IndexError, KeyError, TypeError):
        data = event.data if isinstance(event.data, dict) else {"data": event.data}
        return [f"{key.replace('_', ' ')}: {display_value(value)}" for key, value in data.items()]


def _event_lines(event: CustomerEvent) -> list[str]:
    data = event.data if isinstance(event.data, dict) else {}
    if event.kind == EventKind.CONSENT_CHANGED:
        channel = _("Email marketing") if data.get("channel") == "email" else _("SMS marketing")
        return [
            _("%(channel)s: %(old)s → %(new)s (source: %(source)s)")
            % {
                "channel": channel,
                "old": display_value(data.get("old")),
                "new": display_value(data.get("new")),
                "source": display_value(data.get("source")),
            }
        ]
    if event.kind == EventKind.ERASURE_REQUESTED and "hold_days" in data:
        return [_("To be erased %(days)s days after the last order.") % {"days": data["hold_days"]}]
    if event.kind == EventKind.REDACTED:
        if "merged_into" in data:
            return [
                _("Erased with customer #%(id)s, into which it was merged.")
                % {"id": data["merged_into"]}
            ]
        lines = [
            _(
                "Requested by %(who)s on %(when)s; names, contact details, addresses, notes and "
                "earlier values in this history erased."
            )
            % {
                "who": display_value(data.get("requested_by")),
                "when": _when(data.get("requested_at")),
            }
        ]
        if data.get("merged_records"):
            lines.append(
                _("Merged records erased too: %(ids)s")
                % {"ids": ", ".join(f"#{pk}" for pk in data["merged_records"])}
            )
        return lines
    lines: list[str] = []
    for key, value in data.items():
        if key == "changes" and isinstance(value, dict):
            lines += _diff_lines(Customer, value)
        elif key == "tags_added":
            lines.append(_("Tags added: %(tags)s") % {"tags": display_value(value)})
        elif key == "tags_removed":
            lines.append(_("Tags removed: %(tags)s") % {"tags": display_value(value)})
        elif key == "addresses_added":
            lines += [
                _("Address added: %(address)s") % {"address": a.get("address")} for a in value
            ]
        elif key == "addresses_removed":
            lines += [
                _("Address removed: %(address)s") % {"address": a.get("address")} for a in value
            ]
        elif key == "addresses_changed":
            for item in value:
                lines += [
                    _("Address %(id)s, %(change)s") % {"id": item.get("id"), "change": line}
                    for line in _diff_lines(Address, item.get("changes") or {})
                ]
        elif key == "notes_changed":
            lines += [
                _("Note changed: %(old)s → %(new)s")
                % {
                    "old": display_value(n["changes"]["body"][0]),
                    "new": display_value(n["changes"]["body"][1]),
                }
                for n in value
                if isinstance(n, dict) and "changes" in n
            ]
        elif key == "notes_removed":
            lines += [
                _("Note removed: %(body)s") % {"body": display_value(n.get("body"))} for n in value
            ]
        elif key == "body" and event.kind == EventKind.NOTE_ADDED:
            lines.append(display_value(value))
        elif key == "id" and event.kind == EventKind.NOTE_ADDED:
            continue
        else:
            lines.append(f"{key.replace('_', ' ')}: {display_value(value)}")
    return lines
