"""Guarded delete, order and change pages as a clerk reads them."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from customers.admin.customer import CUSTOMER_ADMIN_CSS
from customers.admin.delete import DELETED_NAMED
from customers.admin.orders import shipping_address_lines
from customers.models import Note, Order
from tests.customers.bulk_helpers import start

pytestmark = pytest.mark.django_db


@pytest.fixture
def deleter(client, make_staff):
    client.force_login(make_staff("view_customer", "delete_customer"))
    return client


def test_delete_page_lists_each_kept_customer_once_and_counts_customers(
    deleter, make_customer, make_order
):
    kept = []
    for n in range(4):
        customer = make_customer(
            first_name=f"Kept{n}", has_active_subscription=n != 0, email=f"k{n}@example.com"
        )
        if n < 2:
            make_order(customer)
        kept.append(customer)
    html = start(deleter, "delete_customers", kept).content.decode()
    summary = re.search(r'<p id="kept-summary">(.*?)</p>', html, re.S).group(1)
    assert summary == (
        "4 customers will be kept: 2 have order history, 3 have an active subscription."
    )
    items = re.findall(r'<ul class="kept-customers">(.*?)</ul>', html, re.S)[0]
    assert items.count("<li>") == 4
    assert "has order history; has an active subscription" in items


def test_delete_page_names_the_first_customers_to_be_deleted_and_counts_the_rest(
    deleter, make_customer
):
    doomed = [make_customer(first_name=f"Gone{n:02}", email=f"g{n}@example.com") for n in range(13)]
    html = start(deleter, "delete_customers", doomed).content.decode()
    names = re.findall(r'<ul class="deleted-customers">(.*?)</ul>', html, re.S)[0]
    shown = re.findall(r">(Gone\d\d) Customer\d+ &lt;", names)
    assert shown == [f"Gone{n:02}" for n in range(DELETED_NAMED)]
    assert "and 3 more" in names

    one = start(deleter, "delete_customers", doomed[:1]).content.decode()
    assert "Gone00" in one and "more" not in one.split('<ul class="deleted-customers">')[1]


def test_order_page_shows_the_shipping_address_as_an_address(admin_client, make_customer):
    order = Order.objects.create(
        customer=make_customer(),
        number="#1001",
        total="12.00",
        source="shopify",
        shipping_address={
            "first_name": "Chloé",
            "last_name": "Martin",
            "address1": "3 rue de la Paix",
            "address2": "",
            "zip": "75002",
            "city": "Paris",
            "country_code": "FR",
            "phone": "+33612345678",
        },
    )
    html = admin_client.get(
        reverse("admin:customers_order_change", args=[order.pk])
    ).content.decode()
    assert (
        '<address class="shipping-address">Chloé Martin<br>3 rue de la Paix<br>75002 Paris<br>'
        "FR<br>+33 6 12 34 56 78</address>"
    ) in html
    assert "&quot;address1&quot;" not in html and '"address1"' not in html
    assert shipping_address_lines({}) == []
    assert shipping_address_lines({"country_code": "DE"}) == ["DE"]  # after erasure


def test_the_blank_note_row_has_no_time_and_saved_notes_have_theirs(admin_client, make_customer):
    customer = make_customer()
    note = Note.objects.create(customer=customer, body="Called back.", created_at=timezone.now())
    html = admin_client.get(
        reverse("admin:customers_customer_change", args=[customer.pk])
    ).content.decode()
    cells = dict(
        re.findall(r'id="notes-(\d+)">.*?<td class="field-written">(.*?)</td>', html, re.S)
    )
    saved, blank = cells["0"], cells["1"]
    assert str(note.created_at.year) in saved
    assert re.sub(r"<[^>]+>|\s", "", blank) == ""


def test_the_customer_stylesheet_is_linked_and_holds_the_laptop_rules(admin_client, make_customer):
    html = admin_client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert f'href="/static/{CUSTOMER_ADMIN_CSS}"' in html
    change = admin_client.get(reverse("admin:customers_customer_change", args=[make_customer().pk]))
    assert f'href="/static/{CUSTOMER_ADMIN_CSS}"' in change.content.decode()
    css = Path(finders.find(CUSTOMER_ADMIN_CSS)).read_text(encoding="utf-8")
    rules = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    # The layout itself is measured at 1366 px by tests/browser/test_customer_list.py.
    assert re.search(r"\.field-status_and_erasure[^{]*\{[^}]*white-space: nowrap", rules)
    assert re.search(r"\.field-display_name[^{]*\{[^}]*min-width", rules)
    assert re.search(r"#notes-group[^{]*\.inline-deletelink[^{]*\{[^}]*display: none", rules)


@pytest.mark.parametrize(
    ("before", "now", "text"),
    [
        (1, 2, "1 customer was selected; now 2 customers match."),
        (3, 1, "3 customers were selected; now 1 customer matches."),
    ],
)
def test_a_changed_selection_counts_both_numbers_in_their_plural_forms(before, now, text):
    selection = SimpleNamespace(changed=True, posted_count=before, count=now)
    html = render_to_string(
        "admin/customers/customer/includes/selection_changed.html", {"selection": selection}
    )
    assert text in " ".join(html.split())
