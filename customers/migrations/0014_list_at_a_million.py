# The customer list at a million rows: a page far down by number skips entries of one index
# (created_at, id, status) instead of rows, and "sort by orders" walks (order_count, created_at,
# id, status) instead of sorting every customer with the most orders, its deep pages included. AddIndex only: altering a field
# would make SQLite rebuild the table and drop the search triggers.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0013_cheaper_search_upkeep"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["created_at", "id", "status"], name="customer_listed_idx"),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                fields=["order_count", "created_at", "id", "status"],
                name="customer_orders_listed_idx",
            ),
        ),
    ]
