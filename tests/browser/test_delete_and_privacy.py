"""The guarded delete of a mix, the erasure request and its banner, the history page."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from tests.browser.pages import (
    LIST,
    click_and_wait,
    customer_field,
    listed_names,
    messages,
    run_action,
    search,
    select_all_matching,
    tick,
)


def test_guarded_delete_deletes_the_deletable_and_lists_the_kept_with_reasons(
    demo, admin_url, make_customer, make_order
):
    make_customer(first_name="Del", last_name="Free1")
    make_customer(first_name="Del", last_name="Free2")
    make_order(make_customer(first_name="Del", last_name="Orders"))
    make_customer(first_name="Del", last_name="Subscribed", has_active_subscription=True)
    make_customer(first_name="Del", last_name="Erasure", erasure_requested_at=timezone.now())
    names = ["Del Free1", "Del Free2", "Del Orders", "Del Subscribed", "Del Erasure"]
    demo.goto(admin_url(LIST))
    tick(demo, *names)
    run_action(demo, "Delete selected customers")

    plan = demo.locator("#deletion-plan")
    assert "2 customers will be deleted" in plan.inner_text()
    assert "3 customers will be kept" in plan.inner_text()
    lines = plan.locator("ul.kept-customers li").all_inner_texts()
    kept = dict((who.split(" <")[0], why) for who, why in (line.split(" — ") for line in lines))
    assert kept == {
        "Del Erasure": "has a pending erasure request",
        "Del Orders": "has order history",
        "Del Subscribed": "has an active subscription",
    }
    click_and_wait(demo.get_by_role("button", name="Yes, delete the deletable ones"))
    assert "2 customers deleted." in messages(demo)
    assert set(listed_names(demo)) == {"Del Orders", "Del Subscribed", "Del Erasure"}


def test_guarded_delete_lists_each_customer_once_and_names_the_deleted(
    demo, admin_url, make_customer, make_order
):
    both = make_customer(first_name="Del", last_name="Both", has_active_subscription=True)
    make_order(both)
    make_order(make_customer(first_name="Del", last_name="Orders"))
    make_customer(first_name="Del", last_name="Free")
    demo.goto(admin_url(LIST))
    tick(demo, "Del Both", "Del Orders", "Del Free")
    run_action(demo, "Delete selected customers")
    plan = demo.locator("#deletion-plan")
    kept = plan.locator("ul.kept-customers li").all_inner_texts()
    assert len(kept) == 2, kept
    (both_line,) = [line for line in kept if "Del Both" in line]
    assert "has order history" in both_line and "has an active subscription" in both_line
    summary = plan.inner_text()
    assert "2 customers will be kept" in summary
    assert "1 customer will be deleted" in summary
    assert "Del Free" in summary


def open_customer(page, url, name: str) -> None:
    page.goto(url(LIST))
    search(page, name)
    click_and_wait(page.locator("#result_list").get_by_role("link", name=name, exact=True))


def test_erasure_request_shows_its_banner_and_can_be_cancelled(demo, admin_url, make_customer):
    make_customer(first_name="Erin", last_name="Gone", email="erin@example.com")
    open_customer(demo, admin_url, "Erin Gone")
    assert not demo.locator(".erasure-banner").count()
    click_and_wait(demo.get_by_role("link", name="Request erasure"))
    assert "Request erasure of this customer?" in demo.locator("#content").inner_text()
    click_and_wait(demo.get_by_role("button", name="Yes, I’m sure"))
    assert "Erasure of Erin Gone requested." in messages(demo)

    banner = demo.locator(".erasure-banner").inner_text()
    assert "Erasure pending: requested on" in banner
    assert "by demo" in banner
    demo.goto(admin_url(LIST))
    row = demo.locator("#result_list tbody tr").filter(has_text="Erin Gone")
    assert "Erasure pending" in row.inner_text()

    open_customer(demo, admin_url, "Erin Gone")
    click_and_wait(demo.get_by_role("link", name="Cancel erasure request"))
    click_and_wait(demo.get_by_role("button", name="Yes, I’m sure"))
    assert "Erasure request of Erin Gone cancelled." in messages(demo)
    assert not demo.locator(".erasure-banner").count()


@pytest.fixture
def twelve(make_customer):
    return [make_customer(first_name="Era", last_name=f"Person{n:02d}") for n in range(1, 13)]


def test_erasure_of_ticked_customers_from_the_list(demo, admin_url, twelve):
    demo.goto(admin_url(f"{LIST}?per_page=10"))
    tick(demo, "Era Person12", "Era Person11")
    run_action(demo, "Request erasure of selected customers")
    assert "Request erasure of these 2 customers?" in demo.locator("#content").inner_text()
    click_and_wait(demo.get_by_role("button", name="Yes, I’m sure"))
    assert "Erasure requested for 2 customers." in messages(demo)
    rows = demo.locator("#result_list tbody tr").filter(has_text="Erasure pending")
    assert sorted(rows.locator("th").all_inner_texts()) == ["Era Person11", "Era Person12"]


def test_erasure_of_all_customers_matching_the_list(demo, admin_url, twelve):
    demo.goto(admin_url(f"{LIST}?per_page=10"))
    select_all_matching(demo, 12)
    run_action(demo, "Request erasure of selected customers")
    assert "Request erasure of these 12 customers?" in demo.locator("#content").inner_text()
    click_and_wait(demo.get_by_role("button", name="Yes, I’m sure"))
    assert "Erasure requested for 12 customers." in messages(demo)


def test_history_page_lists_the_changes_newest_first(demo, admin_url, make_customer):
    make_customer(first_name="Hugo", last_name="Story", email="hugo@example.com")
    open_customer(demo, admin_url, "Hugo Story")
    customer_field(demo, "Company").fill("Story & Fils")
    click_and_wait(demo.get_by_role("button", name="Save and continue editing"))
    click_and_wait(demo.get_by_role("link", name="Request erasure"))
    click_and_wait(demo.get_by_role("button", name="Yes, I’m sure"))

    click_and_wait(demo.locator("#content").get_by_role("link", name="History", exact=True))
    assert demo.get_by_role("heading", name="History of Hugo Story").is_visible()
    rows = demo.locator("#content table tbody tr").all_inner_texts()
    assert len(rows) == 2, rows
    assert "Erasure requested" in rows[0] and "demo" in rows[0]
    assert "Updated" in rows[1] and "Story & Fils" in rows[1]


def test_history_page_writes_each_event_as_a_sentence(demo, admin_url, make_customer):
    make_customer(first_name="Hugo", last_name="Story", phone="+12015550123", tags=["Loyal"])
    open_customer(demo, admin_url, "Hugo Story")
    customer_field(demo, "Phone").fill("(617) 555-0142")
    customer_field(demo, "Tags").fill("Loyal, vip")
    click_and_wait(demo.get_by_role("button", name="Save and continue editing"))
    demo.goto(admin_url(LIST))
    tick(demo, "Hugo Story")
    run_action(demo, "Archive selected customers")
    click_and_wait(demo.get_by_role("button", name="Archive", exact=True))

    demo.goto(admin_url(LIST + "?status=archived"))
    click_and_wait(demo.locator("#result_list").get_by_role("link", name="Hugo Story"))
    click_and_wait(demo.locator("#content").get_by_role("link", name="History", exact=True))
    details = demo.locator("#change-history tbody td:last-child").all_inner_texts()
    assert len(details) == 2, details
    text = "\n".join(details)
    assert "+1201555" not in text and "+1617555" not in text, text
    # A tag added replaces nothing: no arrow between the old tags and the new one.
    assert not [line for line in text.splitlines() if "vip" in line and "→" in line], text
    # No “key: value” lines with internal keys such as “tags added:” or “status:”.
    assert not re.search(r"(?m)^[a-z_ ]+:", text), text
    assert "(201) 555-0123" in text and "(617) 555-0142" in text, text
    assert "vip" in text and "archived" in text.lower(), text
