from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, Q, Sum

CENT = Decimal("0.01")


def counted_fill(apps, schema_editor):
    """Count the orders each total holds and their average (as order_summaries_refresh does)."""
    Customer = apps.get_model("customers", "Customer")
    Order = apps.get_model("customers", "Order")
    currency = settings.BACKOFFICE_STORE_CURRENCY
    counted = defaultdict(lambda: [0, Decimal("0")])
    rows = (
        Order.objects.filter(customer__isnull=False)
        .filter(Q(currency=currency) | Q(exchange_rate__isnull=False))
        .order_by()
        .values("customer_id", "currency", "exchange_rate")
        .annotate(n=Count("pk"), spent=Sum("total"))
    )
    for row in rows.iterator(chunk_size=5000):
        rate = Decimal("1") if row["currency"] == currency else row["exchange_rate"]
        item = counted[row["customer_id"]]
        item[0] += row["n"]
        item[1] += Decimal(row["spent"]) * rate
    Customer.objects.bulk_update(
        [
            Customer(
                pk=pk,
                counted_order_count=n,
                average_order_value=(spent / n).quantize(CENT, rounding=ROUND_HALF_UP),
            )
            for pk, (n, spent) in counted.items()
        ],
        ["counted_order_count", "average_order_value"],
        batch_size=500,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0006_channels"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="counted_order_count",
            field=models.PositiveIntegerField(default=0, verbose_name="orders in the total"),
        ),
        migrations.AddField(
            model_name="customer",
            name="average_order_value",
            field=models.DecimalField(
                blank=True,
                db_index=True,
                decimal_places=2,
                max_digits=14,
                null=True,
                verbose_name="average order",
            ),
        ),
        migrations.RunPython(counted_fill, migrations.RunPython.noop),
    ]
