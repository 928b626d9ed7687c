"""The customer admin as shop staff use it: list, search, filters, add and change."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import Customer, CustomerEvent, EventKind, Note, Tag
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:customers_customer_changelist")
ADD_URL = reverse("admin:customers_customer_add")


def listed_emails(response) -> set[str]:
    return {c.email for c in response.context["cl"].result_list}


def test_anonymous_user_is_sent_to_login(client):
    response = client.get(LIST_URL)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_staff_without_permission_cannot_see_customers(client, make_staff):
    client.force_login(make_staff())
    assert client.get(LIST_URL).status_code == 403


def test_list_shows_the_columns_staff_need(admin_client, make_customer, make_order):
    group = CustomerGroup.objects.create(name="Wholesale")
    customer = make_customer(
        first_name="Élodie",
        last_name="Lefèvre",
        email="elodie@example.fr",
        phone="+33612345678",
        group=group,
        tags=["VIP", "B2B"],
    )
    make_order(customer)
    make_order(customer)
    response = admin_client.get(LIST_URL)
    html = response.content.decode()
    assert response.status_code == 200
    row = re.search(r"<tr>.*?elodie@example\.fr.*?</tr>", html, re.S).group(0)
    for text in ("Élodie Lefèvre", "+33 6 12 34 56 78", "Wholesale", "B2B, VIP", "Active"):
        assert text in row
    assert '<td class="field-order_count">2</td>' in row


def test_list_query_count_does_not_grow_with_rows(admin_client, make_customer, make_order):
    group = CustomerGroup.objects.create(name="G")
    for i in range(100):
        customer = make_customer(group=group, tags=[f"t{i % 7}", "all"])
        make_order(customer)

    def count(per_page: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(LIST_URL, {"per_page": per_page})
        assert len(response.context["cl"].result_list) == per_page
        return len(ctx.captured_queries)

    assert count(10) == count(100)


def test_page_size_choice(admin_client, make_customer):
    for _ in range(25):
        make_customer()
    response = admin_client.get(LIST_URL, {"per_page": 20})
    assert len(response.context["cl"].result_list) == 20
    assert "?per_page=50" in response.content.decode()
    response = admin_client.get(LIST_URL, {"per_page": 7})  # not offered: the default 100
    assert len(response.context["cl"].result_list) == 25


@pytest.mark.parametrize(
    "typed", ["613-555-1212", "(613) 555 1212", "+1 613 555 1212", "6135551212", "555-1212"]
)
def test_search_finds_phone_typed_in_any_format(admin_client, make_customer, typed):
    make_customer(phone="+16135551212", email="ottawa@example.ca")
    make_customer(phone="+16135550000", email="other@example.ca")
    response = admin_client.get(LIST_URL, {"q": typed})
    assert listed_emails(response) == {"ottawa@example.ca"}


@pytest.mark.parametrize("typed", ["lefè", "Élodie Lefèvre", "ELODIE@", "example.fr"])
def test_search_by_part_of_name_or_email(admin_client, make_customer, typed):
    make_customer(first_name="Élodie", last_name="Lefèvre", email="elodie@example.fr")
    make_customer(first_name="John", last_name="Smith", email="john@example.com")
    assert listed_emails(admin_client.get(LIST_URL, {"q": typed})) == {"elodie@example.fr"}


@pytest.fixture
def filter_world(make_customer, make_order):
    group = CustomerGroup.objects.create(name="VIP club")
    world = {
        "grouped": make_customer(email="grouped@x.com", group=group),
        "tagged": make_customer(email="tagged@x.com", tags=["Newsletter"]),
        "exempt": make_customer(email="exempt@x.com", tax_exempt=True),
        "emailok": make_customer(email="emailok@x.com", email_consent="subscribed"),
        "smsok": make_customer(email="smsok@x.com", sms_consent="unsubscribed"),
        "one": make_customer(email="one@x.com"),
        "three": make_customer(email="three@x.com"),
        "seven": make_customer(email="seven@x.com"),
        "archived": make_customer(email="archived@x.com", status="archived"),
        "pos": make_customer(email="pos@x.com", source="pos"),
        "erasure": make_customer(
            email="erasure@x.com", erasure_requested_at="2026-01-01T00:00:00Z"
        ),
        "subscriber": make_customer(email="subscriber@x.com", has_active_subscription=True),
    }
    world["merged"] = make_customer(email="merged@x.com", status="merged", merged_into=world["one"])
    for name, n in (("one", 1), ("three", 3), ("seven", 7)):
        for _ in range(n):
            make_order(world[name])
    world["group"] = group
    return world


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (lambda w: {"group__id__exact": w["group"].pk}, {"grouped"}),
        (lambda w: {"tag": Tag.objects.get(name="Newsletter").pk}, {"tagged"}),
        (lambda w: {"tax_exempt__exact": "1"}, {"exempt"}),
        (lambda w: {"email_consent__exact": "subscribed"}, {"emailok"}),
        (lambda w: {"sms_consent__exact": "unsubscribed"}, {"smsok"}),
        (lambda w: {"orders": "1"}, {"one"}),
        (lambda w: {"orders": "2-5"}, {"three"}),
        (lambda w: {"orders": "6+"}, {"seven"}),
        (lambda w: {"status": "archived"}, {"archived"}),
        (lambda w: {"status": "merged"}, {"merged"}),
        (lambda w: {"source__exact": "pos"}, {"pos"}),
        (lambda w: {"erasure": "yes"}, {"erasure"}),
        (lambda w: {"has_active_subscription__exact": "1"}, {"subscriber"}),
    ],
)
def test_each_filter(admin_client, filter_world, params, expected):
    response = admin_client.get(LIST_URL, params(filter_world))
    assert response.status_code == 200
    assert listed_emails(response) == {f"{name}@x.com" for name in expected}


def test_no_orders_filter_and_default_hides_merged_and_archived(admin_client, filter_world):
    default = listed_emails(admin_client.get(LIST_URL))
    assert "merged@x.com" not in default
    assert "archived@x.com" not in default
    assert "grouped@x.com" in default
    no_orders = listed_emails(admin_client.get(LIST_URL, {"orders": "0"}))
    assert {"one@x.com", "three@x.com", "seven@x.com"}.isdisjoint(no_orders)
    assert "grouped@x.com" in no_orders
    everything = listed_emails(admin_client.get(LIST_URL, {"status": "all"}))
    assert {"merged@x.com", "archived@x.com"} <= everything


def _form_data(**fields) -> dict:
    data = {
        "first_name": "",
        "last_name": "",
        "email": "",
        "phone": "",
        "date_of_birth": "",
        "company": "",
        "username": "",
        "group": "",
        "tags": "",
        "email_consent": "not_subscribed",
        "sms_consent": "not_subscribed",
        "tax_exempt": "",
        "source": "manual",
        "has_active_subscription": "",
        "addresses-TOTAL_FORMS": "0",
        "addresses-INITIAL_FORMS": "0",
        "notes-TOTAL_FORMS": "0",
        "notes-INITIAL_FORMS": "0",
    }
    data.update(fields)
    return data


def _address_fields(index: int, **fields) -> dict:
    values = {
        "is_default": "",
        "company": "",
        "address1": "",
        "address2": "",
        "city": "",
        "province_code": "",
        "postal_code": "",
        "country_code": "",
        "phone": "",
    }
    values.update(fields)
    return {f"addresses-{index}-{key}": value for key, value in values.items()}


def test_add_customer_with_address_and_note_inlines(admin_client, superuser):
    data = _form_data(
        first_name="Íñigo",
        last_name="Núñez",
        email=" Inigo@Example.ES ",
        phone="612 34 56 78",
        tags="VIP, vip, Mayorista",
        email_consent="subscribed",
        **{
            "addresses-TOTAL_FORMS": "1",
            "notes-TOTAL_FORMS": "1",
            "notes-0-body": "Llamar antes de entregar.",
        },
        **_address_fields(
            0,
            is_default="on",
            address1="Calle Mayor 1",
            city="Madrid",
            province_code="m",
            postal_code="28013",
            country_code="es",
            phone="612 34 56 78",
        ),
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 302, response.context["errors"]
    customer = Customer.objects.get()
    assert customer.email == "inigo@example.es"
    # Read with the default address's country (ES), not the store's region (US).
    assert customer.phone == "+34612345678"
    assert sorted(customer.tags.names()) == ["Mayorista", "VIP"]
    assert customer.email_consent_updated_at is not None
    address = customer.addresses.get()
    assert (address.country_code, address.province_code, address.phone) == (
        "ES",
        "M",
        "+34612345678",
    )
    note = Note.objects.get()
    assert note.author == superuser and note.customer == customer
    assert CustomerEvent.objects.filter(customer=customer, kind=EventKind.CREATED).count() == 1


def test_invalid_military_address_is_shown_on_the_form(admin_client):
    data = _form_data(
        email="gi@example.com",
        **{"addresses-TOTAL_FORMS": "1"},
        **_address_fields(
            0,
            address1="1 Main St",
            city="APO",
            province_code="AE",
            country_code="US",
            postal_code="09012",
        ),
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    assert "UNIT, CMR or PSC &lt;number&gt; BOX &lt;number&gt;" in response.content.decode()
    assert not Customer.objects.exists()


def test_two_default_addresses_are_refused(admin_client):
    data = _form_data(
        email="two@example.com",
        **{"addresses-TOTAL_FORMS": "2"},
        **_address_fields(0, is_default="on", address1="1 A St", country_code="US"),
        **_address_fields(1, is_default="on", address1="2 B St", country_code="US"),
    )
    response = admin_client.post(ADD_URL, data)
    assert "Mark only one address as the default." in response.content.decode()
    assert not Customer.objects.exists()


def test_change_customer_records_the_diff(admin_client, make_customer):
    customer = make_customer(first_name="Jose", email="jose@example.es")
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    response = admin_client.post(
        url,
        _form_data(
            first_name="José",
            email="jose@example.es",
            last_name=customer.last_name,
            expected_version=customer.version,
        ),
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.first_name == "José"
    assert customer.version == 2
    event = CustomerEvent.objects.get(customer=customer, kind=EventKind.UPDATED)
    assert event.data["changes"]["first_name"] == ["Jose", "José"]


def test_source_channel_cannot_be_edited_after_creation(admin_client, make_customer):
    """Editing it would let a CSV overwrite a Shopify customer (or stop updating a CSV one)."""
    customer = make_customer(email="pos@example.com", source="shopify")
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    assert 'name="source"' not in admin_client.get(url).content.decode()
    response = admin_client.post(
        url,
        _form_data(
            first_name="Ana",
            email="pos@example.com",
            source="csv",
            expected_version=customer.version,
        ),
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.first_name, customer.source) == ("Ana", "shopify")


def test_duplicate_email_is_refused_on_the_form(admin_client, make_customer):
    make_customer(email="taken@example.com")
    response = admin_client.post(ADD_URL, _form_data(email="TAKEN@example.com"))
    assert response.status_code == 200
    assert "Another customer already uses this email address." in response.content.decode()


def test_change_page_shows_order_history_with_totals_and_links(
    admin_client, make_customer, make_order
):
    customer = make_customer()
    order = make_order(customer, number="#9001", total="12.50", currency="EUR")
    make_order(customer, number="#9002", total="7.50", currency="EUR")
    html = admin_client.get(
        reverse("admin:customers_customer_change", args=[customer.pk])
    ).content.decode()
    assert "Orders: 2" in html and "20.00 EUR" in html
    assert reverse("admin:customers_order_change", args=[order.pk]) in html
    order_page = admin_client.get(
        reverse("admin:customers_order_change", args=[order.pk])
    ).content.decode()
    assert reverse("admin:customers_customer_change", args=[customer.pk]) in order_page


def test_orders_are_read_only(admin_client, make_customer, make_order):
    order = make_order(make_customer())
    url = reverse("admin:customers_order_change", args=[order.pk])
    admin_client.post(url, {"number": "changed"})
    order.refresh_from_db()
    assert order.number != "changed"
    assert admin_client.get(reverse("admin:customers_order_add")).status_code == 403


@pytest.mark.parametrize(("language", "expected"), [("fr", "Clients"), ("es", "Clientes")])
def test_admin_follows_the_browser_language(admin_client, make_customer, language, expected):
    make_customer()
    html = admin_client.get(LIST_URL, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert expected in html


def test_group_admin_counts_members_and_links_to_them(admin_client, make_customer):
    group = CustomerGroup.objects.create(name="Revendeurs")
    make_customer(group=group)
    make_customer(group=group)
    make_customer(group=group, status="merged", merged_into=make_customer())
    html = admin_client.get(reverse("admin:groups_customergroup_changelist")).content.decode()
    assert '<td class="field-member_count">2</td>' in html
    assert f"?group__id__exact={group.pk}" in html


def test_index_has_our_header_and_one_tag_list(admin_client):
    html = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Gestión de clientes" in html
    assert reverse("admin:customers_tag_changelist") in html
    assert "/admin/taggit/" not in html
