"""The customer table carries only indexes a query reads: every UPDATE that is not HOT writes
an entry in each of them (migration 0010_index_diet lists which query reads which)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer, CustomerEvent, TaggedCustomer
from customers.selectors.matching import customers_find_by_keys
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db


def _indexes(model) -> dict[str, dict]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {name: info for name, info in found.items() if info["index"] or info["unique"]}


def _indexed_columns(model) -> set[tuple[str, ...]]:
    return {tuple(info["columns"]) for info in _indexes(model).values() if info["columns"]}


def test_no_index_on_columns_no_query_filters_or_sorts_on():
    columns = _indexed_columns(Customer)
    for unused in (("username",), ("last_name", "first_name")):
        assert unused not in columns
    assert "customer_name_ci_idx" not in _indexes(Customer)


def test_exact_lookups_and_sorts_keep_their_index():
    names = set(_indexes(Customer))
    assert {"customer_email_idx", "customer_phone_idx", "customer_status_idx"} <= names
    columns = _indexed_columns(Customer)
    # shopify_id: the list's exact search by Shopify customer id.
    for used in (
        "group_id",
        "total_spent",
        "last_order_at",
        "shopify_id",
    ):
        assert (used,) in columns


def test_no_index_repeats_the_first_column_of_another():
    # The list's composite indexes serve created_at's and order_count's ranges and sorts.
    columns = _indexed_columns(Customer)
    assert ("created_at", "id", "status") in columns
    assert ("order_count", "created_at", "id", "status") in columns
    assert ("created_at",) not in columns and ("order_count",) not in columns
    # event_customer_time (customer_ref, -created_at) and taggedcustomer_unique
    # (content_object, tag) serve the lookups on their first column.
    assert ("customer_ref",) not in _indexed_columns(CustomerEvent)
    assert ("content_object_id",) not in _indexed_columns(TaggedCustomer)
    assert ("customer_ref", "created_at") in _indexed_columns(CustomerEvent)
    assert ("content_object_id", "tag_id") in _indexed_columns(TaggedCustomer)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
def test_postgresql_has_no_pattern_ops_twins_and_leaves_room_for_hot_updates():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            [Customer._meta.db_table, "%pattern_ops%"],
        )
        assert cursor.fetchall() == []
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE relname = %s", [Customer._meta.db_table]
        )
        assert cursor.fetchone()[0] == ["fillfactor=80"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
def test_a_change_of_unindexed_columns_is_a_hot_update():
    # What the change form and bulk edits of plain columns write: with no index on them the
    # new row version stays on its page and no index entry is written.
    customer = Customer.objects.create(email="hot@example.com")
    Customer.objects.filter(pk=customer.pk).update(tax_exempt=True, version=2)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_get_xact_tuples_updated(%s::regclass), "
            "pg_stat_get_xact_tuples_hot_updated(%s::regclass)",
            [Customer._meta.db_table] * 2,
        )
        assert cursor.fetchone() == (1, 1)


PARTIAL = {"customer_phone_idx": "phone", "customer_shopify_id_idx": "shopify_id"}


def _index_sql(name: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = %s", [name])
        else:
            cursor.execute("SELECT pg_get_indexdef(%s::regclass)", [name])
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("name", "column"), PARTIAL.items())
def test_phone_and_shopify_id_are_indexed_only_where_set(name, column):
    # Most customers have no phone or no Shopify id: a bulk UPDATE writes no entry for them
    # in these indexes (migration 0016). SQLite keeps Django's text, NOT ("phone" = '');
    # PostgreSQL prints WHERE (NOT ((phone)::text = ''::text)).
    sql = _index_sql(name)
    where = sql.partition(" WHERE ")[2]
    assert re.search(rf"NOT \(+\"?{column}\b.* = ''", where), sql


def test_the_status_index_holds_only_the_rare_statuses_and_the_filter_reads_it(make_customer):
    sql = _index_sql("customer_status_idx")
    where = sql.partition(" WHERE ")[2]
    assert all(f"'{status}'" in where for status in ("archived", "merged", "redacted")), sql
    assert "'active'" not in where, sql
    archived = make_customer(email="old@example.com", status="archived")
    make_customer(email="new@example.com")
    # What the list's status filter asks (filtersets.StatusFilter).
    found = Customer.objects.filter(status="archived")
    assert list(found) == [archived]
    sql, params = found.query.sql_with_params()
    assert "customer_status_idx" in _plan(sql, params)


def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        # Too few rows for the planner to prefer an index: forbid the scans.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_group_is_indexed_only_where_set_and_its_lookups_read_that_index(make_customer):
    # Most customers are in no group: "set a group" writes their entry, "archive" does not.
    sql = _index_sql("customer_group_idx")
    assert re.search(r'WHERE \(?"?group_id"? IS NOT NULL', sql), sql
    vip = CustomerGroup.objects.create(name="VIP")
    member = make_customer(email="member@example.com", group=vip)
    make_customer(email="nobody@example.com")
    members = Customer.objects.filter(group=vip)
    assert list(members) == [member]
    sql, params = members.query.sql_with_params()
    assert "customer_group_idx" in _plan(sql, params)


def test_matching_by_phone_reads_the_partial_phone_index(make_customer):
    make_customer(email="", phone="+12015557381")
    make_customer(email="nophone@example.com")
    with CaptureQueriesContext(connection) as ctx:
        by_email, by_phone = customers_find_by_keys(emails=[], phones=["+12015557381"])
    assert list(by_phone) == ["+12015557381"] and by_email == {}
    text = _plan(ctx.captured_queries[0]["sql"], None)
    assert "customer_phone_idx" in text, text
