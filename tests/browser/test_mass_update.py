""" "Edit selected customers" in a browser: tick rows (or select all), tick the changes, read
them back in words, confirm, see the message and the list."""

from __future__ import annotations

import pytest

from customers.models import Customer
from groups.models import CustomerGroup
from tests.browser.pages import (
    LIST,
    click_and_wait,
    listed_names,
    messages,
    run_action,
    select_all_matching,
    tick,
)

CROWD = 12  # more than one page of 10
TICKED = ["Mass Person12", "Mass Person11"]  # newest first: the top of page 1
EVERYONE = [f"Mass Person{n:02d}" for n in range(1, CROWD + 1)]


@pytest.fixture
def crowd(make_customer):
    retail = CustomerGroup.objects.create(name="Retail")
    CustomerGroup.objects.create(name="VIP")
    return [
        make_customer(
            first_name="Mass",
            last_name=f"Person{n:02d}",
            email=f"mass.person{n:02d}@example.com",
            group=retail,
            tags=["Old"],
        )
        for n in range(1, CROWD + 1)
    ]


def rows_by_name(page, url) -> dict[str, str]:
    page.goto(url(f"{LIST}?per_page=100"))
    rows = page.locator("#result_list tbody tr")
    return {row.locator("th").inner_text().strip(): row.inner_text() for row in rows.all()}


@pytest.mark.parametrize("scope", ["ticked", "select_all"])
def test_tick_group_and_a_tag_confirm_and_see_the_rows_changed(demo, admin_url, crowd, scope):
    demo.goto(admin_url(f"{LIST}?per_page=10"))
    assert len(listed_names(demo)) == 10
    if scope == "ticked":
        tick(demo, *TICKED)
        names = TICKED
    else:
        select_all_matching(demo, CROWD)
        names = EVERYONE
    run_action(demo, "Edit selected customers")

    demo.get_by_label("Change the group").check()
    demo.get_by_label("Group:", exact=True).select_option(label="VIP")
    demo.get_by_label("Add tags").check()
    demo.get_by_label("Tags to add").fill("Loyal, Spring fair")
    click_and_wait(demo.get_by_role("button", name="Review the changes", exact=True))

    changes = demo.locator("#mass-update-changes").inner_text()
    assert f"These changes will be made to {len(names)} customers:" in changes
    assert "Move to the group “VIP”." in changes
    assert "Add the tags: Loyal, Spring fair." in changes
    assert Customer.objects.filter(group__name="VIP").count() == 0
    click_and_wait(demo.get_by_role("button", name="Apply the changes", exact=True))

    assert messages(demo) == [
        f"{len(names)} customers edited.",
        f"{len(names)} customers moved to group “VIP”.",
        f"Tag “Loyal” added to {len(names)} customers.",
        f"Tag “Spring fair” added to {len(names)} customers.",
    ]
    rows = rows_by_name(demo, admin_url)
    for name in EVERYONE:
        edited = name in names
        assert ("VIP" in rows[name]) is edited, name
        assert ("Loyal" in rows[name]) is edited, name
        assert ("Retail" in rows[name]) is not edited, name


def test_going_back_from_the_confirmation_keeps_the_ticked_changes(demo, admin_url, crowd):
    demo.goto(admin_url(f"{LIST}?per_page=10"))
    tick(demo, *TICKED)
    run_action(demo, "Edit selected customers")
    demo.get_by_label("Change tax exemption").check()
    demo.get_by_label("Tax exempt:").select_option(label="Yes")
    click_and_wait(demo.get_by_role("button", name="Review the changes", exact=True))
    assert "Tax exempt: yes." in demo.locator("#mass-update-changes").inner_text()
    click_and_wait(demo.get_by_role("button", name="Back to the form", exact=True))
    assert demo.get_by_label("Change tax exemption").is_checked()
    click_and_wait(demo.get_by_role("button", name="Review the changes", exact=True))
    click_and_wait(demo.get_by_role("button", name="Apply the changes", exact=True))
    assert messages(demo) == ["2 customers edited.", "Tax exempt changed on 2 customers."]
    assert set(Customer.objects.filter(tax_exempt=True).values_list("last_name", flat=True)) == {
        "Person12",
        "Person11",
    }
