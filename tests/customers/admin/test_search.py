"""The list's search: exact email and phone through their index, partial search kept."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:customers_customer_changelist")


def listed(client, term: str) -> tuple[list[str], list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(LIST_URL, {"q": term})
    assert response.status_code == 200
    emails = sorted(c.email for c in response.context["cl"].result_list)
    return emails, [q["sql"] for q in ctx.captured_queries]


def test_an_exact_email_is_found_by_equality_not_by_a_scan(admin_client, make_customer):
    make_customer(email="alice@example.com")
    make_customer(email="malice@example.com")
    emails, sql = listed(admin_client, "  Alice@Example.com ")
    assert emails == ["alice@example.com"]
    customer_queries = [q for q in sql if 'FROM "customers_customer"' in q]
    assert customer_queries and not any("LIKE" in q.upper() for q in customer_queries)


def test_an_email_nobody_has_falls_back_to_the_partial_search(admin_client, make_customer):
    make_customer(email="alice@example.com")
    make_customer(email="bob@example.org")
    assert listed(admin_client, "example.com")[0] == ["alice@example.com"]
    assert listed(admin_client, "ice@example.c")[0] == ["alice@example.com"]


@pytest.mark.parametrize("typed", ["(201) 555-7381", "+1 201-555-7381", "2015557381"])
def test_a_phone_in_any_format_is_found_exactly(admin_client, make_customer, typed):
    make_customer(email="phone@example.com", phone="+12015557381")
    make_customer(email="other@example.com", phone="+12015557382")
    emails, sql = listed(admin_client, typed)
    assert emails == ["phone@example.com"]


def test_part_of_a_phone_still_finds_it(admin_client, make_customer):
    make_customer(email="phone@example.com", phone="+12015557381")
    make_customer(email="other@example.com", phone="+13125550000")
    assert listed(admin_client, "555-738")[0] == ["phone@example.com"]
