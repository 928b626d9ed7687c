"""Reads shared by several entry paths: finding the existing customer a record means."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from django.conf import settings
from django.db import connection
from django.db.models import Model, Q, QuerySet
from django.db.models.base import ModelState

from customers.db.locks import locked
from customers.models import Customer, Status

EMAIL_THEN_PHONE = "email_then_phone"
PHONE_THEN_EMAIL = "phone_then_email"
EMAIL_ONLY = "email_only"
PHONE_ONLY = "phone_only"
MATCHING_STRATEGIES = (EMAIL_THEN_PHONE, PHONE_THEN_EMAIL, EMAIL_ONLY, PHONE_ONLY)
MAX_MERGE_CHAIN = 50
MATCH_FIELDS = ("email", "phone", "status", "merged_into", "source")


def matching_strategy() -> str:
    """Return the store's matching setting, refusing an unknown value loudly."""
    value = settings.BACKOFFICE_CUSTOMER_MATCHING
    if value not in MATCHING_STRATEGIES:
        raise ValueError(
            f"BACKOFFICE_CUSTOMER_MATCHING={value!r}: use one of {MATCHING_STRATEGIES}"
        )
    return value


def customer_match_key(*, email: str, phone: str, strategy: str) -> tuple[str, str] | None:
    """Return the key ("email"|"phone", value) a record is matched on, or None if it has none.

    ``email`` is already lower-cased and ``phone`` in E.164 (or empty).
    """
    if strategy == EMAIL_THEN_PHONE:
        order = (("email", email), ("phone", phone))
    elif strategy == PHONE_THEN_EMAIL:
        order = (("phone", phone), ("email", email))
    elif strategy == EMAIL_ONLY:
        order = (("email", email),)
    else:
        order = (("phone", phone),)
    for kind, value in order:
        if value:
            return kind, value
    return None


def _rank(customer: Customer) -> tuple[int, int]:
    # A live customer wins over a merged one sharing its key; then the oldest record.
    return (1 if customer.status == Status.MERGED else 0, customer.pk)


def customers_find_by_keys(
    *,
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    lock: bool = False,
    only: Sequence[str] | None = None,
) -> tuple[dict[str, Customer], dict[str, Customer]]:
    """Find the customers that lower-cased emails and E.164 phones designate.

    Returns ``(by_email, by_phone)``. A key held by a merged customer resolves to the customer it
    was merged into (following chains); redacted customers never match. Archived customers are
    returned as they are: the caller decides what a match on one means. Costs one query, plus one
    per level of merge chain met. With ``lock``, the rows are locked in primary-key order;
    ``only`` limits the columns loaded (the matching ones are always loaded).
    """
    emails, phones = set(emails), set(phones)
    if not emails and not phones:
        return {}, {}
    condition = Q()
    if emails:
        condition |= Q(email__in=emails)
    if phones:
        # "phone <> ''" lets SQLite read the partial phone index (migration 0016).
        condition |= Q(phone__in=phones) & ~Q(phone="")
    qs = Customer.objects.filter(condition).exclude(status=Status.REDACTED).order_by("pk")
    found = _read(locked(qs) if lock else qs, only)
    by_email: dict[str, Customer] = {}
    by_phone: dict[str, Customer] = {}
    for customer in sorted(found, key=_rank):
        if customer.email in emails:
            by_email.setdefault(customer.email, customer)
        if customer.phone in phones:
            by_phone.setdefault(customer.phone, customer)
    survivors = _resolve_merged(
        [c for c in (*by_email.values(), *by_phone.values()) if c.status == Status.MERGED],
        lock,
        only,
    )
    for mapping in (by_email, by_phone):
        for key, customer in list(mapping.items()):
            if customer.status == Status.MERGED:
                survivor = survivors.get(customer.pk)
                if survivor is None:
                    del mapping[key]
                else:
                    mapping[key] = survivor
    return by_email, by_phone


def _read(qs: QuerySet[Customer], only: Sequence[str] | None) -> list[Customer]:
    """The customers of ``qs``; with ``only``, just those fields and the matching ones loaded.

    Read as value rows, not through ``only()``: building instances field by field in
    Model.from_db cost about 40% of planning an import of a file already stored.
    """
    if only is None:
        return list(qs)
    names = dict.fromkeys(("id", *MATCH_FIELDS, *only))
    columns = tuple(Customer._meta.get_field(name).attname for name in names)
    return list(instances_from_rows(Customer, columns, qs.values_list(*columns)))


def instances_from_rows(model: type[Model], columns: tuple[str, ...], rows) -> Iterator[Model]:
    """Instances of ``model`` from values_list rows of ``columns`` (attnames, pk among them).

    What ``only()`` returns, built as Model.from_db does but without its per-field work: the
    other fields are deferred and load on access.
    """
    db = connection.alias
    for row in rows:
        instance = model.__new__(model)
        instance.__dict__.update(zip(columns, row, strict=True))
        instance._state = ModelState()
        instance._state.adding = False
        instance._state.db = db
        yield instance


def customers_survivors(*, ids: Iterable[int], lock: bool = False) -> dict[int, Customer]:
    """Map each merged customer among ``ids`` to the live customer its merge chain ends at.

    Ids of customers that are not merged are left out, as are chains that end at a redacted
    customer or nowhere. Costs one query, plus one per level of merge chain met; with ``lock``,
    the survivors' rows are locked.
    """
    merged = list(
        Customer.objects.filter(pk__in=set(ids), status=Status.MERGED)
        .order_by("pk")
        .only(*MATCH_FIELDS)
    )
    return _resolve_merged(merged, lock, None) if merged else {}


def customer_survivor(customer: Customer) -> Customer:
    """Return the record a merged customer's chain ends at (itself if it is not merged).

    The end may be an erased record; a broken or cyclic chain returns the customer itself.
    """
    if customer.status != Status.MERGED:
        return customer
    return _resolve_merged([customer], False, None, keep_redacted=True).get(customer.pk, customer)


def _resolve_merged(
    merged: list[Customer], lock: bool, only: Sequence[str] | None, keep_redacted: bool = False
) -> dict[int, Customer]:
    """Map each merged customer's id to the customer at the end of its merge chain.

    One ``IN`` query per level of chain for the whole batch, at most ``MAX_MERGE_CHAIN``; chains
    ending at an erased record are left out unless ``keep_redacted``.
    """
    result: dict[int, Customer] = {}
    pending = {c.pk: c.merged_into_id for c in merged}  # origin id -> next id to look at
    loaded: dict[int, Customer] = {}
    for _depth in range(MAX_MERGE_CHAIN):
        if not pending:
            break
        wanted = set(pending.values()) - loaded.keys()
        if wanted:
            qs = Customer.objects.filter(pk__in=wanted).order_by("pk")
            loaded.update((c.pk, c) for c in _read(locked(qs) if lock else qs, only))
        next_pending = {}
        for origin, target_id in pending.items():
            target = loaded.get(target_id)
            if target is None:
                continue  # a vanished row: the key is unmatched
            if target.status == Status.MERGED:
                next_pending[origin] = target.merged_into_id
            elif keep_redacted or target.status != Status.REDACTED:
                result[origin] = target
        pending = next_pending
    # Whatever is still pending sits in a cycle: it matches nothing.
    return result


def customers_merged_family(*, ids: Sequence[int], lock: bool = False) -> dict[int, int]:
    """Every record merged into these customers, directly or through a chain: id -> parent.

    One query per level of the chain (W into Z, Z into X: two levels under X); ``lock`` takes
    the rows (in primary-key order) as it reads them.
    """
    parents: dict[int, int] = {}
    roots = set(ids)
    level = list(ids)
    while level:
        rows = Customer.objects.filter(merged_into_id__in=level)
        rows = dict((locked(rows) if lock else rows).values_list("pk", "merged_into_id"))
        level = [pk for pk in rows if pk not in parents and pk not in roots]
        parents.update({pk: rows[pk] for pk in level})
    return parents
