"""The customer list's pages: capped or estimated counts, keyset "Next" pages, what the page says.

Ties on the sort key are the trap of keyset pages: many customers share a creation time or an
order count, and a cursor on the sort key alone would skip or repeat them.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.admin import pagination
from customers.admin.pagination import ListCount, list_count
from customers.models import Customer, Status

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:customers_customer_changelist")


def listed(client, url: str, **params) -> tuple[list[str], object, str]:
    response = client.get(url, params)
    assert response.status_code == 200
    cl = response.context["cl"]
    return [c.email for c in cl.result_list], cl, response.content.decode()


def walk(client, url: str, **params) -> list[list[str]]:
    """Follow "Next" from the first page to the end; return each page's emails."""
    pages = []
    while url:
        emails, cl, _html = listed(client, url, **params)
        pages.append(emails)
        url, params = (LIST_URL + cl.next_url) if cl.next_url else None, {}
    return pages


@pytest.fixture
def tied(make_customer):
    """25 customers created at seven instants (four each), with two order counts."""
    start = timezone.now().replace(microsecond=0)
    people = []
    for n in range(25):
        customer = make_customer(email=f"c{n:02d}@example.com")
        people.append(customer)
        Customer.objects.filter(pk=customer.pk).update(
            created_at=start - timedelta(minutes=n // 4), order_count=n % 2, total_spent=n
        )
    return people


def expected_order(**order) -> list[str]:
    return list(Customer.objects.order_by(*order["by"]).values_list("email", flat=True))


@pytest.mark.parametrize(
    ("query", "order"),
    [
        ({}, ["-created_at", "-pk"]),
        # The admin's own ordering follows the chosen column: ties there, then on the id.
        ({"o": "-6"}, ["-order_count", "-created_at", "-pk"]),
        ({"o": "6"}, ["order_count", "-created_at", "-pk"]),
        ({"o": "2.-6"}, ["email", "-order_count", "-created_at", "-pk"]),
    ],
)
def test_next_pages_show_every_row_once_in_order_ties_included(admin_client, tied, query, order):
    pages = walk(admin_client, LIST_URL, per_page=10, **query)
    assert [len(page) for page in pages] == [10, 10, 5]
    assert sum(pages, []) == expected_order(by=order)


def test_a_next_page_is_a_keyset_read_not_an_offset(admin_client, tied):
    _emails, cl, _html = listed(admin_client, LIST_URL, per_page=10)
    with CaptureQueriesContext(connection) as ctx:
        emails, cl, html = listed(admin_client, LIST_URL + cl.next_url)
    sql = [q["sql"] for q in ctx.captured_queries]
    rows = [q for q in sql if "ORDER BY" in q and "LIMIT" in q]
    customer_rows = [q for q in rows if 'FROM "customers_customer"' in q and "COUNT" not in q]
    assert customer_rows and not any("OFFSET" in q for q in customer_rows)
    assert emails == expected_order(by=["-created_at", "-pk"])[10:20]
    assert cl.next_url and cl.previous_url
    assert "First page" in html and "Previous" in html


def test_previous_goes_back_to_the_rows_before(admin_client, tied):
    _emails, first, _html = listed(admin_client, LIST_URL, per_page=10)
    _emails, second, _html = listed(admin_client, LIST_URL + first.next_url)
    third, cl, _html = listed(admin_client, LIST_URL + second.next_url)
    back, cl, _html = listed(admin_client, LIST_URL + cl.previous_url)
    order = expected_order(by=["-created_at", "-pk"])
    assert third == order[20:] and back == order[10:20]
    back, cl, html = listed(admin_client, LIST_URL + cl.previous_url)
    assert back == order[:10]
    # Back on the first page: its page numbers again, no "Previous".
    assert cl.previous_url is None and not cl.is_cursor_page
    assert re.search(r'<a href="\?p=2[^"]*"', html)


def test_a_deep_page_by_number_still_shows_its_rows(admin_client, tied):
    emails, _cl, _html = listed(admin_client, LIST_URL, per_page=10, p=3)
    assert emails == expected_order(by=["-created_at", "-pk"])[20:]


def test_a_sort_with_empty_values_pages_by_number(admin_client, tied):
    # The last order date may be empty: no keyset, the numbered pages (OFFSET) serve it.
    emails, cl, _html = listed(admin_client, LIST_URL, per_page=10, o="8")
    assert cl.sort_keys is None
    assert cl.next_url == "?o=8&p=2&per_page=10"
    assert len(emails) == 10


def test_a_stale_or_forged_cursor_shows_the_first_page(admin_client, tied):
    for cursor in ("garbage", "e30", pagination.cursor_encode([], object())):
        emails, _cl, _html = listed(admin_client, LIST_URL, per_page=10, after=cursor)
        assert emails == expected_order(by=["-created_at", "-pk"])[:10]


def test_a_filter_link_or_a_search_drops_the_cursor(admin_client, tied):
    _emails, cl, _html = listed(admin_client, LIST_URL, per_page=10)
    _emails, cl, html = listed(admin_client, LIST_URL + cl.next_url)
    assert "after=" not in cl.get_query_string({"status": "archived"})
    assert 'name="after"' not in html and 'name="per_page" value="10"' in html


def test_a_small_list_is_counted_exactly(admin_client, tied):
    _emails, cl, html = listed(admin_client, LIST_URL, per_page=10)
    assert cl.counted == ListCount(25, exact=True)
    assert "25 customers" in html


def test_above_the_cap_the_count_says_more_than_or_about(admin_client, tied, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 10)
    monkeypatch.setattr(pagination, "planner_estimate", lambda queryset: None)
    _emails, cl, html = listed(admin_client, LIST_URL, per_page=10)
    assert cl.counted == ListCount(11, exact=False)
    assert "more than 10 customers" in html
    # "Select all" names the list, not a wrong number; the confirmation page counts exactly.
    assert "Select every customer of this list (more than 10 customers)" in html
    assert "Select all 11" not in html

    monkeypatch.setattr(pagination, "planner_estimate", lambda queryset: 1_003_218)
    _emails, cl, html = listed(admin_client, LIST_URL, per_page=10)
    assert "about 1,000,000 customers" in html


def test_select_all_above_the_cap_confirms_the_exact_number(admin_client, tied, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 10)
    Customer.objects.filter(pk=tied[0].pk).update(status=Status.ARCHIVED)
    response = admin_client.post(
        LIST_URL,
        {"action": "archive", "select_across": "1", "_selected_action": [tied[1].pk]},
    )
    assert response.status_code == 200
    assert response.context["selection"].count == 24  # the 25 minus the archived one


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's estimate")
def test_postgresql_estimates_a_big_list_without_counting_the_table(tied, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 5)
    # The planner expects far more than the cap: its estimate is shown, nothing is counted.
    monkeypatch.setattr(pagination, "ESTIMATE_TRUSTED", 0)
    with CaptureQueriesContext(connection) as ctx:
        counted = list_count(Customer.objects.listed_by_default())
    sql = [q["sql"] for q in ctx.captured_queries]
    assert counted.estimated and not counted.exact and counted.value > 0
    assert [q for q in sql if q.startswith("EXPLAIN")] and not [q for q in sql if "COUNT(" in q]
    # Near the cap: counted up to it (a LIMIT, never the table), then estimated or "more than".
    monkeypatch.setattr(pagination, "ESTIMATE_TRUSTED", 10**9)
    with CaptureQueriesContext(connection) as ctx:
        counted = list_count(Customer.objects.listed_by_default())
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert not counted.exact and counts and all("LIMIT 6" in q for q in counts)


def test_an_empty_list_is_counted_without_a_plan(admin_client, tied):
    # An unknown tag makes the filter ``.none()``: no query, hence no plan to read.
    tied[0].tags.add("VIP")  # the tag filter is on the page only once a tag exists
    emails, cl, html = listed(admin_client, LIST_URL, tag="no such tag")
    assert emails == [] and cl.counted == ListCount(0, exact=True)
    assert "0 customers" in html


def test_the_list_counts_at_most_the_cap_and_never_the_whole_table(admin_client, tied):
    with CaptureQueriesContext(connection) as ctx:
        admin_client.get(LIST_URL)
    counts = [
        q["sql"]
        for q in ctx.captured_queries
        if "COUNT(" in q["sql"].upper() and 'FROM "customers_customer"' in q["sql"]
    ]
    assert counts and all(f"LIMIT {pagination.COUNT_CAP + 1}" in q for q in counts)


def test_twenty_and_five_hundred_rows_cost_the_same_queries(admin_client, make_customer):
    for n in range(30):
        make_customer(email=f"p{n}@example.com", tags=["VIP"] if n % 2 else [])
    counts = []
    for size in (20, 500):
        with CaptureQueriesContext(connection) as ctx:
            admin_client.get(LIST_URL, {"per_page": size})
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_rounded_estimates():
    assert [pagination._rounded(v) for v in (42, 998_742, 203_118, 15_555)] == [
        42,
        1_000_000,
        200_000,
        16_000,
    ]


@pytest.fixture
def phoned(make_customer):
    """25 customers at seven instants; 17 have a phone (pairs share one), 8 have none."""
    start = timezone.now().replace(microsecond=0)
    for n in range(25):
        phone = "" if n % 3 == 2 else f"+1201555{n // 2:04d}"
        customer = make_customer(email=f"p{n:02d}@example.com", phone=phone)
        Customer.objects.filter(pk=customer.pk).update(created_at=start - timedelta(minutes=n // 4))


def phone_order(descending: bool) -> list[str]:
    """With a phone first (by phone, then the admin's ordering), then those without one."""
    emails = Customer.objects.values_list("email", flat=True)
    with_phone = emails.exclude(phone="").order_by(
        "-phone" if descending else "phone", "-created_at", "-pk"
    )
    return [*with_phone, *emails.filter(phone="").order_by("-created_at", "-pk")]


PHONE_SORTS = [({"o": "3"}, False), ({"o": "-3"}, True)]


@pytest.mark.parametrize(("query", "descending"), PHONE_SORTS)
def test_a_phone_sort_shows_customers_without_a_phone_last_by_next(
    admin_client, phoned, query, descending
):
    pages = walk(admin_client, LIST_URL, per_page=10, **query)
    assert [len(page) for page in pages] == [10, 10, 5]
    assert sum(pages, []) == phone_order(descending)
    assert sum(pages, [])[-8:] == list(
        Customer.objects.filter(phone="")
        .order_by("-created_at", "-pk")
        .values_list("email", flat=True)
    )


@pytest.mark.parametrize(("query", "descending"), PHONE_SORTS)
def test_a_phone_sort_pages_by_number_and_back_by_previous(admin_client, phoned, query, descending):
    order = phone_order(descending)
    for number in (1, 2, 3):
        emails, _cl, _html = listed(admin_client, LIST_URL, per_page=10, p=number, **query)
        assert emails == order[(number - 1) * 10 : number * 10]
    _emails, first, _html = listed(admin_client, LIST_URL, per_page=10, **query)
    _emails, second, _html = listed(admin_client, LIST_URL + first.next_url)
    third, cl, _html = listed(admin_client, LIST_URL + second.next_url)
    assert third == order[20:]
    back, cl, _html = listed(admin_client, LIST_URL + cl.previous_url)
    assert back == order[10:20]  # across the end of the customers with a phone
    back, cl, _html = listed(admin_client, LIST_URL + cl.previous_url)
    assert back == order[:10] and cl.previous_url is None


@pytest.mark.parametrize(("query", "descending"), PHONE_SORTS)
def test_a_phone_sort_on_one_page_shows_them_last_too(admin_client, phoned, query, descending):
    emails, cl, _html = listed(admin_client, LIST_URL, **query)
    assert not cl.multi_page and emails == phone_order(descending)


def test_a_phone_sort_page_costs_the_queries_of_any_sort(admin_client, phoned):
    def queries(**params) -> int:
        with CaptureQueriesContext(connection) as ctx:
            listed(admin_client, LIST_URL, per_page=10, **params)
        return len(ctx.captured_queries)

    assert queries(o="3") == queries(o="6")
    # The page where the customers with a phone end reads the two parts: one query more.
    assert queries(o="3", p="2") == queries(o="6", p="2") + 1
