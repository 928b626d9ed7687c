"""Saving a segment from the filtered list, then using it as the target of a bulk action
and of "Edit selected customers"."""

from __future__ import annotations

from customers.models import Customer, Segment
from tests.browser.conftest import screenshot
from tests.browser.pages import (
    LIST,
    click_and_wait,
    listed_names,
    messages,
    run_action,
    select_all_matching,
    sidebar_filter,
)

VIPS = [f"Vip Person{n:02d}" for n in range(1, 13)]  # more than one page of 10
OTHERS = ["Plain Person1", "Plain Person2", "Plain Person3"]


def test_saving_a_segment_from_the_list_and_tagging_it(demo, admin_url, make_customer):
    for name in VIPS + OTHERS:
        first, last = name.split()
        make_customer(first_name=first, last_name=last, tags=["VIP"] if first == "Vip" else [])
    demo.goto(admin_url(f"{LIST}?per_page=10"))
    sidebar_filter(demo, "tag", "VIP")
    assert len(listed_names(demo)) == 10

    click_and_wait(demo.get_by_role("link", name="Save as segment"))
    assert "Tagged VIP" in demo.locator("#segment-conditions").inner_text()
    screenshot(demo, "segment-save-as")
    demo.get_by_label("Name").fill("VIP customers")
    click_and_wait(demo.get_by_role("button", name="Save", exact=True))

    row = demo.locator("#result_list tbody tr").filter(has_text="VIP customers")
    assert "12 customers · 80.0 %" in row.inner_text()
    screenshot(demo, "segments-list")
    segment = Segment.objects.get()
    assert segment.conditions and segment.created_by.username == "demo"

    click_and_wait(row.get_by_role("link", name="VIP customers"))
    assert sorted(listed_names(demo)) == VIPS
    click_and_wait(demo.locator("p.page-size").get_by_role("link", name="10", exact=True))
    assert len(listed_names(demo)) == 10
    select_all_matching(demo, 12)
    run_action(demo, "Add tags to selected customers")
    summary = demo.locator("#selection-summary").inner_text()
    assert "All 12 customers matching the list's filters are selected." in summary
    assert "Segment: VIP customers" in summary
    screenshot(demo, "segment-add-tags")
    demo.get_by_label("Tags").fill("Spring")
    click_and_wait(demo.get_by_role("button", name="Add tags", exact=True))

    assert "Tag “Spring” added to 12 customers." in messages(demo)
    tagged = Customer.objects.filter(tags__name="Spring")
    assert sorted(tagged.values_list("first_name", "last_name")) == [
        tuple(name.split()) for name in VIPS
    ]

    # The same segment is the target of "Edit selected customers", re-evaluated on confirm:
    # a VIP tagged since the segment was saved is edited too.
    make_customer(first_name="Vip", last_name="Person13", tags=["VIP"])
    demo.goto(admin_url(f"{LIST}?segment={segment.pk}&per_page=10"))
    select_all_matching(demo, 13)
    run_action(demo, "Edit selected customers")
    demo.get_by_label("Add tags").check()
    demo.get_by_label("Tags to add").fill("Summer sale")
    click_and_wait(demo.get_by_role("button", name="Review the changes", exact=True))
    changes = demo.locator("#mass-update-changes").inner_text()
    assert "These changes will be made to 13 customers:" in changes
    assert "Segment: VIP customers" in demo.locator("#selection-summary").inner_text()
    click_and_wait(demo.get_by_role("button", name="Apply the changes", exact=True))
    assert "Tag “Summer sale” added to 13 customers." in messages(demo)
    summer = Customer.objects.filter(tags__name="Summer sale")
    assert sorted(summer.values_list("last_name", flat=True)) == [
        f"Person{n:02d}" for n in range(1, 14)
    ]
