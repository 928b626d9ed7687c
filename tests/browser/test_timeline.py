"""The customer timeline: open a customer, read the stream, filter it by kind, page through it."""

from __future__ import annotations

import pytest

from customers.audit.events import customer_updated_event
from customers.models import Customer, Order
from customers.services.orders import orders_record
from tests.browser.pages import click_and_wait, messages
from tests.browser.test_customer_edit import blank_note, open_customer, save_and_continue


@pytest.fixture
def grace(make_customer):
    grace = make_customer(first_name="Grace", last_name="Hopper", email="grace@example.com")
    for i in range(22):
        customer_updated_event(
            actor="import-bot",
            customer=grace,
            changes={"company": [f"Navy {i}", f"Navy {i + 1}"]},
            related={},
        )
    orders_record(
        actor="shopify-sync",
        orders=[Order(customer=grace, number="#2001", total="99.50", source="shopify")],
    )
    return grace


def rows(page) -> list[str]:
    return [
        " ".join(t.split()) for t in page.locator("#timeline tr.timeline-entry").all_inner_texts()
    ]


def test_read_filter_and_page_through_a_customers_timeline(demo, admin_url, grace):
    open_customer(demo, admin_url, "Grace Hopper")
    blank_note(demo).get_by_role("textbox").fill("Asked for a paper invoice.")
    save_and_continue(demo)
    assert any("was changed successfully" in text for text in messages(demo))

    timeline = demo.locator("#timeline")
    assert timeline.get_by_role("heading", name="Timeline").is_visible()
    first = rows(demo)
    assert len(first) == 20
    assert "demo Note added Note: “Asked for a paper invoice.”." in first[0]
    assert "shopify-sync Order recorded Order #2001 recorded: 99.50 USD" in first[1]
    assert "import-bot Updated Company changed from Navy 21 to Navy 22." in first[2]

    click_and_wait(timeline.get_by_role("link", name="Notes", exact=True))
    assert [row.split(" demo ", 1)[1] for row in rows(demo)] == [
        "Note added Note: “Asked for a paper invoice.”."
    ]
    # The change form is still there, untouched, under its own heading.
    assert demo.get_by_role("heading", name="Grace Hopper").is_visible()

    click_and_wait(demo.locator("#timeline").get_by_role("link", name="All", exact=True))
    click_and_wait(demo.locator("#timeline").get_by_role("link", name="Older", exact=True))
    second = rows(demo)
    assert [row.split("import-bot ", 1)[1] for row in second] == [
        f"Updated Company changed from Navy {i} to Navy {i + 1}." for i in range(3, -1, -1)
    ]
    assert not demo.locator("#timeline").get_by_role("link", name="Older", exact=True).count()
    click_and_wait(demo.locator("#timeline").get_by_role("link", name="Newer", exact=True))
    assert rows(demo) == first
    assert Customer.objects.get(pk=grace.pk).notes.count() == 1
