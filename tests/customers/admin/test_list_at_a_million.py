"""How the list's page queries are planned: a page far down by number, SQLite's hints, the
sort by orders. Every test here also checks the rows shown: a plan is only worth having if the
page still lists exactly the customers it should, in the list's order."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.admin import pagination
from customers.admin.pagination import ListCount, offset_rows, planner_hinted
from customers.models import Customer, Tag, TaggedCustomer

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:customers_customer_changelist")
PAGE_QUERY = 'SELECT "customers_customer"."id", "customers_customer"."first_name"'
SQLITE_ONLY = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner")


@pytest.fixture
def customers(make_customer):
    """40 customers: created a minute apart in pairs (ties on the sort key), 0-7 orders, every
    third tagged VIP, every tenth archived."""
    start = timezone.now().replace(microsecond=0)
    people = []
    for n in range(40):
        customer = make_customer(
            email=f"m{n:02d}@example.com",
            tags=["VIP"] if n % 3 == 0 else [],
            status="archived" if n % 10 == 9 else "active",
        )
        people.append(customer)
        Customer.objects.filter(pk=customer.pk).update(
            created_at=start - timedelta(minutes=n // 2), order_count=n % 8, total_spent=n
        )
    return people


def page_emails(client, **params) -> tuple[list[str], str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(LIST_URL, params)
    assert response.status_code == 200
    rows = [customer.email for customer in response.context["cl"].result_list]
    page_sql = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(PAGE_QUERY)]
    assert len(page_sql) == 1
    return rows, page_sql[0]


def listed(*order, **conditions) -> list[str]:
    """What the list should show: not archived nor merged, in the list's order."""
    queryset = Customer.objects.listed_by_default().filter(**conditions).order_by(*order)
    return list(queryset.values_list("email", flat=True))


def plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


# --- a page far down by number ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "order"),
    [
        ({}, ("-created_at", "-pk")),
        ({"o": "-6"}, ("-order_count", "-created_at", "-pk")),
        ({"o": "8"}, ("last_order_at", "-created_at", "-pk")),  # no keyset: numbered pages
        ({"orders": "2-5"}, ("-created_at", "-pk")),
    ],
)
def test_every_numbered_page_shows_its_rows_in_order(admin_client, customers, query, order):
    expected = listed(*order, **({"order_count__range": (2, 5)} if "orders" in query else {}))
    shown = []
    for number in range(1, 5):
        if (number - 1) * 10 < len(expected):
            rows, _sql = page_emails(admin_client, per_page=10, p=number, **query)
            shown.extend(rows)
    assert shown == expected


def test_a_page_past_the_first_skips_ids_in_a_subquery_and_reads_only_its_rows(
    admin_client, customers
):
    rows, sql = page_emails(admin_client, per_page=10, p=3)
    assert rows == listed("-created_at", "-pk")[20:30]
    # The OFFSET is inside the id subquery; the outer query reads the ten rows shown.
    inner = re.search(r"IN \(SELECT .*? LIMIT 10 OFFSET 20\)", sql)
    assert inner is not None
    assert "OFFSET" not in sql.replace(inner.group(0), "")


@SQLITE_ONLY
def test_the_skipped_rows_are_index_entries_not_table_rows(admin_client, customers, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 10)  # the whole list, as at a million
    _rows, sql = page_emails(admin_client, per_page=10, p=3)
    assert "USING COVERING INDEX customer_listed_idx" in plan(sql)


def test_the_first_page_is_a_plain_read(admin_client, customers, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 10)
    _rows, sql = page_emails(admin_client, per_page=10)
    assert "OFFSET" not in sql and "IN (SELECT" not in sql


def test_a_deep_page_costs_the_queries_of_the_first(admin_client, customers):
    counts = []
    for params in ({"per_page": 10}, {"per_page": 10, "p": 3}, {"per_page": 500}):
        with CaptureQueriesContext(connection) as ctx:
            admin_client.get(LIST_URL, params)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] == counts[2]


def test_offset_rows_keeps_a_distinct_queryset_as_a_plain_offset(customers):
    queryset = Customer.objects.order_by("-created_at", "-pk").distinct()
    rows = offset_rows(queryset, 5, 5)
    assert "IN (SELECT" not in str(rows.query)
    assert list(rows) == list(queryset)[5:10]


# --- SQLite's hints -----------------------------------------------------------------------------


def test_a_hinted_queryset_lists_the_same_rows(customers):
    vip = Tag.objects.get(name="VIP")
    querysets = [
        Customer.objects.listed_by_default().with_order_counts_between(2, 5),
        Customer.objects.listed_by_default().with_tags_any([vip.pk]),
        Customer.objects.listed_by_default().with_value_between("total_spent", 10, 30),
        Customer.objects.filter(email__startswith="m1") | Customer.objects.filter(order_count=7),
        Customer.objects.exclude(pk__in=TaggedCustomer.objects.values("content_object_id")),
    ]
    for queryset in querysets:
        ordered = queryset.order_by("-created_at", "-pk")
        expected = list(ordered.values_list("email", flat=True))
        assert expected
        for exact in (True, False):
            hinted = planner_hinted(ordered, ListCount(len(expected), exact=exact))
            assert list(hinted.values_list("email", flat=True)) == expected
            assert hinted.count() == len(expected)


def test_postgresql_plans_without_hints(customers):
    queryset = Customer.objects.listed_by_default().order_by("-created_at", "-pk")
    hinted = planner_hinted(queryset, ListCount(20_000, exact=False))
    if connection.vendor == "sqlite":
        assert "+(" in str(hinted.query)
    else:
        assert str(hinted.query) == str(queryset.query)


@SQLITE_ONLY
def test_many_matching_rows_walk_the_sort_index_and_sort_nothing(
    admin_client, customers, monkeypatch
):
    # Above the cap: the range of order counts is only tested on the rows met in list order.
    monkeypatch.setattr(pagination, "COUNT_CAP", 10)
    rows, sql = page_emails(admin_client, per_page=10, orders="2-5")
    assert rows == listed("-created_at", "-pk", order_count__range=(2, 5))[:10]
    found = plan(sql)
    assert "customer_listed_idx" in found or "created_at" in found
    assert "TEMP B-TREE FOR ORDER BY" not in found


@SQLITE_ONLY
def test_few_matching_rows_are_read_through_their_own_index(admin_client, customers):
    # "At least 7 orders": an open range SQLite would guess matches a quarter of the table,
    # and walk the whole list to find its five customers; the exact count says they are few.
    rows, sql = page_emails(admin_client, per_page=10, order_count_min=7)
    assert rows == listed("-created_at", "-pk", order_count__gte=7)
    assert '"customers_customer"."id" IN (SELECT' in sql
    assert "INDEX customer_orders_listed_idx (order_count>?)" in plan(sql)


@SQLITE_ONLY
def test_a_condition_on_the_sorted_column_keeps_its_index(admin_client, customers):
    since = timezone.now() - timedelta(minutes=6)
    queryset = Customer.objects.listed_by_default().filter(created_at__gte=since)
    hinted = planner_hinted(queryset.order_by("-created_at", "-pk"), ListCount(9, exact=False))
    sql = str(hinted.query)
    assert re.search(r'AND "customers_customer"\."created_at" >= ', sql)
    assert list(hinted) == list(queryset.order_by("-created_at", "-pk"))


# --- sort by orders -----------------------------------------------------------------------------


@SQLITE_ONLY
def test_sort_by_orders_walks_one_index(admin_client, customers, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 10)  # the whole list, as at a million
    rows, sql = page_emails(admin_client, per_page=10, o="-6")
    assert rows == listed("-order_count", "-created_at", "-pk")[:10]
    found = plan(sql)
    assert "customer_orders_listed_idx" in found
    assert "TEMP B-TREE" not in found


# --- a segment's list ---------------------------------------------------------------------------


def test_a_segment_reads_the_list_of_segments_once_whatever_it_holds(
    admin_client, admin_user, customers
):
    from customers.services.segments import segment_create

    vip = segment_create(
        actor=admin_user, name="VIP buyers", conditions={"tag_any": "VIP", "order_count_min": "2"}
    )
    queries = []
    for extra in (0, 5):
        for n in range(extra):
            segment_create(actor=admin_user, name=f"Other {n}", conditions={"q": "m1"})
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(LIST_URL, {"segment": vip.pk, "per_page": 10})
        assert response.status_code == 200
        shown = [customer.email for customer in response.context["cl"].result_list]
        reads = [q["sql"] for q in ctx.captured_queries if 'FROM "customers_segment"' in q["sql"]]
        # The segment asked for, and the segments' names once (the conditions' description).
        assert len(reads) == 2
        queries.append(len(ctx.captured_queries))
    assert queries[0] == queries[1]
    vips = Customer.objects.listed_by_default().with_tag(Tag.objects.get(name="VIP").pk)
    assert shown == listed("-created_at", "-pk", pk__in=vips.filter(order_count__gte=2))[:10]
