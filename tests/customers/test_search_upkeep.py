"""The search table beside the customers follows every write, and only writes of searched fields.

Migration 0013: on PostgreSQL the trigram index lives on ``customers_customer_search``, kept by
triggers, so that bulk writes of other columns (group, status, version) write no trigram entry;
on SQLite the FTS5 table keeps no per-row size record.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.utils import timezone

from customers.db.bulk import insert_fields, model_values, rows_insert
from customers.models import Customer, Status
from customers.selectors.search import SEARCH_TABLE, customers_search
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")


def found(term: str) -> list[str]:
    return sorted(c.email for c in customers_search(Customer.objects.all(), term))


def stale_search_rows() -> list[tuple]:
    """Rows of the PostgreSQL search table that differ from what the customer table says."""
    joined = " || ' ' || ".join(
        f"c.{column}" for column in ("first_name", "last_name", "email", "company", "username")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, s.customer_id FROM customers_customer c "
            f"FULL JOIN {SEARCH_TABLE} s ON s.customer_id = c.id "
            f"WHERE s.customer_id IS NULL OR c.id IS NULL OR s.text <> LOWER({joined}) "
            "OR s.phone <> c.phone"
        )
        return cursor.fetchall()


def search_table_writes() -> tuple[int, int, int]:
    """Rows of the search table inserted, updated and deleted so far in this transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_get_xact_tuples_inserted(%s::regclass), "
            "pg_stat_get_xact_tuples_updated(%s::regclass), "
            "pg_stat_get_xact_tuples_deleted(%s::regclass)",
            [SEARCH_TABLE] * 3,
        )
        return cursor.fetchone()


def test_the_search_follows_set_based_inserts_updates_and_deletes(make_customer):
    now = timezone.now()
    fields = insert_fields(Customer, with_pk=False)
    rows = [
        model_values(
            Customer(
                first_name="Inès",
                last_name=name,
                email=f"{name.lower()}@example.com",
                created_at=now,
                updated_at=now,
            ),
            fields,
        )
        for name in ("Lefèvre", "Núñez", "Okafor")
    ]
    rows_insert(model=Customer, fields=fields, rows=rows)  # COPY on PostgreSQL
    ann = make_customer(first_name="Ann", last_name="Smith", email="ann@example.com")
    okafor = Customer.objects.filter(email="okafor@example.com")
    okafor.update(company="Okafor Trading", updated_at=now)
    Customer.objects.filter(pk=ann.pk).update(last_name="Kowalski")
    Customer.objects.filter(email="núñez@example.com").delete()
    assert found("lefèv") == ["lefèvre@example.com"]
    assert found("trading") == ["okafor@example.com"]
    assert found("kowal") == ["ann@example.com"]
    assert found("smith") == []
    assert found("núñ") == []
    if connection.vendor == "postgresql":
        assert stale_search_rows() == []


@postgresql_only
def test_bulk_writes_of_other_columns_write_nothing_in_the_search_table(make_customer):
    people = [make_customer(first_name="Zoé", last_name=f"Durand{n}") for n in range(3)]
    ids = [c.pk for c in people]
    group = CustomerGroup.objects.create(name="Wholesale")
    before = search_table_writes()
    Customer.objects.filter(pk__in=ids).update(group=group, version=2, status=Status.ARCHIVED)
    # save() writes every column, the searched ones unchanged.
    people[0].tax_exempt = True
    people[0].save()
    assert search_table_writes() == before
    Customer.objects.filter(pk=ids[1]).update(first_name="Zoë")
    after = search_table_writes()
    assert tuple(a - b for a, b in zip(after, before, strict=True)) == (0, 1, 0)
    assert found("zoë") == [people[1].email]
    assert stale_search_rows() == []


@postgresql_only
def test_the_search_table_follows_the_phone(make_customer):
    now = timezone.now()
    fields = insert_fields(Customer, with_pk=False)
    copied = Customer(email="copied@example.com", phone="+12015550101", created_at=now)
    copied.updated_at = now
    rows_insert(model=Customer, fields=fields, rows=[model_values(copied, fields)])
    ann = make_customer(first_name="Ann", email="ann@example.com", phone="+12015550202")
    assert found("5550101") == ["copied@example.com"]
    assert found("5550202") == ["ann@example.com"]
    before = search_table_writes()
    Customer.objects.filter(pk=ann.pk).update(phone="+12015550303")
    assert tuple(a - b for a, b in zip(search_table_writes(), before, strict=True)) == (0, 1, 0)
    Customer.objects.filter(email="copied@example.com").update(phone="")
    assert found("5550202") == []
    assert found("5550303") == ["ann@example.com"]
    assert found("5550101") == []
    assert stale_search_rows() == []


@postgresql_only
def test_truncating_the_customers_empties_the_search_table(make_customer):
    # What Django's flush does between TransactionTestCase tests (model tables only).
    make_customer(first_name="Ann")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no foreign-key check left pending
        cursor.execute("TRUNCATE customers_customer CASCADE")
        cursor.execute(f"SELECT count(*) FROM {SEARCH_TABLE}")
        assert cursor.fetchone() == (0,)
        transaction.set_rollback(True)


@postgresql_only
def test_the_trigram_index_is_not_on_the_customer_table():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_indexes WHERE indexdef LIKE %s", ["%gin_trgm_ops%"]
        )
        assert {row[0] for row in cursor.fetchall()} == {SEARCH_TABLE}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 table is SQLite's")
def test_the_fts_table_keeps_no_size_record_per_row():
    # columnsize=0: the _docsize table, one B-tree write per insert, only serves bm25 ranking.
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name LIKE %s", [f"{SEARCH_TABLE}%"])
        names = {row[0] for row in cursor.fetchall()}
    assert SEARCH_TABLE in names
    assert f"{SEARCH_TABLE}_docsize" not in names
