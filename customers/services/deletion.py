"""Guarded deletion: only customers with nothing to lose are deleted; the others are kept and
each reason is reported."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db import models, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from customers.audit.events import Actor, customers_deleted_events, customers_events_redact
from customers.db.bulk import (
    IdIn,
    Selection,
    customers_with_ids,
    id_batches,
    selection_queryset,
)
from customers.db.locks import selection_lock
from customers.models import (
    Address,
    Customer,
    CustomerEvent,
    CustomerMerge,
    DuplicateKey,
    Note,
    Order,
    Status,
    TaggedCustomer,
)
from customers.phones import phone_display
from customers.services.duplicate_keys import duplicate_keys_forget


class DeleteBlock(models.TextChoices):
    """Why a customer is kept. The first three are the business rule (``deletable()``); the
    last two protect the merge history (``merged_into`` is PROTECT)."""

    ORDERS = "orders", _("has order history")
    ERASURE = "erasure_requested", _("has a pending erasure request")
    SUBSCRIPTION = "subscription", _("has an active subscription")
    ABSORBED = "absorbed", _("other customers were merged into it")
    MERGED = "merged", _("was merged into another customer (kept for the merge history)")


@dataclass
class KeptCustomer:
    pk: int
    label: str
    reasons: list[str]


@dataclass
class DeletionPlan:
    """The selection split into the customers that can go and the ones kept, with reasons."""

    selected: int
    deletable: list[int] = field(default_factory=list)
    kept: list[KeptCustomer] = field(default_factory=list)

    @property
    def kept_by_reason(self) -> dict[str, int]:
        counts = Counter(reason for kept in self.kept for reason in kept.reasons)
        return {reason: counts[reason] for reason in DeleteBlock.values if counts[reason]}


@dataclass
class DeletionResult:
    selected: int
    deleted: int
    kept: list[KeptCustomer]

    @property
    def kept_by_reason(self) -> dict[str, int]:
        return DeletionPlan(selected=self.selected, kept=self.kept).kept_by_reason


_PLAN_FIELDS = (
    "pk",
    "first_name",
    "last_name",
    "email",
    "phone",
    "status",
    "erasure_requested_at",
    "has_active_subscription",
    "has_orders",
    "has_absorbed",
)


def _annotated(qs: QuerySet[Customer]) -> QuerySet:
    return (
        qs.annotate(
            has_orders=Exists(Order.objects.filter(customer=OuterRef("pk"))),
            # Customers merged into it, or a merge into it not undone (its record needs it).
            has_absorbed=Exists(Customer.objects.filter(merged_into=OuterRef("pk")))
            | Exists(CustomerMerge.objects.filter(survivor=OuterRef("pk"), undone_at=None)),
        )
        .order_by("pk")
        .values(*_PLAN_FIELDS)
    )


def _reasons(row: dict) -> list[str]:
    reasons = []
    if row["has_orders"]:
        reasons.append(DeleteBlock.ORDERS)
    if row["erasure_requested_at"] is not None:
        reasons.append(DeleteBlock.ERASURE)
    if row["has_active_subscription"]:
        reasons.append(DeleteBlock.SUBSCRIPTION)
    if row["has_absorbed"]:
        reasons.append(DeleteBlock.ABSORBED)
    if row["status"] == Status.MERGED:
        reasons.append(DeleteBlock.MERGED)
    return reasons


def _label(row: dict) -> str:
    name = " ".join(p for p in (row["first_name"], row["last_name"]) if p)
    contact = row["email"] or phone_display(row["phone"])
    if name and contact:
        return f"{name} <{contact}>"
    return name or contact or f"#{row['pk']}"


def _plan(rows, selected: int) -> DeletionPlan:
    plan = DeletionPlan(selected=selected)
    for row in rows:
        reasons = _reasons(row)
        if reasons:
            plan.kept.append(KeptCustomer(pk=row["pk"], label=_label(row), reasons=reasons))
        else:
            plan.deletable.append(row["pk"])
    return plan


def customers_deletion_plan(*, customers: Selection) -> DeletionPlan:
    """Read which selected customers can be deleted and why each other one is kept.

    One query whatever the selection (the reasons are EXISTS subqueries); this is what the
    confirmation page shows before anything happens.
    """
    rows = list(_annotated(selection_queryset(customers)))
    return _plan(rows, selected=len(rows))


@transaction.atomic
def customers_delete(*, actor: Actor, customers: Selection) -> DeletionResult:
    """Delete the selected customers that can be deleted; keep and report the others.

    Rows are locked first and the guard re-read under the lock, so an order recorded meanwhile
    keeps its customer. Deleting removes addresses, notes and tag links; the audit trail stays
    (events keep the customer's id) with its personal values scrubbed, and no order is ever
    deleted (PROTECT backs the guard).
    """
    ids = selection_lock(customers)
    rows: list[dict] = []
    for batch in id_batches(ids):
        rows.extend(_annotated(customers_with_ids(batch)))
    plan = _plan(rows, selected=len(ids))
    # The trail outlives the customer: what it said about the person goes now, in this
    # transaction, since erasure cannot reach a customer that no longer exists.
    customers_events_redact(customer_ids=plan.deletable)
    customers_deleted_events(actor=actor, customer_ids=plan.deletable)
    deleted = 0
    for batch in id_batches(plan.deletable):
        deleted += _delete_batch(batch)
    if deleted != len(plan.deletable):  # pragma: no cover - the rows are locked
        raise RuntimeError("customers changed during deletion; nothing was deleted")
    return DeletionResult(selected=len(ids), deleted=deleted, kept=plan.kept)


# What goes with a deleted customer, per relation to it (tests check every relation is here).
CASCADED = (
    (TaggedCustomer, "content_object_id"),
    (Address, "customer_id"),
    (Note, "customer_id"),
    (DuplicateKey, "customer_id"),
)
UNLINKED = ((CustomerEvent, "customer_id"),)  # the audit trail keeps the id in customer_ref


def _delete_batch(ids: list[int]) -> int:
    """Delete a batch of locked customers and what belongs to them, one statement per table.

    Django's collector would spend a query per related table per few hundred ids (about 200
    queries for 10,000 customers on SQLite); the relations are few and known, so each is one
    set-based statement. The guard is applied again in SQL (``deletable()``) by the same read
    every path uses; orders, merged records and live merges make a customer undeletable, so
    no PROTECT relation is left when the rows go (the database would refuse the commit).
    """
    ids = list(customers_with_ids(ids).deletable().values_list("pk", flat=True))
    if not ids:
        return 0
    duplicate_keys_forget(customer_ids=ids)
    for model, column in CASCADED:
        model.objects.filter(IdIn(F(column), ids))._raw_delete(model.objects.db)
    # Found through customer_ref: the link itself has no index (a lighter audit row).
    for model, column in UNLINKED:
        model.objects.filter(IdIn(F("customer_ref"), ids)).exclude(**{column: None}).update(
            **{column: None}
        )
    # A merge that was undone left its record on the survivor: it goes with the survivor.
    CustomerMerge.objects.filter(IdIn(F("survivor_id"), ids), undone_at__isnull=False).delete()
    return customers_with_ids(ids)._raw_delete(Customer.objects.db)
