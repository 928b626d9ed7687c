"""The duplicate keys: every listed customer's email, phone and postal address keys, in a table.

Derived data, like the order summary: "has possible duplicates" and the duplicates page group
this table (one GROUP BY over its unique index) instead of grouping a million customers and their
addresses on every page view. Every path that changes a customer's email, phone or addresses, or
whether the customer is listed (merge, unmerge, erasure, deletion), refreshes the customers it
touched with ``duplicate_keys_refresh``; ``rebuild_duplicate_keys`` recomputes everyone.

The keys are what the duplicate finder compares: the email trimmed and lower-cased, the phone in
E.164, the address's ``match_key`` (computed by the database). Merged and erased customers hold
no key, so a group is simply a key held by two customers or more.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Lower, Trim

from customers.db.bulk import IdIn, customers_with_ids, id_batches, insert_from_select
from customers.models import NOT_LIVE, Customer, DuplicateKey
from customers.selectors.duplicates import ADDRESS, EMAIL, PHONE, keyed_addresses

COLUMNS = ["customer", "kind", "key"]


def _key_selects(batch: list[int]):
    """The three INSERT ... SELECT sources of these customers' keys (values_list querysets)."""
    listed = customers_with_ids(batch).live().order_by()
    emails = listed.exclude(email="").annotate(kind=Value(EMAIL), key=Lower(Trim("email")))
    phones = listed.exclude(phone="").annotate(kind=Value(PHONE), key=F("phone"))
    addresses = (
        keyed_addresses()
        .filter(IdIn(F("customer_id"), batch))
        .exclude(customer__status__in=NOT_LIVE)
        .annotate(kind=Value(ADDRESS), key=F("match_key"))
        .order_by()
    )
    return (
        emails.values_list("pk", "kind", "key"),
        phones.values_list("pk", "kind", "key"),
        # One customer's two identical addresses are one key: DISTINCT, the unique index agrees.
        addresses.values_list("customer_id", "kind", "key").distinct(),
    )


def duplicate_keys_refresh(*, customer_ids: Iterable[int]) -> int:
    """Recompute the keys of these customers from their rows; return how many customers.

    Four statements per batch of ids whatever their number: one DELETE, three INSERT ... SELECT.
    Ids of customers that no longer exist (deleted) or are no longer listed only lose their keys.
    Run it in the transaction that changed the customers, after the change.
    """
    ids = sorted(set(customer_ids))
    for batch in id_batches(ids):
        DuplicateKey.objects.filter(IdIn(F("customer_id"), batch))._raw_delete(
            DuplicateKey.objects.db
        )
        for select in _key_selects(batch):
            insert_from_select(DuplicateKey, COLUMNS, select)
    return len(ids)


@transaction.atomic
def rebuild_duplicate_keys(*, batch_size: int = 10_000) -> int:
    """Recompute every customer's keys, in batches of ids; return how many customers.

    One transaction: the duplicates page never reads a half-built table.
    """
    total = 0
    last = 0
    while True:
        ids = list(
            Customer.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return total
        total += duplicate_keys_refresh(customer_ids=ids)
        last = ids[-1]
