"""Index only the customers a lookup can find: those with a phone, a Shopify id, a group, or a
status other than active.

A bulk "set a group" or "archive" on PostgreSQL rewrites every selected row and, since group_id
and status are indexed, none of those updates is HOT: each writes one entry in every index of
the table whose condition the new row meets. Most customers have no phone or no Shopify id
(a shop's own sign-ups, POS sales), are in no group, and are active. These four indexes served
only lookups of a value (the exact search, import and channel matching, the status filter's
rare values, the group filter, member counts, SET NULL on a group's deletion), never the empty
value, NULL or "active", so they now hold only the rows such a lookup can find.

On SQLite a partial index is read only when the query says its condition: "group_id = %s"
implies "group_id IS NOT NULL" for its planner, and "status = %s" is one of the status index's
OR-ed equalities, but "phone = %s" does not imply "phone <> ''", so selectors/search.py and
selectors/matching.py say it. AddIndex and RemoveIndex are plain CREATE / DROP INDEX. The
group's own index (db_index) is dropped by name, not by AlterField: on SQLite AlterField
rebuilds the table, which drops the search triggers of 0013.
"""

import django.db.models.deletion
from django.db import migrations, models

# Each index's column and condition. The status's rare values are OR-ed equalities, not
# "status <> 'active'": SQLite's planner then reads it for the status filter's "status = %s".
PARTIAL = {
    "customer_phone_idx": ("phone", ~models.Q(phone="")),
    "customer_status_idx": (
        "status",
        models.Q(status="archived") | models.Q(status="merged") | models.Q(status="redacted"),
    ),
    "customer_shopify_id_idx": ("shopify_id", ~models.Q(shopify_id="")),
}


def _group_indexes(schema_editor, table: str) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        found = schema_editor.connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in found.items()
        if info["index"]
        and not info["unique"]
        and not info["primary_key"]
        and info["columns"] == ["group_id"]
        and name != "customer_group_idx"
    ]


def drop_group_index(apps, schema_editor):
    model = apps.get_model("customers", "Customer")
    for name in _group_indexes(schema_editor, model._meta.db_table):
        schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create_group_index(apps, schema_editor):
    model = apps.get_model("customers", "Customer")
    field = model._meta.get_field("group")
    schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0015_drop_first_column_twins"),
        ("groups", "0001_initial"),
    ]

    operations = [
        *(migrations.RemoveIndex(model_name="customer", name=name) for name in PARTIAL),
        *(
            migrations.AddIndex(
                model_name="customer",
                index=models.Index(fields=[field], condition=condition, name=name),
            )
            for name, (field, condition) in PARTIAL.items()
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_group_index, create_group_index)],
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="group",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="customers",
                        to="groups.customergroup",
                        verbose_name="group",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                fields=["group"], condition=models.Q(group__isnull=False), name="customer_group_idx"
            ),
        ),
    ]
