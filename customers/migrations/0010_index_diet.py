"""The index diet: every UPDATE that is not HOT writes an entry in every index of the table.

Kept on customers_customer, each for a query (pk and the constraints aside):
- email, phone: exact search, import and channel matching, the phone column's sort (the
  ``varchar_pattern_ops`` twins ``db_index=True`` made on PostgreSQL are dropped: no query
  searches them with a LIKE prefix; partial search is ``LIKE '%...%'``);
- status: the status filter's rare values (its LIKE twin dropped);
- created_at (default order), order_count, total_spent, last_order_at (sorts and filters),
  group (the group filter, member counts, SET NULL), customer_email_odd_idx (duplicates);
- merged_into, erasure_requested_by: now partial (only where set), for the merge chains,
  PROTECT and SET NULL.
Dropped: customer_name_ci_idx, username and shopify_id (no query filters or sorts on them: name
and username search is ``LIKE '%...%'``). On the event table the single ``customer_ref`` index
(``event_customer_time`` starts with it) goes and the actor index becomes partial; on the tag
links the ``content_object`` index (``taggedcustomer_unique`` starts with it) goes.

On PostgreSQL customers_customer gets fillfactor 80 so that an update of unindexed columns
stays on its page (HOT). Existing pages keep no free room until the table is rewritten
(``VACUUM FULL customers_customer`` or pg_repack, in a maintenance window).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CUSTOMER_TABLE = "customers_customer"
FILLFACTOR = 80
# Indexes kept, renamed from the name ``db_index=True`` gave them (no rebuild on PostgreSQL).
RENAMED = {
    "email": "customer_email_idx",
    "phone": "customer_phone_idx",
    "status": "customer_status_idx",
}


def _old_name(schema_editor, column: str) -> str:
    return schema_editor._create_index_name(CUSTOMER_TABLE, [column], suffix="")


def _rename_forward(apps, schema_editor):
    quote = schema_editor.quote_name
    for column, new in RENAMED.items():
        old = _old_name(schema_editor, column)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX IF EXISTS {quote(old + '_like')}")
            schema_editor.execute(f"ALTER INDEX IF EXISTS {quote(old)} RENAME TO {quote(new)}")
        else:
            schema_editor.execute(f"DROP INDEX IF EXISTS {quote(old)}")
            schema_editor.execute(
                f"CREATE INDEX {quote(new)} ON {quote(CUSTOMER_TABLE)} ({quote(column)})"
            )


def _rename_backward(apps, schema_editor):
    quote = schema_editor.quote_name
    table = quote(CUSTOMER_TABLE)
    for column, new in RENAMED.items():
        old = _old_name(schema_editor, column)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER INDEX IF EXISTS {quote(new)} RENAME TO {quote(old)}")
            schema_editor.execute(
                f"CREATE INDEX {quote(old + '_like')} ON {table} "
                f"({quote(column)} varchar_pattern_ops)"
            )
        else:
            schema_editor.execute(f"DROP INDEX IF EXISTS {quote(new)}")
            schema_editor.execute(f"CREATE INDEX {quote(old)} ON {table} ({quote(column)})")


def _fillfactor_set(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {CUSTOMER_TABLE} SET (fillfactor = {FILLFACTOR})")


def _fillfactor_reset(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {CUSTOMER_TABLE} RESET (fillfactor)")


STATUS_CHOICES = [
    ("active", "Active"),
    ("archived", "Archived"),
    ("merged", "Merged"),
    ("redacted", "Redacted"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0009_duplicate_keys"),
        ("groups", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="email",
                    field=models.EmailField(blank=True, max_length=254, verbose_name="email"),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="phone",
                    field=models.CharField(
                        blank=True,
                        help_text="Stored in E.164.",
                        max_length=20,
                        verbose_name="phone",
                    ),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="status",
                    field=models.CharField(
                        choices=STATUS_CHOICES,
                        default="active",
                        max_length=20,
                        verbose_name="status",
                    ),
                ),
                migrations.AddIndex(
                    model_name="customer",
                    index=models.Index(fields=["email"], name="customer_email_idx"),
                ),
                migrations.AddIndex(
                    model_name="customer",
                    index=models.Index(fields=["phone"], name="customer_phone_idx"),
                ),
                migrations.AddIndex(
                    model_name="customer",
                    index=models.Index(fields=["status"], name="customer_status_idx"),
                ),
            ],
            database_operations=[migrations.RunPython(_rename_forward, _rename_backward)],
        ),
        migrations.RemoveIndex(model_name="customer", name="customer_name_ci_idx"),
        migrations.AlterField(
            model_name="customer",
            name="username",
            field=models.CharField(
                blank=True,
                help_text="The sales channel's own customer id (ShipStation's Username).",
                max_length=150,
                verbose_name="username",
            ),
        ),
        migrations.AlterField(
            model_name="customer",
            name="shopify_id",
            field=models.CharField(blank=True, max_length=64, verbose_name="Shopify customer ID"),
        ),
        migrations.AlterField(
            model_name="customer",
            name="erasure_requested_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="erasure requested by",
            ),
        ),
        migrations.AlterField(
            model_name="customer",
            name="merged_into",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="absorbed",
                to="customers.customer",
                verbose_name="merged into",
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("merged_into__isnull", False)),
                fields=["merged_into"],
                name="customer_merged_into_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("erasure_requested_by__isnull", False)),
                fields=["erasure_requested_by"],
                name="customer_erasure_by_idx",
            ),
        ),
        migrations.AlterField(
            model_name="customerevent",
            name="customer_ref",
            field=models.BigIntegerField(verbose_name="customer id"),
        ),
        migrations.AlterField(
            model_name="customerevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="staff user",
            ),
        ),
        migrations.AddIndex(
            model_name="customerevent",
            index=models.Index(
                condition=models.Q(("actor__isnull", False)),
                fields=["actor"],
                name="event_actor_idx",
            ),
        ),
        migrations.AlterField(
            model_name="taggedcustomer",
            name="content_object",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tag_links",
                to="customers.customer",
            ),
        ),
        migrations.RunPython(_fillfactor_set, _fillfactor_reset, elidable=False),
    ]
