"""The duplicates page, a merge that takes a field from the other record, and its undo."""

from __future__ import annotations

import pytest

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


@pytest.mark.xfail(
    strict=True,
    reason="issue 14: choosing another record to keep and “Update preview” resets the "
    "field-by-field choices to the new survivor's values",
)
def test_update_preview_keeps_the_explicit_field_choices(demo, admin_url, twins):
    merge_page_from_duplicates(demo, admin_url)
    table = demo.locator("#merge-table")
    # Keep the newer record, but the older record's company: both chosen before one preview.
    table.locator("tr").filter(has_text="Record to keep").get_by_label("Keep this record").nth(
        1
    ).check()
    table.locator("tr").filter(has_text="Company").get_by_label("Curie SA").check()
    click_and_wait(demo.get_by_role("button", name="Update preview"))
    company = table.locator("tr").filter(has_text="Company")
    assert company.get_by_label("Curie SA").is_checked()
    assert company.locator("strong").inner_text() == "Curie SA"
