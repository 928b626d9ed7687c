"""The customer list's pages at a million customers: no COUNT(*) of the table, no OFFSET scan.

Counting: the list counts at most ``COUNT_CAP + 1`` rows (``COUNT(*)`` over a ``LIMIT``). Below
the cap the count is exact; above it PostgreSQL's planner estimates the rows ("about 1,000,000
customers"; when it expects far more than the cap, nothing is counted) and SQLite, which keeps
no such estimate, says "more than 10,000 customers". What an action changes is counted
exactly, from the selection, on its confirmation page.

Pages: the first ``LINKED_PAGES`` pages are linked by number; a page number typed beyond them is
served too, its OFFSET skipping index entries rather than rows (``offset_rows``). "Next" and
"Previous" carry a cursor instead of a page number: the sort values and the id of the last (or
first) row shown, so a page a million rows deep is read as an index seek of one page (keyset
pagination). A sort on a column that may be empty (the last order date) or on a related model
has no simple keyset; there the numbered pages stay.

Empty last: a sort on a text column that is often empty (the phone) shows the rows with a value
first and the empty ones after them, in both directions (``EmptyLast``). The two parts are read
apart, each through its own index: the rows with a value through the column's partial index
(which holds only them), the empty ones in the rest of the sort's order. One query a page; one
more on the page where the first part ends, and a count of that index for a page number typed
beyond it.
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
from django.db.models import BooleanField, Expression, ExpressionWrapper, F, OrderBy, Q, QuerySet
from django.db.models.expressions import Col
from django.db.models.lookups import Lookup
from django.db.models.sql.where import AND, WhereNode
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

    def __init__(self, object_list, per_page, *, counted: ListCount, empty_last=None):
        super().__init__(object_list, per_page)
        self.counted = counted
        self.empty_last = empty_last

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
        if self.empty_last is not None:
            rows = self.empty_last.offset_rows(self.object_list, offset, self.per_page)
        else:
            rows = offset_rows(self.object_list, offset, self.per_page)
        return self._get_page(rows, number, self)


def offset_rows(queryset: QuerySet, offset: int, size: int) -> QuerySet:
    """The ``size`` rows after the first ``offset`` of the list, in one query.

    Past the first page, as a deferred join: the OFFSET runs in a subquery that reads only the
    ids, which an index holding the sort and the filtered columns serves alone (an index-only
    scan), and only the page's rows are then read whole. A plain OFFSET reads every skipped row:
    page 5,000 of a million customers read 500,000 of them.
    """
    if offset == 0 or queryset.query.distinct or queryset.query.is_sliced:
        return queryset[offset : offset + size]
    ids = queryset.values("pk")[offset : offset + size]
    return queryset.filter(pk__in=ids)


# --- SQLite's plan of a page ---------------------------------------------------------------
#
# SQLite 3.40 keeps no histogram (no STAT4): it guesses that a range matches a quarter of the
# rows, a closed range a sixty-fourth, whatever they hold. "2 to 5 orders" (a quarter of a
# million customers) then reads every one of them through the order-count index and sorts them
# for one page, while "at least 50 orders" (nobody) walks the whole list in its order looking
# for a first match. The capped count has just told how many rows match, so the page query is
# written for it: many (over the cap) -> walk the sort's index and test each row, which finds
# a page within a few thousand rows; few -> read them through the conditions' own index and
# sort those few. PostgreSQL keeps statistics and plans this itself.


class _Unindexed(Expression):
    """``+(condition)``: SQLite serves it from no index, so the sort's index drives the read."""

    output_field = BooleanField()

    def __init__(self, condition):
        super().__init__()
        self.condition = condition

    def get_source_expressions(self):
        return [self.condition]

    def set_source_expressions(self, exprs):
        (self.condition,) = exprs

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self.condition)
        return f"+({sql})", params


def planner_hinted(queryset: QuerySet, counted: ListCount) -> QuerySet:
    """The page's queryset planned for how many rows match (SQLite).

    Many: every condition but one on the sort's first column (whose index serves the range and
    the order at once) is kept from the indexes. Few: the matching ids are read in a subquery
    with no ORDER BY, where the conditions' own index is the only good plan, and only they
    are sorted.
    """
    if connection.vendor != "sqlite" or queryset.query.is_empty():
        return queryset
    if counted.exact:
        return _ids_first(queryset)
    leading = _leading_column(queryset)
    hinted = queryset._chain()
    children = [
        child if _on_column(child, leading, hinted.query.get_initial_alias()) else _Unindexed(child)
        for child in _conjuncts(hinted.query.where)
    ]
    hinted.query.where = WhereNode(children, AND)
    return hinted


def _ids_first(queryset: QuerySet) -> QuerySet:
    query = queryset.query
    if query.annotations or query.distinct or query.is_sliced:
        return queryset
    rows = queryset.model._default_manager.filter(pk__in=queryset.values("pk"))
    rows.query.select_related = query.select_related
    rows = rows.prefetch_related(*queryset._prefetch_related_lookups)
    return rows.order_by(*query.order_by) if query.order_by else rows


def _conjuncts(node) -> list:
    """The conditions ANDed together at the top of a WHERE tree."""
    if not isinstance(node, WhereNode) or node.negated or node.connector != AND:
        return [node]
    return [leaf for child in node.children for leaf in _conjuncts(child)]


def _leading_column(queryset: QuerySet) -> str | None:
    """The column the list is sorted on first (None for an expression)."""
    ordering = queryset.query.order_by or queryset.model._meta.ordering
    if not ordering:
        return None
    first = ordering[0]
    if isinstance(first, OrderBy):
        first = first.expression
    name = first.name if isinstance(first, F) else str(first).lstrip("-")
    opts = queryset.model._meta
    try:
        return (opts.pk if name == "pk" else opts.get_field(name)).column
    except FieldDoesNotExist:
        return None


def _on_column(condition, column: str | None, alias: str) -> bool:
    lhs = getattr(condition, "lhs", None)
    return (
        column is not None
        and isinstance(condition, Lookup)
        and isinstance(lhs, Col)
        and lhs.alias == alias
        and lhs.target.column == column
    )


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


# --- empty values last ----------------------------------------------------------------------


@dataclass(frozen=True)
class EmptyLast:
    """A sort whose first column is often empty: the rows with a value, then the empty ones.

    ``empty`` says a row's value is empty (``Q(phone="")``). Each part keeps the list's sort.
    """

    column: str
    empty: Q

    def filled(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(~self.empty)

    def blank(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(self.empty)

    def ordered(self, queryset: QuerySet) -> QuerySet:
        """The whole list in this order, in one query (a list short enough to show whole)."""
        ordering = queryset.query.order_by
        flag = ExpressionWrapper(self.empty, output_field=BooleanField())
        return queryset.alias(_empty_last=flag).order_by("_empty_last", *ordering)

    def offset_rows(self, queryset: QuerySet, offset: int, size: int) -> list:
        """The ``size`` rows after the first ``offset``: the filled part's, then the empty's."""
        rows = list(offset_rows(self.filled(queryset), offset, size))
        if len(rows) == size:
            return rows
        # Where the filled part ends: this page says it, or (a page beyond it) a count of the
        # partial index.
        filled = offset + len(rows) if rows or not offset else self.filled(queryset).count()
        rest = offset_rows(self.blank(queryset), max(0, offset - filled), size - len(rows))
        return rows + list(rest)

    def keyset_page(
        self, queryset: QuerySet, keys: list[SortKey], values: list, *, forward: bool, size: int
    ) -> KeysetPage:
        """Rows after (or before) the cursor, crossing from one part to the other."""
        in_blank = self.empty_holds(values[0])
        part = self.blank(queryset) if in_blank else self.filled(queryset)
        page = keyset_page(part, keys, values, forward=forward, size=size)
        needed = size - len(page.rows)
        if forward and not in_blank and not page.has_next:
            after = list(self.blank(queryset)[: needed + 1])
            return KeysetPage(page.rows + after[:needed], len(after) > needed, True)
        if not forward and in_blank and not page.has_previous:
            before = list(self.filled(queryset).reverse()[: needed + 1])
            before.reverse()
            rows = before[len(before) - needed :] if needed else []
            return KeysetPage(rows + page.rows, True, len(before) > needed)
        return page

    def empty_holds(self, value) -> bool:
        """True when a cursor's first value is the empty one."""
        return value in ("", None)


def empty_last_for(queryset: QuerySet, sorts: tuple[EmptyLast, ...]) -> EmptyLast | None:
    """The one of ``sorts`` whose column the list is sorted on first, if any."""
    leading = _leading_column(queryset)
    return next((sort for sort in sorts if sort.column == leading), None)
