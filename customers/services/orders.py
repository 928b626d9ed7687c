"""Recording orders from the sales channels: the customer's tags go onto the order."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction

from customers.db.locks import selection_lock
from customers.models import Order, TaggedCustomer, TaggedOrder
from customers.selectors.matching import customers_survivors

BATCH_SIZE = 2000


@transaction.atomic
def orders_record(*, actor, orders: list[Order]) -> int:
    """Insert channel orders and copy each customer's current tags onto its order.

    The order's shipping address is a snapshot: it never changes the customer's addresses. An
    order for a customer that was merged goes to the customer it was merged into. Costs one
    read of the merged customers, one insert per batch of orders, one read of the customers'
    tags and one insert of links.
    """
    customer_ids = {order.customer_id for order in orders if order.customer_id}
    survivors = customers_survivors(ids=customer_ids, lock=True)
    if survivors:
        for order in orders:
            if order.customer_id in survivors:
                order.customer_id = survivors[order.customer_id].pk
        customer_ids = {order.customer_id for order in orders if order.customer_id}
    # PostgreSQL checks foreign keys at commit (Django makes them deferred), so the insert alone
    # does not hold the customer: lock it, and a concurrent guarded delete sees these orders.
    selection_lock(customer_ids)
    created = Order.objects.bulk_create(orders, batch_size=BATCH_SIZE)
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
    return len(created)
