"""Reads that find possible duplicate customers: GROUP BY over the duplicate keys table.

Three kinds of group: customers sharing an email (trimmed, case-insensitive), an E.164 phone, or
a postal address (same country and postal code, street lines compared with case, spacing and
punctuation ignored: ``Address.match_key``, computed by the database). Every listed customer's
keys are kept, counted, by ``services.duplicate_keys`` on every write (``DuplicateKeyGroup``,
``DuplicateKey``), so a group is a key held by two customers or more, read in key order from a
partial index that holds only those: the cost follows the number of duplicates, not of
customers. Merged and redacted customers hold no key: they are never listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Aggregate, F, Lookup, OuterRef, Q, QuerySet, Subquery, TextField
from django.utils.translation import gettext_lazy as _

from customers.models import NOT_LIVE, Address, Customer, DuplicateKey, DuplicateKeyGroup
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


def keyed_addresses() -> QuerySet[Address]:
    """Addresses that have a key: the condition of the partial index address_match_key_idx."""
    return Address.objects.exclude(address1="").exclude(country_code="")


class SizeAbove(Lookup):
    """``size > 1`` with the number written into the SQL, not passed as a parameter.

    SQLite uses a partial index only when it can prove the query implies the index's
    condition, which it cannot do for a bound parameter. Use it as ``SizeAbove(F("size"), 1)``.
    """

    lookup_name = "size_above"

    def get_prep_lookup(self):
        return int(self.rhs)

    def as_sql(self, compiler, connection):
        lhs_sql, params = compiler.compile(self.lhs)
        return f"{lhs_sql} > {self.rhs}", params


def shared_groups() -> QuerySet[DuplicateKeyGroup]:
    """Keys held by two listed customers or more: the partial index duplicate_key_shared_idx."""
    return DuplicateKeyGroup.objects.filter(SizeAbove(F("size"), 1))


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


def duplicate_groups(*, reason: str | None = None, search: str = "") -> QuerySet:
    """Return the groups of possible duplicates as rows (reason, key, size, ids).

    ``search`` keeps the groups holding a customer it finds (:func:`duplicates_search`), in
    the same one query.

    Ordered by reason then key, so the caller can paginate it (a slice is a LIMIT/OFFSET on
    the database, read in order from the partial index of shared keys). ``ids`` is a
    comma-separated list of the group's customer ids; ``reason`` limits the result to one kind.
    The email kind is empty unless data predates the unique constraint on lower-cased email (or
    had surrounding spaces): it is kept because it costs nothing and guards the invariant.
    """
    kinds = [reason] if reason in REASONS else list(REASONS)
    groups = shared_groups().filter(kind__in=kinds)
    found = duplicates_search(search)
    if found is not None:
        holding = DuplicateKey.objects.filter(customer__in=found.values("pk"))
        groups = groups.filter(pk__in=holding.values("group_id"))
    ids = (
        DuplicateKey.objects.filter(group=OuterRef("pk"))
        .order_by()
        .values("group")
        .annotate(ids=IdList("customer_id"))
        .values("ids")
    )
    return (
        groups.annotate(reason=F("kind"), ids=Subquery(ids))
        .values("reason", "key", "size", "ids")
        .order_by("reason", "key")
    )


@dataclass
class DuplicateGroup:
    reason: str
    key: str
    size: int
    ids: list[int]
    label: str = ""
    customers: list[Customer] = field(default_factory=list)

    @property
    def reason_display(self) -> str:
        return str(REASONS.get(self.reason, self.reason))


def duplicate_groups_with_customers(rows) -> list[DuplicateGroup]:
    """Turn one page of group rows into groups carrying their customers and a label.

    Two queries whatever the page holds: the customers, and the addresses that label the
    address groups (the smallest "line 1, postal code city, country" of the group).
    """
    groups = [
        DuplicateGroup(
            reason=row["reason"],
            key=row["key"],
            size=row["size"],
            ids=sorted(int(pk) for pk in str(row["ids"]).split(",") if pk),
        )
        for row in rows
    ]
    wanted = {pk for group in groups for pk in group.ids}
    by_id = Customer.objects.select_related("group").in_bulk(wanted)
    labels = _address_labels(
        customer_ids=wanted, keys={g.key for g in groups if g.reason == ADDRESS}
    )
    for group in groups:
        group.customers = [by_id[pk] for pk in group.ids if pk in by_id]
        if group.reason == EMAIL:
            group.label = min((c.email for c in group.customers), default=group.key)
        elif group.reason == ADDRESS:
            group.label = labels.get(group.key, group.key)
        else:
            group.label = group.key
    return groups


def _address_labels(*, customer_ids: set[int], keys: set[str]) -> dict[str, str]:
    if not keys:
        return {}
    rows = (
        keyed_addresses()
        .filter(customer_id__in=customer_ids, match_key__in=keys)
        .values_list("match_key", "address1", "postal_code", "city", "country_code")
    )
    labels: dict[str, str] = {}
    for key, line1, postal_code, city, country in rows:
        label = f"{line1}, {postal_code} {city}, {country}"
        labels[key] = min(labels.get(key, label), label)
    return labels


def customers_with_possible_duplicates(queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    """Filter a customer queryset to listed customers who share a key with another one.

    The shared keys come from their partial index, their holders from the holders' unique
    index: the cost follows the number of duplicates, not of customers.
    """
    holders = DuplicateKey.objects.filter(group__in=shared_groups().values("pk"))
    return queryset.filter(pk__in=holders.values("customer_id"))
