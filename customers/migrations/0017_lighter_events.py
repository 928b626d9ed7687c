"""A lighter audit row: each event written no longer pays two foreign-key checks at commit and
two btree entries.

A bulk action on 100,000 customers writes 100,000 events. Each wrote the row plus the pk,
``customer_id``, ``created_at`` and ``(customer_ref, -created_at)`` index entries, and one
deferred check per row for the customer and, for staff, the actor. Every read of a customer's
trail goes through ``customer_ref``; the ``customer`` link only serves the admin's link and
the bulk delete's nulling, which now finds the events through ``customer_ref``. The actor's
check guarded an append-only table whose staff users are deleted through Django (SET_NULL by
the partial ``event_actor_idx``). ``created_at`` served the audit log's date filter: on
PostgreSQL it is now a BRIN index (events come in time order; a few pages, nearly free per
insert), on SQLite still a btree (``TimeOrderedIndex``). On SQLite each AlterField rebuilds
the events table, which has no triggers.
"""

import customers.models
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0016_partial_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="customerevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="staff user",
            ),
        ),
        migrations.AlterField(
            model_name="customerevent",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="when"),
        ),
        migrations.AlterField(
            model_name="customerevent",
            name="customer",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="events",
                to="customers.customer",
                verbose_name="customer",
            ),
        ),
        migrations.AddIndex(
            model_name="customerevent",
            index=customers.models.TimeOrderedIndex(
                fields=["created_at"], name="event_created_idx"
            ),
        ),
    ]
