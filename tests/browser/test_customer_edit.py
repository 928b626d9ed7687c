"""Open a customer from the list, edit it, add an address (US military rules) and a note."""

from __future__ import annotations

import pytest

from tests.browser.pages import LIST, click_and_wait, messages, search


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


def test_add_a_note_and_see_it_with_its_author(demo, admin_url, alice):
    open_customer(demo, admin_url, "Alice Martin")
    demo.locator("#notes-0").get_by_role("textbox").fill("Prefers delivery after 6 pm.")
    save_and_continue(demo)
    assert any("was changed successfully" in text for text in messages(demo))
    note = demo.locator("#notes-0")
    assert note.get_by_role("textbox").input_value() == "Prefers delivery after 6 pm."
    assert "demo" in note.inner_text()
