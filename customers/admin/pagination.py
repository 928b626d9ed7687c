"""The customer list's pages at a million customers: no COUNT(*) of the table, no OFFSET scan.

Counting: the list counts at most ``COUNT_CAP + 1`` rows (``COUNT(*)`` over a ``LIMIT``). Below
the cap the count is exact; above it PostgreSQL's planner estimates the rows ("about 1,000,000
customers"; when it expects far more than the cap, nothing is counted) and SQLite, which keeps
no such estimate, says "more than 10,000 customers". What an action changes is counted
exactly, from the selection, on its confirmation page.

Pages: the first ``LINKED_PAGES`` pages are linked by number (an OFFSET of a few thousand rows
costs nothing). "Next" and "Previous" carry a cursor instead of a page number: the sort values
and the id of the last (or first) row shown, so a page a million rows deep is read as an index
seek of one page (keyset pagination). A sort on a column that may be empty (the last order
date) or on a related model has no simple keyset; there the numbered pages stay, OFFSET and all.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from functools import cached_property

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.paginator import InvalidPage, Paginator
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext

COUNT_CAP = 10_000
# Above this many times the cap, PostgreSQL's estimate is shown without counting at all: the
# planner is rarely wrong by a factor of five, and the page then says "about".
ESTIMATE_TRUSTED = 5
LINKED_PAGES = 10
# "Rows after this one" / "rows before this one", in the sort of the list.
AFTER_PARAM = "after"
BEFORE_PARAM = "before"
CURSOR_PARAMS = (AFTER_PARAM, BEFORE_PARAM)


@dataclass(frozen=True)
class ListCount:
    """How many rows the list holds, and how well it knows it."""

    value: int
    exact: bool
    estimated: bool = False

    def __str__(self) -> str:
        """The count as the list says it: "3 customers", "about 1,000,000 customers"."""
        if self.exact:
            return ngettext("%(count)s customer", "%(count)s customers", self.value) % {
                "count": number_format(self.value, force_grouping=True)
            }
        if self.estimated:
            shown = number_format(_rounded(self.value), force_grouping=True)
            return gettext("about %(count)s customers") % {"count": shown}
        shown = number_format(COUNT_CAP, force_grouping=True)
        return gettext("more than %(count)s customers") % {"count": shown}


def _rounded(value: int) -> int:
    """Two significant digits: an estimate is not worth more."""
    if value < 100:
        return value
    scale = 10 ** (int(math.log10(value)) - 1)
    return round(value / scale) * scale


def list_count(queryset: QuerySet) -> ListCount:
    """Count the list's rows up to the cap; above it, estimate (PostgreSQL) or say "more than".

    PostgreSQL plans first (a millisecond): when the planner expects far more rows than the cap,
    even the capped count is skipped (counting 10,001 tagged customers scans 100,000 rows).
    """
    estimate = planner_estimate(queryset)
    if estimate is not None and estimate > ESTIMATE_TRUSTED * COUNT_CAP:
        return ListCount(estimate, exact=False, estimated=True)
    capped = queryset.order_by()[: COUNT_CAP + 1].count()
    if capped <= COUNT_CAP:
        return ListCount(capped, exact=True)
    if estimate is not None and estimate > COUNT_CAP:
        return ListCount(estimate, exact=False, estimated=True)
    return ListCount(COUNT_CAP + 1, exact=False)


def planner_estimate(queryset: QuerySet) -> int | None:
    """The rows PostgreSQL's planner expects the query to return (None on other databases)."""
    if connection.vendor != "postgresql":
        return None
    if queryset.query.is_empty():
        return 0  # .none() (an unknown tag): Django sends no query, so there is no plan
    plan = json.loads(queryset.order_by().values("pk").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class CustomerPaginator(Paginator):
    """Django's paginator over a count it is given; links at most ``LINKED_PAGES`` pages.

    A page number typed beyond them is still served (with OFFSET), never refused: the count may
    be an estimate, so the real last page is not known.
    """

    def __init__(self, object_list, per_page, *, counted: ListCount):
        super().__init__(object_list, per_page)
        self.counted = counted

    @cached_property
    def count(self) -> int:
        return self.counted.value

    @cached_property
    def num_pages(self) -> int:
        return min(Paginator.num_pages.func(self), LINKED_PAGES)

    def validate_number(self, number):
        try:
            number = int(number)
        except (TypeError, ValueError) as error:
            raise InvalidPage(str(error)) from error
        if number < 1:
            raise InvalidPage(number)
        return number

    def page(self, number):
        number = self.validate_number(number)
        offset = (number - 1) * self.per_page
        return self._get_page(self.object_list[offset : offset + self.per_page], number, self)


# --- keyset pages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    """One column of the list's sort: its field name and direction."""

    name: str
    descending: bool


def sort_keys(queryset: QuerySet) -> list[SortKey] | None:
    """The queryset's ordering as keys a cursor can hold, or None if it has no simple keyset.

    Every key must be a column of the model itself that is never NULL (a NULL compares as
    nothing), and the last must be the primary key (ties then have one order).
    """
    opts = queryset.model._meta
    keys = []
    for item in queryset.query.order_by:
        if not isinstance(item, str) or "__" in item or item.lstrip("-") == "?":
            return None
        name = item.lstrip("-")
        try:
            field = opts.pk if name == "pk" else opts.get_field(name)
        except FieldDoesNotExist:
            return None
        if field.null or field.is_relation or not field.concrete:
            return None
        name = "pk" if field.primary_key else name
        if any(key.name == name for key in keys):
            continue  # a repeated key sorts nothing more (the admin appends its ordering)
        keys.append(SortKey(name, item.startswith("-")))
        if name == "pk":
            return keys  # unique: every later key is never reached
    return None


def cursor_encode(keys: list[SortKey], row) -> str:
    """A cursor for ``row``: its values of the sort keys, in a URL-safe token."""
    values = [str(getattr(row, key.name)) for key in keys]
    raw = json.dumps([[key.name for key in keys], values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(queryset: QuerySet, keys: list[SortKey], token: str) -> list | None:
    """The sort values a cursor holds, or None if it is not one of this sort (a stale link)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        names, values = json.loads(raw)
        if names != [key.name for key in keys] or len(values) != len(keys):
            return None
        opts = queryset.model._meta
        return [
            (opts.pk if key.name == "pk" else opts.get_field(key.name)).to_python(value)
            for key, value in zip(keys, values, strict=True)
        ]
    except (ValueError, TypeError, binascii.Error, ValidationError):
        return None


def _beyond(keys: list[SortKey], values: list, *, forward: bool) -> Q:
    """Rows strictly after (``forward``) or before the cursor, in the sort of ``keys``.

    Written as ``a <= x AND (a < x OR (a = x AND ...))``: the first, plain range lets the
    database seek the index on the first key instead of testing every row.
    """

    def compare(key: SortKey, strict: bool) -> str:
        upward = forward != key.descending
        return ("gt" if upward else "lt") + ("" if strict else "e")

    condition = Q(**{f"{keys[-1].name}__{compare(keys[-1], True)}": values[-1]})
    for key, value in zip(reversed(keys[:-1]), reversed(values[:-1]), strict=True):
        condition = Q(**{f"{key.name}__{compare(key, True)}": value}) | (
            Q(**{key.name: value}) & condition
        )
    first = keys[0]
    return Q(**{f"{first.name}__{compare(first, False)}": values[0]}) & condition


@dataclass
class KeysetPage:
    """The rows of a cursor page, and whether there are rows beyond it either way."""

    rows: list
    has_next: bool
    has_previous: bool


def keyset_page(
    queryset: QuerySet, keys: list[SortKey], values: list, *, forward: bool, size: int
) -> KeysetPage:
    """Read ``size`` rows after (or before) the cursor: one query, one index seek."""
    beyond = queryset.filter(_beyond(keys, values, forward=forward))
    if not forward:
        beyond = beyond.reverse()
    rows = list(beyond[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if forward:
        return KeysetPage(rows, has_next=more, has_previous=True)
    rows.reverse()
    return KeysetPage(rows, has_next=True, has_previous=more)
