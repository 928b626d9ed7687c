"""The duplicates page, a merge that takes a field from the other record, and its undo."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from django.utils.formats import date_format

from tests.browser.pages import (
    LIST,
    click_and_wait,
    customer_field,
    listed_names,
    messages,
    search,
)


@pytest.fixture
def twins(make_customer, make_order):
    older = make_customer(
        first_name="Marie",
        last_name="Curie",
        email="marie@example.fr",
        phone="+33612345678",
        company="Curie SA",
    )
    make_order(older)
    newer = make_customer(
        first_name="Marie",
        last_name="Sklodowska",
        email="",
        phone="+33612345678",
        company="Radium Ltd",
    )
    make_customer(first_name="Pierre", last_name="Alone", email="pierre@example.fr")
    return older, newer


def merge_page_from_duplicates(page, url):
    page.goto(url(LIST))
    click_and_wait(page.get_by_role("link", name="Possible duplicates", exact=True))
    rows = page.locator("#duplicate-groups tbody tr")
    assert rows.count() == 1
    row = rows.first
    assert "Same phone" in row.inner_text()
    assert "Marie Curie" in row.inner_text() and "Marie Sklodowska" in row.inner_text()
    assert "Pierre Alone" not in page.locator("#content").inner_text()
    click_and_wait(row.get_by_role("link", name="Merge…"))
    assert page.get_by_role("heading", name="Merge customers").is_visible()


def test_merge_takes_a_field_from_the_other_record_and_can_be_undone(demo, admin_url, twins):
    merge_page_from_duplicates(demo, admin_url)
    table = demo.locator("#merge-table")
    keep = table.locator("tr").filter(has_text="Record to keep")
    keep.get_by_label("Keep this record").first.check()
    company = table.locator("tr").filter(has_text="Company")
    company.get_by_label("Radium Ltd").check()
    click_and_wait(demo.get_by_role("button", name="Update preview"))
    assert (
        "Radium Ltd"
        in table.locator("tr").filter(has_text="Company").locator("strong").inner_text()
    )

    click_and_wait(demo.get_by_role("button", name="Merge", exact=True))
    assert messages(demo), "the merge reports what it did"
    demo.goto(admin_url(LIST))
    assert set(listed_names(demo)) == {"Marie Curie", "Pierre Alone"}
    search(demo, "marie@example.fr")
    click_and_wait(demo.locator("#result_list").get_by_role("link", name="Marie Curie"))
    assert customer_field(demo, "Company").input_value() == "Radium Ltd"

    click_and_wait(demo.get_by_role("link", name="Merges (1) · Unmerge"))
    merges = demo.locator("#merges")
    assert "Marie Sklodowska" in merges.inner_text()
    click_and_wait(merges.get_by_role("link", name="Unmerge…"))
    click_and_wait(demo.get_by_role("button", name="Yes, undo this merge"))
    assert messages(demo)
    demo.goto(admin_url(LIST))
    assert set(listed_names(demo)) == {"Marie Curie", "Marie Sklodowska", "Pierre Alone"}
    search(demo, "marie@example.fr")
    click_and_wait(demo.locator("#result_list").get_by_role("link", name="Marie Curie"))
    assert customer_field(demo, "Company").input_value() == "Curie SA"


def test_update_preview_keeps_the_explicit_field_choices(demo, admin_url, twins, make_customer):
    # A third record, so that a value chosen is neither the old nor the new survivor's.
    make_customer(
        first_name="Maria",
        last_name="Salomea",
        email="",
        phone="+33612345678",
        company="Polonium GmbH",
    )
    merge_page_from_duplicates(demo, admin_url)
    table = demo.locator("#merge-table")
    table.locator("tr").filter(has_text="Company").get_by_label("Polonium GmbH").check()
    keep = table.locator("tr").filter(has_text="Record to keep").get_by_label("Keep this record")
    keep.nth(1).check()
    click_and_wait(demo.get_by_role("button", name="Update preview"))
    company = table.locator("tr").filter(has_text="Company")
    assert company.get_by_label("Polonium GmbH").is_checked()
    assert company.locator("strong").inner_text() == "Polonium GmbH"


@pytest.fixture
def us_pairs(make_customer, make_order):
    """Two pairs sharing a US number (the store's region); merging moves an order and a note."""
    first = make_customer(
        first_name="Ann", last_name="Lee", email="ann.lee@example.com", phone="+12015550123"
    )
    make_order(first)
    make_order(first)  # the most orders: the record kept by default
    second = make_customer(first_name="Ann", last_name="Leigh", email="", phone="+12015550123")
    make_order(second)
    second.notes.create(body="Called about a refund.")
    for first_name, email in (("Bob", "bob@example.com"), ("Robert", "robert@example.com")):
        make_customer(first_name=first_name, last_name="Stone", email=email, phone="+12015550199")
    return first, second


def duplicate_rows(page) -> list[str]:
    return page.locator("#duplicate-groups tbody tr").all_inner_texts()


def test_duplicates_page_searches_by_name_email_and_phone(demo, admin_url, us_pairs):
    demo.goto(admin_url(f"{LIST}duplicates/"))
    assert len(duplicate_rows(demo)) == 2
    box = demo.locator("#content").locator("input[type=search], input[type=text]").first
    assert box.count(), "the duplicates page has no search box"
    for term, expected in [
        ("Leigh", "Ann Leigh"),
        ("robert@example.com", "Bob Stone"),
        ("(201) 555-0123", "Ann Lee"),
    ]:
        box.fill(term)
        click_and_wait_enter(box)
        rows = duplicate_rows(demo)
        assert len(rows) == 1 and expected in rows[0], (term, rows)
        box = demo.locator("#content").locator("input[type=search], input[type=text]").first
        assert box.input_value() == term


def click_and_wait_enter(box) -> None:
    with box.page.expect_navigation():
        box.press("Enter")


def test_duplicates_page_shows_phones_as_the_list_does(demo, admin_url, us_pairs):
    demo.goto(admin_url(f"{LIST}duplicates/"))
    text = demo.locator("#duplicate-groups").inner_text()
    assert "+1201555" not in text
    assert "(201) 555-0123" in text and "(201) 555-0199" in text


def test_merge_message_uses_plural_forms(demo, admin_url, us_pairs):
    first, second = us_pairs
    demo.goto(admin_url(f"{LIST}merge/?ids={first.pk},{second.pk}"))
    click_and_wait(demo.get_by_role("button", name="Merge", exact=True))
    (message,) = messages(demo)
    assert message.startswith("Merged 1 customer into Ann Lee: "), message
    assert not re.search(r"\b1 (orders|notes|addresses)\b", message), message
    assert re.search(r"\b1 order\b", message) and re.search(r"\b1 note\b", message), message


def test_merge_page_shows_dates_as_the_other_pages_do(demo, admin_url, us_pairs):
    first, second = us_pairs
    demo.goto(admin_url(f"{LIST}merge/?ids={first.pk},{second.pk}"))
    created = demo.locator("#merge-table tr").filter(has_text="Created")
    shown = created.locator("td").all_inner_texts()
    assert len(shown) == 3, shown
    today = date_format(timezone.localtime(first.created_at), "DATE_FORMAT")
    for text in shown:
        assert not re.search(r"\d{1,2}/\d{1,2}/\d{4}", text), text
        assert text.startswith(today), (text, today)
