"""A customer's timeline: one stream of everything that happened to them, newest first.

The stream is the audit trail (every path that touches a customer writes its event there), read
for the customer and for every record merged into them, one page at a time by keyset, so that
a page costs the same few queries whether the customer has 5 events or 50,000. Each entry reads
with the history page's sentences (``customers.audit.events.event_lines``).
"""

from __future__ import annotations

import datetime
from collections.abc import Set
from dataclasses import dataclass
from functools import reduce
from operator import and_, or_

from django.db.models import F, Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from customers.audit.events import event_lines
from customers.db.bulk import IdIn
from customers.models import CustomerEvent, EventKind
from customers.selectors.audit import CONSENT_FIELDS
from customers.selectors.matching import customers_merged_family

TIMELINE_PER_PAGE = 20
# A filtered page looks at this many events of the stream at most: a page then costs the same
# for a customer with 50,000 events as with 5, and may show fewer entries (or none) when the
# kind is rare; its "Older" link goes on from where it stopped.
TIMELINE_SCAN = 1000

# Payload keys that carry a note's text, wherever an event records them (edits, imports).
NOTE_KEYS = ("notes_added", "notes_changed", "notes_removed", "note_added")


@dataclass(frozen=True)
class TimelineKind:
    """One kind of entry staff can filter the timeline on, and which events it covers."""

    code: str
    label: Promise
    condition: Q


def _kinds(*kinds: str) -> Q:
    return Q(kind__in=list(kinds))


def _split(paths):
    # "changes.email_consent" -> ("changes__", "email_consent"): a key inside a key.
    for path in paths:
        parent, _dot, key = path.rpartition(".")
        yield (parent.replace(".", "__") + "__" if parent else ""), key


def _has_keys(*paths: str) -> Q:
    return reduce(or_, (Q(**{f"data__{prefix}has_key": key}) for prefix, key in _split(paths)))


# The kinds overlap on purpose: an import that changed consent is both an import and a consent
# change, a channel's update both an edit and a channel event.
TIMELINE_KINDS: tuple[TimelineKind, ...] = (
    TimelineKind("orders", _("Orders"), _kinds(EventKind.ORDER_RECORDED)),
    TimelineKind("emails", _("Emails"), _kinds(EventKind.EMAILED)),
    TimelineKind(
        "notes",
        _("Notes"),
        _kinds(EventKind.NOTE_ADDED) | _has_keys(*NOTE_KEYS[:3], f"changes.{NOTE_KEYS[3]}"),
    ),
    TimelineKind(
        "consent",
        _("Consent"),
        _kinds(EventKind.CONSENT_CHANGED) | _has_keys(*(f"changes.{f}" for f in CONSENT_FIELDS)),
    ),
    TimelineKind(
        "merges",
        _("Merges"),
        _kinds(EventKind.MERGED, EventKind.ABSORBED, EventKind.UNMERGED),
    ),
    TimelineKind("imports", _("Imports"), _kinds(EventKind.IMPORTED)),
    TimelineKind(
        "edits",
        _("Edits"),
        _kinds(
            EventKind.CREATED,
            EventKind.UPDATED,
            EventKind.TAGS_ADDED,
            EventKind.TAGS_REMOVED,
            EventKind.GROUP_CHANGED,
            EventKind.ARCHIVED,
            EventKind.UNARCHIVED,
            EventKind.MASS_UPDATED,
        ),
    ),
    # Channel syncs record the connection they came through.
    TimelineKind("channels", _("Sales channels"), _has_keys("connection")),
    TimelineKind(
        "erasure",
        _("Erasure"),
        _kinds(EventKind.ERASURE_REQUESTED, EventKind.ERASURE_CANCELLED, EventKind.REDACTED),
    ),
    TimelineKind("exports", _("Data exports"), _kinds(EventKind.PERSONAL_DATA_EXPORTED)),
)
TIMELINE_KIND_CODES = {kind.code: kind for kind in TIMELINE_KINDS}


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline: what happened (its sentences), who did it and when."""

    event: CustomerEvent
    lines: list[str]
    at: datetime.datetime
    by: str
    label: str
    order_id: int | None


@dataclass(frozen=True)
class TimelinePage:
    """One page of entries and the cursors of the pages around it (None: no such page)."""

    entries: list[TimelineEntry]
    newer: str | None
    older: str | None
    is_first: bool


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def timeline_cursor(event: CustomerEvent) -> str:
    """The position of an event in the stream, safe in a URL: microseconds since 1970, id."""
    return _cursor(event.created_at, event.pk)


def _cursor(at: datetime.datetime, pk: int) -> str:
    return f"{(at - _EPOCH) // datetime.timedelta(microseconds=1)}_{pk}"


def _cursor_read(raw: str | None) -> tuple[datetime.datetime, int] | None:
    micros, _sep, pk = (raw or "").partition("_")
    try:
        return _EPOCH + datetime.timedelta(microseconds=int(micros)), int(pk)
    except (ValueError, OverflowError):
        return None


def customer_merged_ids(*, customer_id: int) -> list[int]:
    """The records merged into this customer, directly or through a chain (one query a level)."""
    return sorted(customers_merged_family(ids=[customer_id]))


def customer_timeline(
    *,
    customer_id: int,
    kind: str | None = None,
    hidden: Set[str] = frozenset(),
    before: str | None = None,
    after: str | None = None,
    per_page: int = TIMELINE_PER_PAGE,
) -> TimelinePage:
    """One page of a customer's timeline, newest first, with the records merged into them.

    ``kind`` keeps one of ``TIMELINE_KINDS``; ``hidden`` names the kinds the viewer may not see
    (their events are left out, and the note texts inside edits are dropped). ``before`` /
    ``after`` are cursors from a previous page; an unreadable one reads as the first page.
    """
    refs = [customer_id, *customer_merged_ids(customer_id=customer_id)]
    # Equality when alone: the (customer_ref, created_at) index then yields the page in order.
    stream = CustomerEvent.objects.filter(
        Q(customer_ref=customer_id) if len(refs) == 1 else Q(customer_ref__in=refs)
    )
    conditions = [~_hidden_condition(code) for code in sorted(hidden & TIMELINE_KIND_CODES.keys())]
    if kind in TIMELINE_KIND_CODES:
        conditions.append(TIMELINE_KIND_CODES[kind].condition)
        if kind in hidden:
            conditions.append(Q(pk__in=[]))
    condition = reduce(and_, conditions) if conditions else None
    page, newer, older, is_first = _keyset_page(stream, condition, before, after, per_page)
    show_notes = "notes" not in hidden
    return TimelinePage(
        entries=[_entry(event, show_notes) for event in page],
        newer=newer,
        older=older,
        is_first=is_first,
    )


def _hidden_condition(code: str) -> Q:
    # Hidden notes leave out the notes themselves; an edit that also changed a note still
    # shows, without the note's text (``_without_notes``).
    return _kinds(EventKind.NOTE_ADDED) if code == "notes" else TIMELINE_KIND_CODES[code].condition


def _keyset_page(stream, condition, before, after, per_page):
    """The events of one page, newest first, and the cursors of the pages beside it."""
    after_at = _cursor_read(after) if before is None else None
    if after_at is not None:
        at, pk = after_at
        newer_side = stream.filter(created_at__gte=at).exclude(created_at=at, pk__lte=pk)
        rows, end = _scan(newer_side, condition, ("created_at", "pk"), per_page + 1)
        if rows or end is not None:
            page = rows[:per_page][::-1]
            if len(rows) > per_page:
                newer = timeline_cursor(page[0])
            else:  # the next page starts at the first event the scan did not reach
                newer = _cursor(end[1], end[0] - 1) if end is not None else None
            # Before the cursor's own event, which the older page showed, comes in again.
            older = timeline_cursor(page[-1]) if page else _cursor(at, pk + 1)
            return page, newer, older, newer is None
    before_at = _cursor_read(before)
    older_side = stream
    if before_at is not None:
        at, pk = before_at
        # A range on the index's time column, not an OR the planner cannot seek with.
        older_side = stream.filter(created_at__lte=at).exclude(created_at=at, pk__gte=pk)
    rows, end = _scan(older_side, condition, ("-created_at", "-pk"), per_page + 1)
    page = rows[:per_page]
    if len(rows) > per_page:
        older = timeline_cursor(page[-1])
    else:  # the next page starts at the first event the scan did not reach
        older = _cursor(end[1], end[0] + 1) if end is not None else None
    newer = None
    if before_at is not None:
        newer = timeline_cursor(page[0]) if page else _cursor(before_at[0], before_at[1] - 1)
    return page, newer, older, before_at is None


def _scan(events, condition, order, limit):
    """Up to ``limit`` events in ``order`` that meet ``condition``, looking at most at the next
    ``TIMELINE_SCAN`` events of the stream; and ``(id, created_at)`` of the first event it did
    not reach when it stopped short of the end (the next page starts there), else None.

    Without the bound, a kind a customer has none of would read all their 50,000 events.
    """
    ordered = events.order_by(*order)
    if condition is None:
        return list(ordered[:limit]), None
    window = list(ordered.values_list("pk", "created_at")[: TIMELINE_SCAN + 1])
    looked_at = window[:TIMELINE_SCAN]
    if not looked_at:
        return [], None
    # The window as ids and as a time range: with the condition alone in the statement,
    # PostgreSQL may read the whole table (or all the customer's events) for a rare kind.
    times = [at for _pk, at in looked_at]
    rows = list(
        ordered.filter(
            IdIn(F("pk"), [pk for pk, _at in looked_at]),
            created_at__gte=min(times),
            created_at__lte=max(times),
        ).filter(condition)[:limit]
    )
    end = window[TIMELINE_SCAN] if len(window) > TIMELINE_SCAN and len(rows) < limit else None
    return rows, end


def _entry(event: CustomerEvent, show_notes: bool) -> TimelineEntry:
    if not show_notes and isinstance(event.data, dict):
        event.data = _without_notes(event.data)
    data = event.data if isinstance(event.data, dict) else {}
    order_id = data.get("order") if event.kind == EventKind.ORDER_RECORDED else None
    return TimelineEntry(
        event=event,
        lines=event_lines(event),
        at=event.created_at,
        by=event.actor_label,
        label=str(event.get_kind_display()),
        order_id=order_id if isinstance(order_id, int) else None,
    )


def _without_notes(data: dict) -> dict:
    data = {key: value for key, value in data.items() if key not in NOTE_KEYS}
    changes = data.get("changes")
    if isinstance(changes, dict):
        data["changes"] = {k: v for k, v in changes.items() if k not in NOTE_KEYS}
    return data
