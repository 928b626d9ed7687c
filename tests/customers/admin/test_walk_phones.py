"""Phones shown one way everywhere (the list's), typed in any format, found in any format."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.audit.events import customer_updated_event
from customers.phones import (
    phone_display_in_text,
    phone_search_candidates,
    phone_search_regions_forget,
)
from tests.customers.bulk_helpers import start
from tests.customers.test_editing import page_form_data

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:customers_customer_changelist")


@pytest.fixture(autouse=True)
def _fresh_regions():
    # The regions searched are cached for minutes; each test builds its own store.
    phone_search_regions_forget()
    yield
    phone_search_regions_forget()


def change_url(customer) -> str:
    return reverse("admin:customers_customer_change", args=[customer.pk])


def test_change_form_shows_the_lists_format_and_keeps_the_number(admin_client, make_customer):
    customer = make_customer(phone="+12025550123")
    page = admin_client.get(change_url(customer))
    assert 'name="phone" value="(202) 555-0123"' in page.content.decode()
    response = admin_client.post(change_url(customer), page_form_data(page))
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.phone == "+12025550123"
    assert customer.version == 1  # nothing changed, nothing saved


def test_change_form_accepts_any_format(admin_client, make_customer, make_address):
    customer = make_customer(phone="+33612345678")
    make_address(customer, country_code="FR", city="Paris", postal_code="75001", is_default=True)
    page = admin_client.get(change_url(customer))
    # Not the store's region: shown internationally, as in the list.
    assert 'name="phone" value="+33 6 12 34 56 78"' in page.content.decode()
    for typed, stored in (
        ("06 98 76 54 32", "+33698765432"),
        ("+33 6 11 22 33 44", "+33611223344"),
    ):
        data = page_form_data(admin_client.get(change_url(customer)))
        data["phone"] = typed
        assert admin_client.post(change_url(customer), data).status_code == 302
        customer.refresh_from_db()
        assert customer.phone == stored


def test_a_french_national_number_finds_a_french_customer_in_a_us_store(
    admin_client, make_customer, make_address
):
    french = make_customer(first_name="Chloé", phone="+33612345678")
    make_address(french, country_code="FR", city="Lyon", postal_code="69001")
    make_customer(first_name="Other", phone="+12025550123")
    found = admin_client.get(LIST_URL, {"q": "06 12 34 56 78"}).context["cl"].result_list
    assert list(found) == [french]
    assert "+33612345678" in phone_search_candidates("06 12 34 56 78")


def test_search_regions_are_read_once_and_cached(
    make_customer, make_address, django_assert_num_queries
):
    make_address(make_customer(), country_code="FR", city="Lyon", postal_code="69001")
    with django_assert_num_queries(1):
        phone_search_candidates("06 12 34 56 78")
        phone_search_candidates("07 12 34 56 78")


def test_duplicates_merges_and_delete_pages_show_the_lists_format(
    client, make_staff, make_customer, make_order, superuser
):
    one = make_customer(first_name="", last_name="Shop", email="", phone="+12025550123")
    two = make_customer(first_name="Ann", email="ann@example.com", phone="+12025550123")
    make_order(one)
    client.force_login(
        make_staff("view_customer", "change_customer", "merge_customer", "delete_customer")
    )
    duplicates = client.get(reverse("admin:customers_customer_duplicates")).content.decode()
    assert duplicates.count("(202) 555-0123") == 3  # the shared value and both customers
    assert "+12025550123" not in duplicates

    deletion = start(client, "delete_customers", [one, two]).content.decode()
    assert "Shop &lt;(202) 555-0123&gt;</a> — has order history" in deletion
    assert "+12025550123" not in deletion

    merge = client.get(reverse("admin:customers_customer_merge"), {"ids": f"{one.pk},{two.pk}"})
    assert "(202) 555-0123" in merge.content.decode()
    assert "+12025550123" not in merge.content.decode()


def test_history_and_event_texts_show_the_lists_format(admin_client, make_customer):
    customer = make_customer(phone="+12025550199")
    customer_updated_event(
        actor="test",
        customer=customer,
        changes={"phone": ["+12025550123", "+12025550199"]},
        related={},
    )
    html = admin_client.get(
        reverse("admin:customers_customer_history", args=[customer.pk])
    ).content.decode()
    assert "Phone changed from (202) 555-0123 to (202) 555-0199." in html
    assert "+1202555" not in html
    assert phone_display_in_text("Ann <+33612345678>") == "Ann <+33 6 12 34 56 78>"
