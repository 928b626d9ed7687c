# created_at and order_count lost their single-column indexes: customer_listed_idx (created_at,
# id, status) and customer_orders_listed_idx (order_count, created_at, id, status) from 0014
# begin with them and serve every range and sort the single ones served. Each index less is one
# entry less that every non-HOT UPDATE of a customer writes (set a group, archive).
#
# The indexes are dropped by name, not by AlterField: on SQLite AlterField rebuilds the table,
# which drops the search triggers of 0013.

import django.utils.timezone
from django.db import migrations, models

COLUMNS = ("created_at", "order_count")


def _single_column_indexes(schema_editor, table: str) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        found = schema_editor.connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in found.items()
        if info["index"]
        and not info["unique"]
        and not info["primary_key"]
        and len(info["columns"]) == 1
        and info["columns"][0] in COLUMNS
    ]


def drop(apps, schema_editor):
    model = apps.get_model("customers", "Customer")
    for name in _single_column_indexes(schema_editor, model._meta.db_table):
        schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create(apps, schema_editor):
    model = apps.get_model("customers", "Customer")
    for column in COLUMNS:
        field = model._meta.get_field(column)
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0014_list_at_a_million"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, create)],
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="created_at",
                    field=models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="created"
                    ),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="order_count",
                    field=models.PositiveIntegerField(default=0, verbose_name="orders"),
                ),
            ],
        ),
    ]
