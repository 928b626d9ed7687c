"""The customer list as staff use it: search, every sidebar filter, the page size."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Channel, Consent, Status
from groups.models import CustomerGroup
from tests.browser.pages import LIST, click_and_wait, listed_names, search, sidebar_filter


@pytest.fixture
def shop(make_customer, make_order, make_address):
    """Customers that each filter tells apart."""
    vip = CustomerGroup.objects.create(name="VIP")
    now = timezone.now()
    people = {
        "Alice Martin": make_customer(
            first_name="Alice",
            last_name="Martin",
            email="alice.martin@example.com",
            phone="+12015550123",
            group=vip,
            tags=["Loyal"],
            tax_exempt=True,
            email_consent=Consent.SUBSCRIBED,
            source=Channel.SHOPIFY,
        ),
        "Bruno Keller": make_customer(
            first_name="Bruno",
            last_name="Keller",
            email="bruno@example.org",
            sms_consent=Consent.SUBSCRIBED,
            has_active_subscription=True,
            source=Channel.CSV,
            previous_total_spent=Decimal("250.00"),
        ),
        "Chloé Durand": make_customer(
            first_name="Chloé",
            last_name="Durand",
            email="chloe.durand@example.fr",
            email_consent=Consent.UNSUBSCRIBED,
            erasure_requested_at=now,
        ),
        "Dmitri Archived": make_customer(
            first_name="Dmitri", last_name="Archived", status=Status.ARCHIVED
        ),
        # Shares Alice's phone: a possible duplicate.
        "Alice Twin": make_customer(first_name="Alice", last_name="Twin", phone="+12015550123"),
    }
    for _ in range(3):
        make_order(people["Bruno Keller"])
    make_order(people["Alice Martin"], placed_at=now - timedelta(days=3))
    make_address(people["Alice Martin"], is_default=True)
    return people


CURRENT = {"Alice Martin", "Bruno Keller", "Chloé Durand", "Alice Twin"}


@pytest.mark.parametrize(
    "term",
    [
        "martin",  # name, any case
        "ALICE.MARTIN@example.com",  # email, any case
        "+1 201-555-0123",  # phone: international
        "(201) 555-0123",  # phone: national
        "2015550123",  # phone: digits only
    ],
)
def test_search_finds_by_name_email_and_phone_in_any_format(demo, admin_url, shop, term):
    demo.goto(admin_url(LIST))
    search(demo, term)
    names = set(listed_names(demo))
    if term[0].isdigit() or term[0] in "+(":
        assert names == {"Alice Martin", "Alice Twin"}
    else:
        assert names == {"Alice Martin"}
    assert demo.locator("#searchbar").input_value() == term


FILTER_CASES = [
    ("group", "VIP", {"Alice Martin"}),
    ("tag", "Loyal", {"Alice Martin"}),
    ("tax exempt", "Yes", {"Alice Martin"}),
    ("email marketing", "Subscribed", {"Alice Martin"}),
    ("email marketing", "Unsubscribed", {"Chloé Durand"}),
    ("SMS marketing", "Subscribed", {"Bruno Keller"}),
    ("number of orders", "None", {"Chloé Durand", "Alice Twin"}),
    ("number of orders", "1", {"Alice Martin"}),
    ("number of orders", "2–5", {"Bruno Keller"}),
    ("status", "Archived", {"Dmitri Archived"}),
    ("status", "All, including merged", CURRENT | {"Dmitri Archived"}),
    ("source channel", "CSV import", {"Bruno Keller"}),
    ("source channel", "Shopify", {"Alice Martin"}),
    ("erasure requested", "Yes", {"Chloé Durand"}),
    ("active subscription", "Yes", {"Bruno Keller"}),
    ("possible duplicates", "Has possible duplicates", {"Alice Martin", "Alice Twin"}),
    ("previous platform total spent", "100 to 1,000", {"Bruno Keller"}),
]


@pytest.mark.parametrize(("title", "choice", "expected"), FILTER_CASES)
def test_every_sidebar_filter_narrows_the_list(demo, admin_url, shop, title, choice, expected):
    demo.goto(admin_url(LIST))
    assert set(listed_names(demo)) == CURRENT  # archived customers are hidden by default
    sidebar_filter(demo, title, choice)
    assert set(listed_names(demo)) == expected
    assert demo.locator("#changelist-filter").get_by_role("link", name="Clear all filters").count()


def test_the_sidebar_has_no_filter_without_a_test(demo, admin_url, shop):
    demo.goto(admin_url(LIST))
    titles = demo.locator("#changelist-filter details summary").all_inner_texts()
    # The conditions form (ranges, dates, tags...) is tested in test_list_conditions.py.
    assert {title.strip().removeprefix("By ") for title in titles} == {
        title for title, _, _ in FILTER_CASES
    } | {"conditions"}


def test_page_size_is_chosen_under_the_list(demo, admin_url, make_customer):
    for n in range(25):
        make_customer(first_name="Page", last_name=f"Person{n:02d}")
    demo.goto(admin_url(LIST))
    assert len(listed_names(demo)) == 25
    click_and_wait(demo.locator(".page-size").get_by_role("link", name="10", exact=True))
    assert len(listed_names(demo)) == 10
    assert demo.locator(".page-size strong").inner_text() == "10"
    assert "25 customers" in demo.locator(".paginator").first.inner_text()
    click_and_wait(demo.locator(".paginator").first.get_by_role("link", name="3", exact=True))
    assert len(listed_names(demo)) == 5
    # The chosen size stays while paging.
    assert demo.locator(".page-size strong").inner_text() == "10"


def test_search_by_a_french_national_number_finds_the_french_customer(
    demo, admin_url, shop, make_customer, make_address
):
    marie = make_customer(first_name="Marie", last_name="Curie", phone="+33612345678")
    make_address(
        marie,
        address1="3 rue Oberkampf",
        city="Paris",
        province_code="",
        country_code="FR",
        postal_code="75011",
    )
    demo.goto(admin_url(LIST))
    search(demo, "06 12 34 56 78")
    assert listed_names(demo) == ["Marie Curie"]


def test_the_list_fits_a_laptop_screen(demo, admin_url, shop, make_customer):
    make_customer(
        first_name="Marie-Christine",
        last_name="Delacroix-Montgomery",
        email="marie-christine.delacroix-montgomery@example.com",
        phone="+12015550199",
        tags=["Loyal customer", "Newsletter", "Gift card buyer"],
    )
    demo.set_viewport_size({"width": 1366, "height": 900})
    demo.goto(admin_url(LIST))
    overflow = demo.locator("#changelist .results").evaluate(
        "el => el.scrollWidth - el.clientWidth"
    )
    assert overflow <= 0, f"the table is {overflow} px wider than its box"
    for cell in demo.locator("#result_list td.field-status_and_erasure").all():
        box = cell.bounding_box()
        assert box["x"] + box["width"] <= 1366
    for cell, most in (("th a", 2), ("td.field-phone_formatted", 1)):
        for shown in demo.locator(f"#result_list tbody {cell}").all():
            assert lines_of(shown) <= most, shown.inner_text()


def lines_of(locator) -> int:
    """How many lines of text an element takes on the screen."""
    return locator.evaluate(
        "el => { const r = document.createRange(); r.selectNodeContents(el);"
        " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }"
    )
