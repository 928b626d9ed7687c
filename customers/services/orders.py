"""Recording orders from the sales channels: the customer's tags go onto the order."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction

from customers.audit.events import Actor, orders_recorded_events
from customers.db.locks import selection_lock
from customers.models import Order, TaggedCustomer, TaggedOrder
from customers.selectors.matching import customers_survivors
from customers.services.order_summary import order_summaries_refresh

BATCH_SIZE = 2000


# A merge running between reading a chain and locking its end moves the end: read again.
LOCK_ATTEMPTS = 5


def _lock_survivors(orders: list[Order]) -> set[int]:
    """Point each order at the live end of its customer's merge chain; lock those customers.

    The chains are read without locks, then every customer the orders will belong to is locked
    in one pass in primary-key order (so this cannot deadlock with a bulk action). If a merge
    moved one of them meanwhile, the chains are read again.
    """
    for _attempt in range(LOCK_ATTEMPTS):
        ids = {order.customer_id for order in orders if order.customer_id}
        survivors = customers_survivors(ids=ids)
        for order in orders:
            if order.customer_id in survivors:
                order.customer_id = survivors[order.customer_id].pk
        ids = {order.customer_id for order in orders if order.customer_id}
        # PostgreSQL checks foreign keys at commit (Django makes them deferred), so the insert
        # alone does not hold the customer: lock it, and a concurrent guarded delete sees these
        # orders.
        selection_lock(ids)
        if not customers_survivors(ids=ids):
            return ids
    return ids


@transaction.atomic
def orders_record(*, actor: Actor, orders: list[Order]) -> int:
    """Insert channel orders and copy each customer's current tags onto its order.

    The order's shipping address is a snapshot: it never changes the customer's addresses. An
    order for a customer that was merged goes to the customer it was merged into. Costs one
    read of the merged customers, one insert per batch of orders, one read of the customers'
    tags, one insert of links and one of ORDER_RECORDED events (one per order with a customer).
    """
    customer_ids = _lock_survivors(orders)
    created = Order.objects.bulk_create(orders, batch_size=BATCH_SIZE)
    order_summaries_refresh(customer_ids=customer_ids)
    tags_by_customer: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(customer_ids), BATCH_SIZE):
        chunk = list(customer_ids)[start : start + BATCH_SIZE]
        for customer_id, tag_id in TaggedCustomer.objects.filter(
            content_object_id__in=chunk
        ).values_list("content_object_id", "tag_id"):
            tags_by_customer[customer_id].append(tag_id)
    links = [
        TaggedOrder(content_object_id=order.pk, tag_id=tag_id)
        for order in created
        for tag_id in tags_by_customer.get(order.customer_id, ())
    ]
    TaggedOrder.objects.bulk_create(links, batch_size=BATCH_SIZE, ignore_conflicts=True)
    orders_recorded_events(actor=actor, orders=created)
    return len(created)
