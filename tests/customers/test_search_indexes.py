"""The search's routes read an index: exact terms by equality, words through trigrams.

The SQL of each route is checked (no ``LIKE '%…%'`` on the customer table for an exact term),
the plans on both databases (the trigram index or the FTS5 table, not a scan of the customers),
and the FTS5 table on SQLite stays in step with the customer table whatever writes it.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import Channel, ChannelConnection, ChannelCustomerLink, Customer
from customers.selectors.search import (
    PHONE_TRGM_INDEX,
    SEARCH_TABLE,
    TRGM_INDEX,
    customers_matching_words,
    customers_search,
    exact_match_condition,
    search_index_missing,
    search_words,
)

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:customers_customer_changelist")


def found(term: str) -> list[str]:
    return sorted(c.email for c in customers_search(Customer.objects.all(), term))


def customer_sql(term: str) -> list[str]:
    """The SQL of the queries the list's search sends to the customer table."""
    with CaptureQueriesContext(connection) as ctx:
        list(customers_search(Customer.objects.all(), term))
    return [q["sql"] for q in ctx.captured_queries if 'FROM "customers_customer"' in q["sql"]]


def plan(queryset) -> str:
    """The database's plan for the queryset, as text."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        # Too few rows for the planner to prefer an index on its own: forbid the scans (the
        # table's, and walking an index in the list's order) so that only an index that
        # serves the condition itself is left.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def scans_customers(sqlite_plan: str) -> bool:
    """True when SQLite reads the whole customer table (not the FTS table beside it)."""
    return re.search(r"SCAN customers_customer( |$)", sqlite_plan, re.MULTILINE) is not None


@pytest.fixture
def people(make_customer):
    return [
        make_customer(first_name="Ann", last_name="Smith", email="ann@example.com"),
        make_customer(first_name="Bob", last_name="Goldsmith", email="bob@shop.example"),
        make_customer(
            first_name="Zoé", last_name="Durand", email="zoe@example.fr", company="Mode SARL"
        ),
        make_customer(first_name="Carl", last_name="Jones", email="", phone="+12015557381"),
    ]


def test_every_part_of_the_search_index_is_there():
    assert search_index_missing() == []


@pytest.mark.parametrize(
    ("term", "emails"),
    [
        ("smith", ["ann@example.com", "bob@shop.example"]),
        ("SMI", ["ann@example.com", "bob@shop.example"]),
        ("mith ann", ["ann@example.com"]),
        ("ann smith", ["ann@example.com"]),
        ("shop.exa", ["bob@shop.example"]),
        ("sarl", ["zoe@example.fr"]),
        ('"mode sarl"', ["zoe@example.fr"]),
        ("zo", ["zoe@example.fr"]),
        ("durand zo", ["zoe@example.fr"]),
        ("nobody", []),
        ("100%", []),
    ],
)
def test_words_are_found_anywhere_in_any_searched_field(people, term, emails):
    assert found(term) == emails


def test_a_word_is_not_found_across_two_fields(make_customer):
    make_customer(first_name="Ann", last_name="Ette", email="a@example.com")
    # "annette" is in no field; the words "ann" and "ette" each are.
    assert found("annette") == []
    assert found("ann ette") == ["a@example.com"]


def test_search_words_split_like_the_admin():
    assert search_words(' Ann  "Mode SARL" ') == ["Ann", "Mode SARL"]


def test_an_exact_email_is_one_equality_on_the_email_column(people):
    sql = customer_sql("Ann@Example.com")
    assert found("Ann@Example.com") == ["ann@example.com"]
    assert sql and not any("LIKE" in q.upper() for q in sql)
    assert all('"customers_customer"."email" = ' in q for q in sql)


@pytest.mark.parametrize("typed", ["(201) 555-7381", "+1 201 555 7381", "201.555.7381"])
def test_a_phone_in_any_format_is_an_equality_on_the_phone_column(people, typed):
    sql = customer_sql(typed)
    assert [c.last_name for c in customers_search(Customer.objects.all(), typed)] == ["Jones"]
    assert sql and not any("LIKE" in q.upper() for q in sql)


def test_a_shopify_id_and_a_channel_id_are_found_exactly(people, make_customer):
    make_customer(email="shopify@example.com", shopify_id="6212345678901")
    pos = make_customer(email="pos@example.com")
    shop = ChannelConnection.objects.create(channel=Channel.POS, name="Till")
    ChannelCustomerLink.objects.create(connection=shop, external_id="C-42", customer_ref=pos.pk)
    assert found("6212345678901") == ["shopify@example.com"]
    assert found("C-42") == ["pos@example.com"]
    for term in ("6212345678901", "C-42"):
        assert not any("LIKE" in q.upper() for q in customer_sql(term))


@pytest.mark.parametrize("term", ["6212345678901", "ann@example.com", "(201) 555-7381"])
def test_an_exact_term_reads_indexes_not_the_customer_table(term):
    text = plan(Customer.objects.filter(exact_match_condition(term)))
    if connection.vendor == "sqlite":
        assert not scans_customers(text), text
    else:
        assert "Seq Scan on customers_customer" not in text, text


def test_words_read_the_trigram_index_not_the_customer_table(people):
    text = plan(customers_matching_words(Customer.objects.all(), ["smith", "ann"]))
    if connection.vendor == "sqlite":
        assert f"SCAN {SEARCH_TABLE} VIRTUAL TABLE" in text and not scans_customers(text), text
    else:
        assert TRGM_INDEX in text, text


def test_part_of_a_phone_finds_the_customers_whose_number_holds_it(people, make_customer):
    make_customer(first_name="Dan", email="dan@example.com", phone="+12015550000")
    assert found("5557381") == [""]
    assert found("201555") == ["", "dan@example.com"]
    assert found("555 0000") == ["dan@example.com"]


def test_digits_and_words_together_find_either(people, make_customer):
    # Digits that are also in an email: the words' matches and the phone's, each once.
    make_customer(first_name="Eve", email="eve5557381@example.com")
    assert found("5557381") == ["", "eve5557381@example.com"]


def test_part_of_a_phone_reads_an_index_not_the_customer_table(people):
    text = plan(customers_search(Customer.objects.order_by(), "5557381"))
    if connection.vendor == "sqlite":
        assert "customer_phone_idx" in text and not scans_customers(text), text
    else:
        assert PHONE_TRGM_INDEX in text and TRGM_INDEX in text, text
        assert "Seq Scan on customers_customer " not in text, text


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 table is SQLite's")
def test_the_fts_table_follows_every_write_path(people, make_customer):
    ann, bob = people[0], people[1]
    Customer.objects.filter(pk=ann.pk).update(last_name="Kowalski")  # a set-based update
    bob.company = "Smithy Ltd"
    bob.save()
    Customer.objects.filter(pk=people[2].pk).delete()
    assert found("kowalski") == ["ann@example.com"]
    assert found("smith") == ["bob@shop.example"]
    assert found("durand") == []
    with connection.cursor() as cursor:
        # FTS5's own check: the index holds exactly what the content table says.
        cursor.execute(
            f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rank) VALUES ('integrity-check', 1)"
        )


def test_the_admin_search_box_uses_the_same_routes(admin_client, people):
    response = admin_client.get(LIST_URL, {"q": "goldsm"})
    assert [c.email for c in response.context["cl"].result_list] == ["bob@shop.example"]
    response = admin_client.get(LIST_URL, {"q": "555-738"})
    assert [c.last_name for c in response.context["cl"].result_list] == ["Jones"]
