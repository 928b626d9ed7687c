"""Serve a search for part of a phone's digits (``5557381``) from a trigram index on PostgreSQL.

The list's search read such a term as ``phone LIKE '%5557381%'`` on the customer table: a B-tree
cannot serve a substring, so PostgreSQL read the whole table (1.34 s at a million customers).
The search table beside the customers (0013) gets a ``phone`` column, kept by the same triggers,
under a partial trigram GIN index (the customers without a phone cost nothing). Beside the
customers, not on them, for 0013's reason: a bulk group or archive rewrites every row (never
HOT), which would write a dozen trigram entries per phone into a GIN on the customer table.
SQLite keeps reading its partial phone index.

The SQL is written here, not imported, so that this migration keeps meaning what it meant.
"""

from django.db import migrations

TABLE = "customers_customer"
SEARCH = "customers_customer_search"
INDEX = "customer_phone_trgm"
COLUMNS = ("first_name", "last_name", "email", "company", "username")
JOINED = " || ' ' || ".join(COLUMNS)
NEW_JOINED = " || ' ' || ".join(f"new.{column}" for column in COLUMNS)


def _update_trigger(columns: tuple[str, ...]) -> list[str]:
    changed = " OR ".join(f"old.{column} IS DISTINCT FROM new.{column}" for column in columns)
    return [
        f"DROP TRIGGER IF EXISTS {SEARCH}_au ON {TABLE}",
        f"CREATE TRIGGER {SEARCH}_au AFTER UPDATE OF {', '.join(columns)} ON {TABLE} "
        f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {SEARCH}_update()",
    ]


def _functions(phone: bool) -> list[str]:
    columns, values, inserted = ("text", f"LOWER({JOINED})", f"LOWER({NEW_JOINED})")
    if phone:
        columns, values, inserted = (
            f"{columns}, phone",
            f"{values}, phone",
            f"{inserted}, new.phone",
        )
    setting = f"(text, phone) = ({inserted})" if phone else f"text = {inserted}"
    return [
        f"""CREATE OR REPLACE FUNCTION {SEARCH}_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {SEARCH} (customer_id, {columns}) SELECT id, {values} FROM inserted;
            RETURN NULL;
        END $$""",
        f"""CREATE OR REPLACE FUNCTION {SEARCH}_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE {SEARCH} SET {setting} WHERE customer_id = new.id;
            RETURN NULL;
        END $$""",
    ]


FORWARD = [
    f"ALTER TABLE {SEARCH} ADD COLUMN phone text NOT NULL DEFAULT ''",
    f"UPDATE {SEARCH} s SET phone = c.phone FROM {TABLE} c "
    f"WHERE c.id = s.customer_id AND c.phone <> ''",
    f"CREATE INDEX {INDEX} ON {SEARCH} USING gin (phone gin_trgm_ops) WHERE phone <> ''",
    *_functions(phone=True),
    *_update_trigger((*COLUMNS, "phone")),
]
BACKWARD = [
    *_functions(phone=False),
    *_update_trigger(COLUMNS),
    f"DROP INDEX IF EXISTS {INDEX}",
    f"ALTER TABLE {SEARCH} DROP COLUMN phone",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0018_mass_updated_event")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
