"""Cheaper search upkeep: the search index moves beside the customer table on PostgreSQL too.

PostgreSQL: the trigram GIN index leaves customers_customer for a narrow table of its own,
``customers_customer_search`` (customer id, the searched fields lower-cased and joined by spaces),
kept by triggers: one statement-level insert per INSERT or COPY (a set-based copy of the new rows),
a row update only when a searched field really changed, one statement-level delete per DELETE,
and TRUNCATE. Why: an UPDATE that is not HOT writes an entry in every index of the table, and a
GIN trigram index takes some thirty per row. Bulk group, archive and version writes change
indexed columns (never HOT), so on 100,000 customers each wrote three million GIN entries; now
they write none.

SQLite: the FTS5 table is rebuilt with ``columnsize=0``: no per-row size record (a second B-tree
write on every insert, update and delete) that only bm25 ranking reads, which the search does not
use. Its triggers are those of 0011.

The SQL is written here, not imported, so that this migration keeps meaning what it meant when
the app code moves on.
"""

from django.db import migrations

TABLE = "customers_customer"
SEARCH = "customers_customer_search"
INDEX = "customer_search_trgm"
COLUMNS = ("first_name", "last_name", "email", "company", "username")
SEARCHED = ", ".join(COLUMNS)


def _joined(prefix: str) -> str:
    return " || ' ' || ".join(f"{prefix}{column}" for column in COLUMNS)


def _changed() -> str:
    return " OR ".join(f"old.{column} IS NOT new.{column}" for column in COLUMNS)


def _sqlite_fts(options: str) -> list[str]:
    new = ", ".join(f"new.{column}" for column in COLUMNS)
    old = ", ".join(f"old.{column}" for column in COLUMNS)
    return [
        f"DROP TRIGGER IF EXISTS {SEARCH}_au",
        f"DROP TRIGGER IF EXISTS {SEARCH}_ad",
        f"DROP TRIGGER IF EXISTS {SEARCH}_ai",
        f"DROP TABLE IF EXISTS {SEARCH}",
        f"CREATE VIRTUAL TABLE {SEARCH} USING fts5({SEARCHED}, content='{TABLE}', "
        f"content_rowid='id', tokenize='trigram'{options})",
        f"INSERT INTO {SEARCH}({SEARCH}) VALUES ('rebuild')",
        f"CREATE TRIGGER {SEARCH}_ai AFTER INSERT ON {TABLE} BEGIN "
        f"INSERT INTO {SEARCH}(rowid, {SEARCHED}) VALUES (new.id, {new}); END",
        f"CREATE TRIGGER {SEARCH}_ad AFTER DELETE ON {TABLE} BEGIN "
        f"INSERT INTO {SEARCH}({SEARCH}, rowid, {SEARCHED}) VALUES ('delete', old.id, {old}); END",
        # Only when a searched field really changed: save() rewrites every column, and the bulk
        # services (group, status, version) touch none of these.
        f"CREATE TRIGGER {SEARCH}_au AFTER UPDATE OF {SEARCHED} ON {TABLE} WHEN {_changed()} "
        f"BEGIN INSERT INTO {SEARCH}({SEARCH}, rowid, {SEARCHED}) VALUES "
        f"('delete', old.id, {old}); "
        f"INSERT INTO {SEARCH}(rowid, {SEARCHED}) VALUES (new.id, {new}); END",
    ]


SQLITE_FORWARD = _sqlite_fts(", columnsize=0")
SQLITE_BACKWARD = _sqlite_fts("")

PG_CHANGED = " OR ".join(f"old.{column} IS DISTINCT FROM new.{column}" for column in COLUMNS)
POSTGRESQL_FORWARD = [
    f"DROP INDEX IF EXISTS {INDEX}",
    f"CREATE TABLE {SEARCH} (customer_id bigint PRIMARY KEY, text text NOT NULL)",
    f"INSERT INTO {SEARCH} (customer_id, text) SELECT id, LOWER({_joined('')}) FROM {TABLE}",
    # Built once over the copied rows, then kept by the triggers (fastupdate, the default:
    # new entries go to the pending list and reach the tree in sorted batches).
    f"CREATE INDEX {INDEX} ON {SEARCH} USING gin (text gin_trgm_ops)",
    f"""CREATE FUNCTION {SEARCH}_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {SEARCH} (customer_id, text) SELECT id, LOWER({_joined('')}) FROM inserted;
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION {SEARCH}_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE {SEARCH} SET text = LOWER({_joined('new.')}) WHERE customer_id = new.id;
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION {SEARCH}_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM {SEARCH} WHERE customer_id IN (SELECT id FROM deleted);
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION {SEARCH}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE {SEARCH};
        RETURN NULL;
    END $$""",
    f"CREATE TRIGGER {SEARCH}_ai AFTER INSERT ON {TABLE} REFERENCING NEW TABLE AS inserted "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {SEARCH}_insert()",
    f"CREATE TRIGGER {SEARCH}_au AFTER UPDATE OF {SEARCHED} ON {TABLE} FOR EACH ROW "
    f"WHEN ({PG_CHANGED}) EXECUTE FUNCTION {SEARCH}_update()",
    f"CREATE TRIGGER {SEARCH}_ad AFTER DELETE ON {TABLE} REFERENCING OLD TABLE AS deleted "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {SEARCH}_delete()",
    # Django's flush (TransactionTestCase, the flush command) truncates the model tables only.
    f"CREATE TRIGGER {SEARCH}_at AFTER TRUNCATE ON {TABLE} "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {SEARCH}_truncate()",
]
POSTGRESQL_BACKWARD = [
    *(f"DROP TRIGGER IF EXISTS {SEARCH}_{kind} ON {TABLE}" for kind in ("ai", "au", "ad", "at")),
    *(
        f"DROP FUNCTION IF EXISTS {SEARCH}_{kind}()"
        for kind in ("insert", "update", "delete", "truncate")
    ),
    f"DROP TABLE IF EXISTS {SEARCH}",
    f"CREATE INDEX {INDEX} ON {TABLE} USING gin ((LOWER({_joined('')})) gin_trgm_ops)",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0012_shopify_id_index_not_odd_emails"),
    ]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRESQL_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRESQL_BACKWARD}),
        ),
    ]
