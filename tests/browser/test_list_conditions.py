"""The conditions form of the customer list's sidebar: ranges, tags, and what bad input says."""

from __future__ import annotations

from tests.browser.pages import LIST, click_and_wait, listed_names, search

# The list page's own shop: each test below takes it as its ``shop`` fixture.
from tests.browser.test_customer_list import shop  # noqa: F401


def conditions(page):
    return page.locator("#changelist-filter form.conditions-filter")


def apply(page, **values: str) -> None:
    form = conditions(page)
    for name, value in values.items():
        form.locator(f"[name={name}]").fill(value)
    click_and_wait(form.locator("input[type=submit]"))


def test_a_range_narrows_the_list_and_keeps_the_search(demo, admin_url, shop):  # noqa: F811
    demo.goto(admin_url(LIST))
    search(demo, "Alice")
    assert set(listed_names(demo)) == {"Alice Martin", "Alice Twin"}
    apply(demo, order_count_min="1")
    assert set(listed_names(demo)) == {"Alice Martin"}
    assert demo.locator("#searchbar").input_value() == "Alice"
    assert conditions(demo).locator("[name=order_count_min]").input_value() == "1"
    assert demo.locator("#changelist-filter").get_by_role("link", name="Clear all filters").count()


def test_money_and_tags_together(demo, admin_url, shop):  # noqa: F811
    demo.goto(admin_url(LIST))
    apply(demo, total_spent_min="5", total_spent_max="100")
    assert set(listed_names(demo)) == {"Alice Martin", "Bruno Keller"}
    apply(demo, tag_none="loyal")
    assert set(listed_names(demo)) == {"Bruno Keller"}


def test_a_maximum_below_the_minimum_is_said_on_the_page(demo, admin_url, shop):  # noqa: F811
    demo.goto(admin_url(LIST))
    apply(demo, total_spent_min="100", total_spent_max="5")
    assert (
        "Total spent: The maximum is below the minimum."
        in demo.locator(".messagelist").inner_text()
    )
    assert set(listed_names(demo)) == {"Alice Martin", "Bruno Keller", "Chloé Durand", "Alice Twin"}
