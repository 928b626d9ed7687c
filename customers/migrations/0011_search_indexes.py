"""Indexes for the list's search by words (customers/selectors/search.py explains the choice).

PostgreSQL: pg_trgm and a GIN index on the searched fields, lower-cased and joined by spaces
(exactly the SQL ``SearchText`` compiles to, so the planner matches them). SQLite: an FTS5 table
with the trigram tokenizer over the same fields, reading its text from the customer table
(external content), kept in sync by three triggers. The SQL is written here, not imported, so
that this migration keeps meaning what it meant when the app code moves on.
"""

from django.db import migrations

SEARCHED = "first_name, last_name, email, company, username"
NEW = "new.first_name, new.last_name, new.email, new.company, new.username"
OLD = "old.first_name, old.last_name, old.email, old.company, old.username"
FTS = "customers_customer_search"

SQLITE_CREATE = [
    f"CREATE VIRTUAL TABLE {FTS} USING fts5({SEARCHED}, content='customers_customer', "
    "content_rowid='id', tokenize='trigram')",
    f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')",
    f"CREATE TRIGGER {FTS}_ai AFTER INSERT ON customers_customer BEGIN "
    f"INSERT INTO {FTS}(rowid, {SEARCHED}) VALUES (new.id, {NEW}); END",
    f"CREATE TRIGGER {FTS}_ad AFTER DELETE ON customers_customer BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, {SEARCHED}) VALUES ('delete', old.id, {OLD}); END",
    # Only when a searched field really changed: save() rewrites every column, and the bulk
    # services (tags, status, version) touch none of these.
    f"CREATE TRIGGER {FTS}_au AFTER UPDATE OF {SEARCHED} ON customers_customer "
    "WHEN old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name "
    "OR old.email IS NOT new.email OR old.company IS NOT new.company "
    "OR old.username IS NOT new.username BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, {SEARCHED}) VALUES ('delete', old.id, {OLD}); "
    f"INSERT INTO {FTS}(rowid, {SEARCHED}) VALUES (new.id, {NEW}); END",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {FTS}_au",
    f"DROP TRIGGER IF EXISTS {FTS}_ad",
    f"DROP TRIGGER IF EXISTS {FTS}_ai",
    f"DROP TABLE IF EXISTS {FTS}",
]
POSTGRESQL_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX customer_search_trgm ON customers_customer USING gin ((LOWER("
    "first_name || ' ' || last_name || ' ' || email || ' ' || company || ' ' || username"
    ")) gin_trgm_ops)",
]
# The extension stays: other databases objects may use it, and it holds no data.
POSTGRESQL_DROP = ["DROP INDEX IF EXISTS customer_search_trgm"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0010_index_diet"),
    ]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_CREATE, "postgresql": POSTGRESQL_CREATE}),
            _run({"sqlite": SQLITE_DROP, "postgresql": POSTGRESQL_DROP}),
        ),
    ]
