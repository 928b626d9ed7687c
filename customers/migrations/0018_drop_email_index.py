"""Drop the plain index on email: every exact-email lookup reads the unique one on lower(email).

The unique index (lower(email) where email <> '' and status <> 'merged') holds every customer an
exact-email lookup finds except the merged ones, which the partial status index holds; the
lookups say both conditions (customers.models.emails_condition) so that SQLite's planner reads
them. A bulk UPDATE on PostgreSQL that is not HOT (set a group, archive, the mass update) and the
import's inserts then write one index entry less per customer. RemoveIndex is a plain DROP
INDEX (its reverse a CREATE INDEX): neither rebuilds the table on SQLite, so the search triggers of 0013 stay.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("customers", "0017_lighter_events")]

    operations = [
        migrations.RemoveIndex(model_name="customer", name="customer_email_idx"),
    ]
