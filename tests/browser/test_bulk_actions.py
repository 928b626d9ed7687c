"""Each bulk action of the list, on ticked rows and on "select all N" across pages, through its
confirmation page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from customers.models import Customer, Status
from groups.models import CustomerGroup
from tests.browser.pages import (
    LIST,
    click_and_wait,
    listed_names,
    messages,
    run_action,
    select_all_matching,
    sidebar_filter,
    tick,
)

CROWD = 12  # more than one page of 10
TICKED = ["Bulk Person12", "Bulk Person11"]  # newest first: the top of page 1
EVERYONE = [f"Bulk Person{n:02d}" for n in range(1, CROWD + 1)]


@pytest.fixture
def crowd(make_customer):
    retail = CustomerGroup.objects.create(name="Retail")
    CustomerGroup.objects.create(name="VIP")
    return [
        make_customer(
            first_name="Bulk",
            last_name=f"Person{n:02d}",
            email=f"bulk.person{n:02d}@example.com",
            group=retail,
            tags=["Old"],
        )
        for n in range(1, CROWD + 1)
    ]


def rows_by_name(page, url, query: str = "") -> dict[str, str]:
    """Every listed customer's row text by name, on one page of up to 100 rows."""
    page.goto(url(f"{LIST}?per_page=100{query}"))
    rows = page.locator("#result_list tbody tr")
    return {row.locator("th").inner_text().strip(): row.inner_text() for row in rows.all()}


@dataclass
class Action:
    label: str
    submit: str
    done: Callable[[int], str]
    fill: Callable = lambda page: None
    setup: Callable = lambda crowd: None
    start: str = ""  # the list's query string the staff starts from
    check: Callable = field(default=lambda page, url, names: None)
    # What the confirmation page says of the selection, when it is not the shared summary.
    summary: Callable | None = None


def _fill_tags(value):
    return lambda page: page.get_by_label("Tags").fill(value)


def _has(text, present=True):
    def check(page, url, names):
        rows = rows_by_name(page, url)
        for name in EVERYONE:
            assert (text in rows[name]) is (present if name in names else not present), name

    return check


def _archived(page, url, names):
    assert set(rows_by_name(page, url)) == set(EVERYONE) - set(names)
    assert set(rows_by_name(page, url, "&status=archived")) == set(names)


def _unarchived(page, url, names):
    assert set(rows_by_name(page, url)) == set(names)


def _archive_all(crowd):
    for customer in crowd:
        customer.status = Status.ARCHIVED
        customer.save()


def _request_erasure_of_all(crowd):
    Customer.objects.filter(pk__in=[c.pk for c in crowd]).update(
        erasure_requested_at=timezone.now()
    )


def _deleted(page, url, names):
    assert set(rows_by_name(page, url)) == set(EVERYONE) - set(names)


def _erasure_summary(question):
    def summary(page, names):
        assert question(len(names)) in page.locator("#content").inner_text()
        assert page.locator("ul.erasure-customers li").all_inner_texts() == sorted(names)

    return summary


def _fill_email(page):
    page.get_by_label("Subject").fill("Your order is ready, {first_name}")
    page.get_by_label("Text").fill("Hello {first_name} {last_name},\nsee you soon.")


def _emailed(mailoutbox):
    def check(page, url, names):
        assert sorted(m.to[0] for m in mailoutbox) == sorted(
            f"{name.split()[1].replace('Person', 'bulk.person')}@example.com" for name in names
        )
        assert {m.subject for m in mailoutbox} == {"Your order is ready, Bulk"}

    return check


ACTIONS = {
    "add_tags": Action(
        label="Add tags to selected customers",
        submit="Add tags",
        fill=_fill_tags("Loyal, Newsletter"),
        done=lambda n: f"Tag “Loyal” added to {n} customers.",
        check=_has("Loyal"),
    ),
    "remove_tags": Action(
        label="Remove tags from selected customers",
        submit="Remove tags",
        fill=_fill_tags("Old"),
        done=lambda n: f"Tag “Old” removed from {n} customers.",
        check=_has("Old", present=False),
    ),
    "assign_group": Action(
        label="Assign selected customers to a group",
        submit="Assign",
        fill=lambda page: page.get_by_label("Group:", exact=True).select_option(label="VIP"),
        done=lambda n: f"{n} customers moved to group “VIP”.",
        check=_has("VIP"),
    ),
    "remove_group": Action(
        label="Remove selected customers from their group",
        submit="Remove from group",
        done=lambda n: f"{n} customers removed from their group.",
        check=_has("Retail", present=False),
    ),
    "archive": Action(
        label="Archive selected customers",
        submit="Archive",
        done=lambda n: f"{n} customers archived.",
        check=_archived,
    ),
    "unarchive": Action(
        label="Unarchive selected customers",
        submit="Unarchive",
        setup=_archive_all,
        start="status=archived",
        done=lambda n: f"{n} customers unarchived.",
        check=_unarchived,
    ),
    "request_erasure": Action(
        label="Request erasure of selected customers",
        submit="Yes, I’m sure",
        summary=_erasure_summary(lambda n: f"Request erasure of these {n} customers?"),
        done=lambda n: f"Erasure requested for {n} customers.",
        check=_has("Erasure pending"),
    ),
    "cancel_erasure": Action(
        label="Cancel erasure request of selected customers",
        submit="Yes, I’m sure",
        setup=_request_erasure_of_all,
        summary=_erasure_summary(lambda n: f"Cancel the erasure requests of these {n} customers?"),
        done=lambda n: f"Erasure request cancelled for {n} customers.",
        check=_has("Erasure pending", present=False),
    ),
    "delete": Action(
        label="Delete selected customers",
        submit="Yes, delete the deletable ones",
        done=lambda n: f"{n} customers deleted.",
        check=_deleted,
    ),
    "send_email": Action(
        label="Email selected customers",
        submit="Send",
        fill=_fill_email,
        done=lambda n: f"Email sent to {n} customers.",
    ),
}


@pytest.mark.parametrize("scope", ["ticked", "select_all"])
@pytest.mark.parametrize("key", list(ACTIONS))
def test_bulk_action_through_its_confirmation_page(demo, admin_url, crowd, mailoutbox, key, scope):
    action = ACTIONS[key]
    action.setup(crowd)
    demo.goto(admin_url(f"{LIST}?per_page=10&{action.start}"))
    assert len(listed_names(demo)) == 10
    if scope == "ticked":
        tick(demo, *TICKED)
        names = TICKED
    else:
        select_all_matching(demo, CROWD)
        names = EVERYONE
    run_action(demo, action.label)

    if action.summary:
        action.summary(demo, names)
    else:
        summary = demo.locator("#selection-summary").inner_text()
        if scope == "ticked":
            assert f"{len(names)} customers are selected:" in summary
            assert all(name in summary for name in names)
        else:
            assert f"All {CROWD} customers matching the list's filters are selected." in summary
    action.fill(demo)
    click_and_wait(demo.get_by_role("button", name=action.submit, exact=True))

    assert action.done(len(names)) in messages(demo)
    check = _emailed(mailoutbox) if key == "send_email" else action.check
    check(demo, admin_url, names)


def test_cancelling_a_confirmation_page_changes_nothing(demo, admin_url, crowd):
    demo.goto(admin_url(f"{LIST}?per_page=10"))
    tick(demo, *TICKED)
    run_action(demo, "Archive selected customers")
    click_and_wait(demo.get_by_role("link", name="No, take me back"))
    assert set(rows_by_name(demo, admin_url)) == set(EVERYONE)


def test_a_tag_of_several_words_stays_one_tag(demo, admin_url, crowd):
    demo.goto(admin_url(f"{LIST}?per_page=10"))
    tick(demo, *TICKED)
    run_action(demo, "Add tags to selected customers")
    demo.get_by_label("Tags").fill("Black Friday")
    click_and_wait(demo.get_by_role("button", name="Add tags", exact=True))
    assert messages(demo) == ["Tag “Black Friday” added to 2 customers."]
    sidebar_filter(demo, "tag", "Black Friday")
    assert set(listed_names(demo)) == set(TICKED)


@pytest.mark.parametrize("scope", ["ticked", "select_all"])
def test_merge_from_the_list_through_the_merge_page(demo, admin_url, crowd, scope):
    demo.goto(admin_url(f"{LIST}?per_page=10"))
    if scope == "ticked":
        tick(demo, *TICKED)
        names = TICKED
    else:
        select_all_matching(demo, CROWD)
        names = EVERYONE
    run_action(demo, "Merge selected customers")
    assert demo.get_by_role("heading", name="Merge customers").is_visible()
    columns = demo.locator("#merge-table thead th a").all_text_contents()
    assert sorted(columns) == sorted(names)
    survivor = columns[0]
    click_and_wait(demo.get_by_role("button", name="Merge", exact=True))
    merged = len(names) - 1
    assert messages(demo) == [
        f"Merged {merged} customer{'s' if merged > 1 else ''} into {survivor}: 0 orders, "
        "0 notes and 0 addresses moved."
    ]
    assert set(rows_by_name(demo, admin_url)) == set(EVERYONE) - set(names) | {survivor}


# Every action the list offers a manager is driven above or in its own module.
COVERED_ELSEWHERE = {
    "Export selected customers": "test_import_export.py",
    "Merge selected customers": "test_merge_from_the_list_through_the_merge_page",
    "Edit selected customers": "test_mass_update.py",
}


def test_every_action_of_the_list_has_a_browser_test(demo, admin_url, crowd):
    demo.goto(admin_url(LIST))
    offered = set(demo.locator("select[name=action] option").all_inner_texts()) - {"---------"}
    assert offered == {action.label for action in ACTIONS.values()} | set(COVERED_ELSEWHERE)
