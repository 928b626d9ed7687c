"""Let the partial phone index serve the list sorted by phone on its own.

Sorting a million customers by phone at page 5,000 by number read the table and sorted it on
SQLite (299 ms of SQL; 43 ms with this index) and looked up each skipped row's status on
PostgreSQL. The index now also holds the list's tie-break (``-created_at``, ``-id``) and the
status its default filter reads. Still one index: the exact phone lookups read its first
column, as before.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("customers", "0020_tag_links_unconstrained")]

    operations = [
        migrations.RemoveIndex(model_name="customer", name="customer_phone_idx"),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=~models.Q(phone=""),
                fields=["phone", "-created_at", "-id", "status"],
                name="customer_phone_idx",
            ),
        ),
    ]
