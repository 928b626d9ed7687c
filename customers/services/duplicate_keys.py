"""The duplicate keys: which listed customer holds which email, phone and address key, counted.

Derived data, like the order summary. ``DuplicateKeyGroup`` holds each key once with the number
of customers holding it (``size``), ``DuplicateKey`` links a customer to each of its keys.
"Has possible duplicates" and the duplicates page read the groups of size two or more from a
partial index, instead of grouping a million customers and their addresses on every page view.
Every path that changes a customer's email, phone or addresses, or whether the customer is
listed (merge, unmerge, erasure), refreshes the customers it touched with
``duplicate_keys_refresh``; deletion calls ``duplicate_keys_forget``; ``rebuild_duplicate_keys``
recomputes everyone.

The keys are what the duplicate finder compares: the email trimmed and lower-cased, the phone in
E.164, the address's ``match_key`` (computed by the database). Merged and erased customers hold
no key, so a group is simply a key held by two customers or more.

On PostgreSQL the refreshes of concurrent transactions take turns (a transaction-level advisory
lock): the counts are then never computed from a state another transaction is changing, and
two imports sharing keys cannot deadlock on the group rows. SQLite serialises writers anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Lower, Trim

from customers.db.bulk import (
    IdIn,
    customers_with_ids,
    id_batches,
    insert_from_select,
    insert_from_select_returning,
)
from customers.models import NOT_LIVE, Customer, DuplicateKey, DuplicateKeyGroup
from customers.selectors.duplicates import ADDRESS, EMAIL, PHONE, keyed_addresses

# Any constant shared by every caller: pg_advisory_xact_lock takes a bigint.
ADVISORY_LOCK_ID = 0x6475706B657973  # "dupkeys"


def _keys_take_turns() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_ID])


def _key_sources(batch: list[int] | None) -> list[tuple[str, object]]:
    """Per kind, a queryset of the batch's keys (every customer's for None): ``owner`` (the
    customer id) and ``key``."""
    customers = Customer.objects.all() if batch is None else customers_with_ids(batch)
    listed = customers.live().order_by().annotate(owner=F("pk"))
    addresses = keyed_addresses()
    if batch is not None:
        addresses = addresses.filter(IdIn(F("customer_id"), batch))
    addresses = (
        addresses.exclude(customer__status__in=NOT_LIVE)
        .order_by()
        .annotate(owner=F("customer_id"), key=F("match_key"))
    )
    return [
        (EMAIL, listed.exclude(email="").annotate(key=Lower(Trim("email")))),
        (PHONE, listed.exclude(phone="").annotate(key=F("phone"))),
        (ADDRESS, addresses),
    ]


def _keys_insert(batch: list[int] | None) -> list[int]:
    """Give the batch's customers their keys: the groups first (if new), then the holders.

    Return the groups created here. A new group is written with its size (the batch's customers
    holding the key are all its holders), so only groups that existed need counting again: an
    import of new customers, whose keys are nearly all new, counts nothing and rewrites no group
    row (on PostgreSQL a size change is never HOT: a partial index reads ``size``).
    """
    created: list[int] = []
    for kind, source in _key_sources(batch):
        groups = (
            source.order_by()
            .values("key")
            .annotate(kind=Value(kind), size=Count("owner", distinct=True))
            .values_list("kind", "key", "size")
        )
        created.extend(
            pk
            for (pk,) in insert_from_select_returning(
                DuplicateKeyGroup,
                ["kind", "key", "size"],
                groups,
                returning=["id"],
                ignore_conflicts=True,
            )
        )
        group = DuplicateKeyGroup.objects.filter(kind=kind, key=OuterRef("key")).values("pk")
        # DISTINCT: one customer's two identical addresses are one key.
        holders = source.annotate(key_group=Subquery(group[:1])).values_list("owner", "key_group")
        insert_from_select(DuplicateKey, ["customer", "group"], holders.distinct())
    return created


def _holders_in(batch: list[int]):
    return DuplicateKey.objects.filter(IdIn(F("customer_id"), batch))


def _sizes_count(group_ids: Iterable[int]) -> None:
    """Count these groups' holders again (the holders' unique index starts with the group)."""
    holders = (
        DuplicateKey.objects.filter(group_id=OuterRef("pk"))
        .order_by()
        .values("group_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    size = Coalesce(Subquery(holders), Value(0))
    for ids in id_batches(sorted(set(group_ids))):
        DuplicateKeyGroup.objects.filter(IdIn(F("pk"), ids)).update(size=size)


def _forget(batch: list[int]) -> list[int]:
    """Take the batch's keys away; return the groups they were in (their sizes not yet counted)."""
    old = list(_holders_in(batch).values_list("group_id", flat=True).distinct())
    _holders_in(batch)._raw_delete(DuplicateKey.objects.db)
    return old


def _empty_groups_delete(group_ids: list[int]) -> None:
    # A key no one holds any more is personal data of no one: it goes (erasure relies on it).
    for ids in id_batches(group_ids):
        DuplicateKeyGroup.objects.filter(IdIn(F("pk"), ids), size=0)._raw_delete(
            DuplicateKeyGroup.objects.db
        )


def duplicate_keys_refresh(*, customer_ids: Iterable[int]) -> int:
    """Recompute the keys of these customers from their rows; return how many customers.

    A fixed number of statements per batch of ids whatever their number. Ids of customers that
    are no longer listed only lose their keys. Run it in the transaction that changed the
    customers, after the change.
    """
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    _keys_take_turns()
    for batch in id_batches(ids):
        old = _forget(batch)
        created = set(_keys_insert(batch))
        new = _holders_in(batch).values_list("group_id", flat=True).distinct()
        _sizes_count({*old, *new} - created)
        _empty_groups_delete(old)
    return len(ids)


def _keys_union(batch: list[int]) -> tuple[str, list]:
    """One SELECT of the batch's keys of every kind: ``kind``, ``owner``, ``key``."""
    parts, params = [], []
    for kind, source in _key_sources(batch):
        sql, source_params = source.values_list("owner", "key").order_by().query.sql_with_params()
        parts.append(f'SELECT %s AS kind, k."owner" AS owner, k."key" AS key FROM ({sql}) k')
        params += [kind, *source_params]
    return " UNION ALL ".join(parts), params


def duplicate_keys_add(*, customer_ids: Iterable[int]) -> int:
    """Give keys to customers that hold none yet (just created); return how many customers.

    Two statements per batch of ids for every kind at once: each key's group is inserted with
    its size, or its size raised by the batch's holders if it exists (an upsert: nothing to
    forget, nothing to count again), then the holders are inserted joined to their groups.
    Leaves the same rows as :func:`duplicate_keys_refresh`; run it in the transaction that
    created the customers, after their addresses.
    """
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    _keys_take_turns()
    quote = connection.ops.quote_name
    groups = quote(DuplicateKeyGroup._meta.db_table)
    holders = quote(DuplicateKey._meta.db_table)
    # WHERE true: SQLite's parser needs it to tell the upsert's ON from a join's.
    upsert = (
        f"INSERT INTO {groups} (kind, {quote('key')}, size) "
        f"SELECT kind, key, COUNT(DISTINCT owner) FROM s WHERE true GROUP BY kind, key "
        f"ON CONFLICT (kind, {quote('key')}) DO UPDATE SET size = {groups}.size + EXCLUDED.size"
    )
    # DISTINCT: one customer's two identical addresses are one key.
    holders_insert = f"INSERT INTO {holders} (customer_id, group_id) SELECT DISTINCT s.owner, g.id "
    with connection.cursor() as cursor:
        for batch in id_batches(ids):
            keys, params = _keys_union(batch)
            cursor.execute(f"WITH s AS ({keys}) {upsert}", params)
            cursor.execute(
                f"WITH s AS ({keys}) {holders_insert}FROM s "
                f"JOIN {groups} g ON g.kind = s.kind AND g.{quote('key')} = s.key",
                params,
            )
    return len(ids)


def duplicate_keys_forget(*, customer_ids: Iterable[int]) -> int:
    """Take these customers' keys away (before they are deleted); return how many customers."""
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    _keys_take_turns()
    for batch in id_batches(ids):
        old = _forget(batch)
        _sizes_count(old)
        _empty_groups_delete(old)
    return len(ids)


@transaction.atomic
def rebuild_duplicate_keys() -> int:
    """Recompute every customer's keys from scratch; return how many customers.

    One transaction: the duplicates page never reads a half-built table.
    """
    _keys_take_turns()
    DuplicateKey.objects.all()._raw_delete(DuplicateKey.objects.db)
    DuplicateKeyGroup.objects.all()._raw_delete(DuplicateKeyGroup.objects.db)
    # Whole-table statements: per batch, counting the sizes again cost minutes at 200,000.
    # Every group is new in an empty table: each is written with its size.
    _keys_insert(None)
    return Customer.objects.count()
