"""Each customer's order summary: counts, total spent, average order value, last order.

The summary is derived data, kept on the customer row so that the list sorts and filters on
money at any size without aggregating orders per page view. Every path that gives a customer
orders or takes them away (recording, merge, unmerge) refreshes the customers it touched with
``order_summaries_refresh``; ``rebuild_order_summaries`` recomputes everyone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Avg,
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Round
from django.utils.formats import number_format

from customers.db.bulk import customers_with_ids, id_batches
from customers.models import Customer, Order

MONEY = DecimalField(max_digits=14, decimal_places=2)
CENT = Decimal("0.01")


def store_currency() -> str:
    return settings.BACKOFFICE_STORE_CURRENCY


def _counted() -> Q:
    """Orders that count in the store's currency: in it, or with a rate stored."""
    return Q(currency=store_currency()) | Q(exchange_rate__isnull=False)


def _per_customer(aggregate) -> Subquery:
    orders = Order.objects.filter(customer_id=OuterRef("pk")).order_by().values("customer_id")
    return Subquery(orders.annotate(value=aggregate).values("value")[:1])


def _converted() -> Case:
    """An order's total in the store's currency (meaningful for counted orders only)."""
    return Case(
        When(currency=store_currency(), then=F("total")),
        default=ExpressionWrapper(F("total") * F("exchange_rate"), output_field=MONEY),
        output_field=MONEY,
    )


def _spent_in_store_currency():
    # Rounded to the cent in the database: SQLite multiplies in floating point, and a stored
    # 110.00000000000001 would escape a "total spent at most 110" filter.
    return Round(Sum(_converted(), filter=_counted(), output_field=MONEY), 2, output_field=MONEY)


def _average_in_store_currency():
    """The mean of the counted orders, total_spent / counted_order_count, rounded to the cent.

    Rounded in the database so that a filter on it agrees with the figure the list shows.
    """
    return Round(Avg(_converted(), filter=_counted(), output_field=MONEY), 2, output_field=MONEY)


def order_summaries_refresh(*, customer_ids: Iterable[int]) -> int:
    """Recompute the summary of these customers from their orders; return how many.

    Two statements per batch of ids whatever their orders: one UPDATE with a subquery per
    column, one read of the unconverted amounts. The version is not bumped: the summary is
    no one's edit, so it never makes a change form's save a conflict.
    """
    ids = sorted(set(customer_ids))
    for batch in id_batches(ids):
        customers_with_ids(batch).update(
            order_count=Coalesce(_per_customer(Count("pk")), Value(0), output_field=IntegerField()),
            total_spent=Coalesce(
                _per_customer(_spent_in_store_currency()), Value(Decimal("0")), output_field=MONEY
            ),
            last_order_at=_per_customer(Max("placed_at")),
            counted_order_count=Coalesce(
                _per_customer(Count("pk", filter=_counted())), Value(0), output_field=IntegerField()
            ),
            average_order_value=_per_customer(_average_in_store_currency()),
            spent_unconverted=Value({}, output_field=Customer._meta.get_field("spent_unconverted")),
        )
        _unconverted_write(batch)
    return len(ids)


def _unconverted_write(batch: list[int]) -> None:
    rows = (
        Order.objects.filter(customer_id__in=batch)
        .exclude(_counted())
        .order_by()
        .values("customer_id", "currency")
        .annotate(amount=Sum("total"))
    )
    by_customer: dict[int, dict[str, str]] = defaultdict(dict)
    for row in rows:
        by_customer[row["customer_id"]][row["currency"]] = str(row["amount"].quantize(CENT))
    if by_customer:
        Customer.objects.bulk_update(
            [Customer(pk=pk, spent_unconverted=amounts) for pk, amounts in by_customer.items()],
            ["spent_unconverted"],
            batch_size=500,
        )


def rebuild_order_summaries(*, batch_size: int = 5000) -> int:
    """Recompute every customer's summary, in batches of ids; return how many."""
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
        total += order_summaries_refresh(customer_ids=ids)
        last = ids[-1]


def money_display(spent: Decimal, unconverted: dict[str, str]) -> str:
    """The summary's money as staff read it: "145.00 EUR + 25.00 GBP" (other currencies apart)."""
    parts = [f"{number_format(spent, decimal_pos=2, use_l10n=True)} {store_currency()}"]
    parts += [
        f"{number_format(Decimal(amount), decimal_pos=2, use_l10n=True)} {currency}"
        for currency, amount in sorted(unconverted.items())
    ]
    return " + ".join(parts)
