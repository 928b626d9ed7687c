"""Reads that find possible duplicate customers: set-based GROUP BY in the database.

Three kinds of group: customers sharing an email (trimmed, case-insensitive), an E.164 phone, or
a postal address (same country and postal code, street lines compared with case, spacing and
punctuation ignored). The address key is a generated column the database computes from the address
(``Address.match_key``), so every writer of addresses (admin, CSV import, channel sync) is
covered without maintaining a key, and the grouping reads an index instead of normalising every
address on every page view.
Merged and redacted customers are never listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import (
    Aggregate,
    Count,
    F,
    Min,
    Q,
    QuerySet,
    TextField,
    Value,
)
from django.db.models.functions import Lower, Trim
from django.utils.translation import gettext_lazy as _

from customers.address_keys import Pipes
from customers.models import EMAIL_ODD, NOT_LIVE, Address, Customer
from customers.phones import phone_search_candidates, phone_search_digits

EMAIL = "email"
PHONE = "phone"
ADDRESS = "address"
REASONS = {
    EMAIL: _("Same email"),
    PHONE: _("Same phone"),
    ADDRESS: _("Same postal address"),
}
NOT_LISTED = NOT_LIVE


class IdList(Aggregate):
    """Comma-separated ids of a group: GROUP_CONCAT on SQLite, STRING_AGG on PostgreSQL."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(distinct)s%(expressions)s)"
    allow_distinct = True
    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            function="STRING_AGG",
            template="%(function)s(%(distinct)s(%(expressions)s)::text, ',')",
            **extra_context,
        )


def _listed_customers() -> QuerySet[Customer]:
    return Customer.objects.live()


def _keyed_addresses() -> QuerySet[Address]:
    # The same condition as the partial index address_match_key_idx, so the planner uses it.
    return Address.objects.exclude(address1="").exclude(country_code="")


def _listed_addresses() -> QuerySet[Address]:
    return _keyed_addresses().exclude(customer__status__in=NOT_LISTED)


# Two stages per kind: first the keys shared by two or more records of any status, read from an
# index in key order (no sort, no join, no heap); then only those few keys are joined to the
# customers to drop merged and redacted ones and to collect the groups.


def _email_candidates() -> QuerySet:
    """Keys of possible email groups, cheaply.

    Emails are stored trimmed and lower-cased, and the database forbids two unmerged customers
    with the same lower-cased email, so every group holds at least one email stored otherwise
    (data older than those rules). One scan with a cheap filter finds them; no aggregation.
    """
    return _odd_emails().values("key")


def _odd_emails() -> QuerySet[Customer]:
    """Customers whose stored email is not trimmed and lower-cased; ``key`` is what it should be.

    Filters on exactly the expression of the index ``customer_email_odd_idx``, which the
    database then reads instead of the table.
    """
    return (
        Customer.objects.alias(odd=EMAIL_ODD)
        .filter(odd=True)
        .exclude(email="")
        .annotate(key=Lower(Trim("email")))
        .order_by()
    )


def _phone_candidates() -> QuerySet:
    return (
        Customer.objects.exclude(phone="")
        .values("phone")
        .annotate(n=Count("phone"))
        .filter(n__gt=1)
        .values("phone")
        .order_by()
    )


def _address_candidates() -> QuerySet:
    # A plain count (not distinct customers) streams through the index without per-group
    # de-duplication; one customer's two identical addresses drop out at the second stage.
    return (
        _keyed_addresses()
        .values("match_key")
        .annotate(n=Count("match_key"))
        .filter(n__gt=1)
        .values("match_key")
        .order_by()
    )


# Up to this many un-normalised emails are read first and inlined in the query as literals;
# the database cannot estimate the partial index's selectivity, and a subquery it thinks
# returns half the table made PostgreSQL plan (and JIT-compile) for hours of work.
ODD_EMAILS_INLINE = 5000


def _email_members() -> Q | None:
    """Who may be in an email group (None: nobody, so the kind costs one index read)."""
    rows = list(_odd_emails().values_list("pk", "key")[: ODD_EMAILS_INLINE + 1])
    if len(rows) > ODD_EMAILS_INLINE:
        return Q(email__in=_email_candidates()) | Q(pk__in=_odd_emails().values("pk"))
    if not rows:
        return None
    return Q(email__in=sorted({key for _pk, key in rows})) | Q(pk__in=[pk for pk, _key in rows])


def duplicates_search(text: str) -> QuerySet[Customer] | None:
    """The customers a duplicates-page search means (None: no search).

    Every word must be in the first name, last name or email; a phone number in any format
    (or a run of its digits) matches the phone.
    """
    text = " ".join(text.split())
    if not text:
        return None
    words = Q()
    for word in text.split(" "):
        words &= (
            Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
        )
    digits = phone_search_digits(text)
    if digits:
        words |= Q(phone__in=phone_search_candidates(text)) | Q(phone__contains=digits)
    return Customer.objects.filter(words).order_by()


def _email_groups(search: QuerySet[Customer] | None = None) -> QuerySet | None:
    members = _email_members()
    if members is None:
        return None
    groups = _listed_customers().exclude(email="").filter(members)
    if search is not None:
        groups = groups.alias(search_key=Lower(Trim("email"))).filter(
            search_key__in=search.annotate(found=Lower(Trim("email"))).values("found")
        )
    return (
        groups.annotate(reason=Value(EMAIL), key=Lower(Trim("email")))
        .values("reason", "key")
        .annotate(size=Count("pk"), ids=IdList("pk"), label=Min("email"))
        .filter(size__gt=1)
        .values("reason", "key", "size", "ids", "label")
        .order_by()
    )


def _phone_groups(search: QuerySet[Customer] | None = None) -> QuerySet:
    groups = _listed_customers().filter(phone__in=_phone_candidates())
    if search is not None:
        groups = groups.filter(phone__in=search.exclude(phone="").values("phone"))
    return (
        groups.annotate(reason=Value(PHONE), key=F("phone"))
        .values("reason", "key")
        .annotate(size=Count("pk"), ids=IdList("pk"), label=Min("phone"))
        .filter(size__gt=1)
        .values("reason", "key", "size", "ids", "label")
        .order_by()
    )


def _address_groups(search: QuerySet[Customer] | None = None) -> QuerySet:
    label = Pipes(
        "address1", Value(", "), "postal_code", Value(" "), "city", Value(", "), "country_code"
    )
    groups = _listed_addresses().filter(match_key__in=_address_candidates())
    if search is not None:
        found = _keyed_addresses().filter(customer__in=search.values("pk"))
        groups = groups.filter(match_key__in=found.values("match_key"))
    return (
        groups.annotate(reason=Value(ADDRESS), key=F("match_key"))
        .values("reason", "key")
        .annotate(
            size=Count("customer_id", distinct=True),
            ids=IdList("customer_id", distinct=True),
            label=Min(label),
        )
        .filter(size__gt=1)
        .values("reason", "key", "size", "ids", "label")
        .order_by()
    )


GROUP_QUERIES = {EMAIL: _email_groups, PHONE: _phone_groups, ADDRESS: _address_groups}


def duplicate_groups(*, reason: str | None = None, search: str = "") -> QuerySet:
    """Return the groups of possible duplicates as rows (reason, key, size, ids, label).

    ``search`` keeps the groups holding a customer it finds (:func:`duplicates_search`), in
    the same one query.

    Ordered by reason then key, so the caller can paginate it (a slice is a LIMIT/OFFSET on
    the database). ``ids`` is a comma-separated list of the group's customer ids; ``reason``
    limits the result to one kind. The email kind is empty unless data predates the unique
    constraint on lower-cased email (or had surrounding spaces): it is kept because it costs one
    scan and guards the invariant.
    """
    kinds = [reason] if reason in GROUP_QUERIES else list(GROUP_QUERIES)
    found = duplicates_search(search)
    queries = [query for kind in kinds if (query := GROUP_QUERIES[kind](found)) is not None]
    if not queries:
        return Customer.objects.none().values("pk")
    qs = queries[0].union(*queries[1:], all=True) if len(queries) > 1 else queries[0]
    return qs.order_by("reason", "key")


@dataclass
class DuplicateGroup:
    reason: str
    key: str
    label: str
    size: int
    ids: list[int]
    customers: list[Customer] = field(default_factory=list)

    @property
    def reason_display(self) -> str:
        return str(REASONS.get(self.reason, self.reason))


def duplicate_groups_with_customers(rows) -> list[DuplicateGroup]:
    """Turn one page of group rows into groups carrying their customers (one query)."""
    groups = [
        DuplicateGroup(
            reason=row["reason"],
            key=row["key"],
            label=row["label"],
            size=row["size"],
            ids=sorted(int(pk) for pk in str(row["ids"]).split(",") if pk),
        )
        for row in rows
    ]
    wanted = {pk for group in groups for pk in group.ids}
    by_id = Customer.objects.select_related("group").in_bulk(wanted)
    for group in groups:
        group.customers = [by_id[pk] for pk in group.ids if pk in by_id]
    return groups


def customers_with_possible_duplicates(queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    """Filter a customer queryset to listed customers who belong to at least one group."""
    email_members = _email_members()
    in_email_group = Q(pk__in=[])
    if email_members is not None:
        email_keys = (
            _listed_customers()
            .exclude(email="")
            .filter(email_members)
            .annotate(key=Lower(Trim("email")))
            .values("key")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .values("key")
            .order_by()
        )
        in_email_group = Q(email__in=email_keys, email__gt="") | Q(
            pk__in=_odd_emails().filter(key__in=email_keys).values("pk")
        )
    phone_keys = (
        _listed_customers()
        .filter(phone__in=_phone_candidates())
        .values("phone")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values("phone")
        .order_by()
    )
    address_keys = (
        _listed_addresses()
        .filter(match_key__in=_address_candidates())
        .values("match_key")
        .annotate(n=Count("customer_id", distinct=True))
        .filter(n__gt=1)
        .values("match_key")
        .order_by()
    )
    return queryset.exclude(status__in=NOT_LISTED).filter(
        in_email_group
        | Q(phone__in=phone_keys, phone__gt="")
        | Q(pk__in=_keyed_addresses().filter(match_key__in=address_keys).values("customer_id"))
    )
