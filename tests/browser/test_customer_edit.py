"""Open a customer from the list, edit it, add an address (US military rules) and a note."""

from __future__ import annotations

import re

import pytest

from customers.models import Order
from tests.browser.pages import (
    LIST,
    click_and_wait,
    customer_field,
    listed_names,
    messages,
    search,
    sidebar_filter,
)


@pytest.fixture
def alice(make_customer):
    return make_customer(first_name="Alice", last_name="Martin", email="alice@example.com")


def open_customer(page, url, name: str) -> None:
    page.goto(url(LIST))
    search(page, name)
    click_and_wait(page.locator("#result_list").get_by_role("link", name=name, exact=True))
    assert page.get_by_role("heading", name=name).is_visible()


def save_and_continue(page) -> None:
    click_and_wait(page.get_by_role("button", name="Save and continue editing"))


def test_open_a_customer_edit_it_and_see_the_change_in_the_list(demo, admin_url, alice):
    open_customer(demo, admin_url, "Alice Martin")
    main = demo.locator("fieldset").first
    main.get_by_label("Last name:").fill("Martin-Lefèvre")
    main.get_by_label("Phone:", exact=True).fill("(617) 555-0142")
    main.get_by_label("Company:").fill("Boulangerie Lefèvre")
    save_and_continue(demo)
    assert any("was changed successfully" in text for text in messages(demo))
    assert demo.get_by_label("Last name:").input_value() == "Martin-Lefèvre"

    demo.goto(admin_url(LIST))
    row = demo.locator("#result_list tbody tr").filter(has_text="alice@example.com")
    assert "Alice Martin-Lefèvre" in row.inner_text()
    assert "(617) 555-0142" in row.inner_text()


def fill_address(page, *, line1: str, city: str, state: str, country: str, zip_code: str):
    page.get_by_role("button", name="Add another Address").click()
    form = page.locator("#addresses-0")
    form.get_by_label("Address line 1").fill(line1)
    form.get_by_label("City").fill(city)
    form.get_by_label("Province / state code").fill(state)
    form.get_by_label("Country code").fill(country)
    form.get_by_label("Postal code").fill(zip_code)
    form.get_by_label("Default address").check()


def test_a_wrong_military_address_shows_its_message_and_a_right_one_saves(demo, admin_url, alice):
    open_customer(demo, admin_url, "Alice Martin")
    fill_address(
        demo, line1="12 Rue de la Paix", city="APO", state="AE", country="US", zip_code="09012"
    )
    save_and_continue(demo)
    assert demo.locator(".errornote").is_visible()
    errors = demo.locator("#addresses-0 .errorlist").all_inner_texts()
    assert any(
        "A US military address needs 'UNIT, CMR or PSC <number> BOX <number>' as its first line."
        in text
        for text in errors
    ), errors

    demo.locator("#addresses-0").get_by_label("Address line 1").fill("unit 2050 box 4190")
    save_and_continue(demo)
    assert any("was changed successfully" in text for text in messages(demo))
    saved = demo.locator("#addresses-0")
    assert saved.get_by_label("Address line 1").input_value() == "UNIT 2050 BOX 4190"
    assert saved.get_by_label("City").input_value() == "APO"


def blank_note(page):
    """The note form to write in: the blank row, or a new one when the page shows none."""
    blank = page.locator("#notes-group tr.form-row:not(.has_original):not(.empty-form)")
    if not blank.count():
        page.get_by_role("button", name="Add another Note").click()
    return blank.first


def test_add_a_note_and_see_it_with_its_author(demo, admin_url, alice):
    open_customer(demo, admin_url, "Alice Martin")
    blank_note(demo).get_by_role("textbox").fill("Prefers delivery after 6 pm.")
    save_and_continue(demo)
    assert any("was changed successfully" in text for text in messages(demo))
    note = demo.locator("#notes-0")
    assert note.get_by_role("textbox").input_value() == "Prefers delivery after 6 pm."
    assert "demo" in note.inner_text()


def test_the_blank_note_row_shows_no_time_and_no_remove_link(demo, admin_url, alice):
    open_customer(demo, admin_url, "Alice Martin")
    blank = demo.locator("#notes-group tr.form-row:not(.has_original):not(.empty-form)")
    assert blank.count() <= 1
    for row in blank.all():
        assert not re.search(r"\d{4}|\d:\d\d", row.inner_text()), row.inner_text()
        assert not row.get_by_role("link", name="Remove").count()


def test_change_form_shows_plain_tags_and_keeps_multi_word_tags(demo, admin_url, make_customer):
    make_customer(first_name="Alice", last_name="Martin", tags=["Loyal customer", "Newsletter"])
    open_customer(demo, admin_url, "Alice Martin")
    tags = customer_field(demo, "Tags")
    assert tags.input_value() == "Loyal customer, Newsletter"
    tags.fill("Loyal customer, Newsletter, Gift card buyer")
    save_and_continue(demo)
    shown = customer_field(demo, "Tags").input_value()
    assert sorted(shown.split(", ")) == ["Gift card buyer", "Loyal customer", "Newsletter"]
    demo.goto(admin_url(LIST))
    tag_choices = demo.locator("#changelist-filter details").filter(has_text="By tag")
    assert set(tag_choices.get_by_role("link").all_inner_texts()) == {
        "All",
        "Gift card buyer",
        "Loyal customer",
        "Newsletter",
    }
    sidebar_filter(demo, "tag", "Gift card buyer")
    assert listed_names(demo) == ["Alice Martin"]


def test_change_form_shows_the_phone_as_the_list_does(demo, admin_url, make_customer):
    make_customer(first_name="Alice", last_name="Martin", phone="+12015550123")
    demo.goto(admin_url(LIST))
    assert "(201) 555-0123" in demo.locator("#result_list tbody tr").first.inner_text()
    open_customer(demo, admin_url, "Alice Martin")
    phone = customer_field(demo, "Phone")
    assert phone.input_value() == "(201) 555-0123"
    phone.fill("+1 617 555 0142")
    save_and_continue(demo)
    assert customer_field(demo, "Phone").input_value() == "(617) 555-0142"


def test_order_page_shows_the_shipping_address_as_an_address(demo, admin_url, alice, make_order):
    order = make_order(
        alice,
        number="#1042",
        shipping_address={
            "name": "Alice Martin",
            "address1": "12 Elm St",
            "address2": "Apt 4",
            "city": "Boston",
            "province_code": "MA",
            "postal_code": "02114",
            "country_code": "US",
        },
    )
    demo.goto(admin_url(f"/admin/customers/order/{order.pk}/change/"))
    shown = (
        demo.locator(".form-row")
        .filter(has=demo.locator("label", has_text="Shipping address"))
        .locator(".readonly")
        .inner_text()
    )
    assert not set(shown) & set('{}"'), shown
    assert "address1" not in shown and "postal_code" not in shown
    lines = [line.strip() for line in shown.splitlines() if line.strip()]
    assert lines[:3] == ["Alice Martin", "12 Elm St", "Apt 4"], lines
    assert "Boston" in shown and "02114" in shown
    assert Order.objects.get(pk=order.pk).shipping_address["city"] == "Boston"
