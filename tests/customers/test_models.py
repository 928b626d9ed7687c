"""The customer data model's rules, enforced by the database and by clean()."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from customers.addresses import MILITARY_COUNTRY, MILITARY_LINE, MILITARY_STATE
from customers.models import (
    EMAIL_OR_PHONE_REQUIRED,
    Address,
    Customer,
    CustomerEvent,
    EventKind,
    Order,
    Status,
    Tag,
)
from customers.phones import phone_display, phone_to_e164
from customers.services.editing import customer_save
from customers.services.orders import orders_record

pytestmark = pytest.mark.django_db


def test_email_is_lowercased_by_clean():
    customer = Customer(email="Marie.Curie@Example.FR")
    customer.full_clean()
    assert customer.email == "marie.curie@example.fr"


def test_email_is_unique_case_insensitively_in_the_database(make_customer):
    make_customer(email="ana@example.es")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(email="ANA@example.es")


def test_duplicate_email_is_a_form_error_naming_the_field(make_customer):
    make_customer(email="ana@example.es")
    with pytest.raises(ValidationError) as exc:
        Customer(email="Ana@Example.es").full_clean()
    assert "Another customer already uses this email address." in str(exc.value)


def test_merged_customers_may_keep_the_email_of_their_survivor(make_customer):
    survivor = make_customer(email="ana@example.es")
    Customer.objects.create(email="ana@example.es", status="merged", merged_into=survivor)
    assert Customer.objects.filter(email="ana@example.es").count() == 2


def test_email_or_phone_required_by_clean_and_database():
    with pytest.raises(ValidationError) as exc:
        Customer(first_name="Nobody").full_clean()
    assert str(EMAIL_OR_PHONE_REQUIRED) in str(exc.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(first_name="Nobody")


def test_a_redacted_customer_needs_neither():
    customer = Customer(status="redacted")
    customer.full_clean()
    customer.save()
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.status, stored.email, stored.phone) == ("redacted", "", "")


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("613-555-1212", "", "+16135551212"),
        ("(613) 555 1212", "", "+16135551212"),
        ("+1 613 555 1212", "", "+16135551212"),
        ("'+33 6 12 34 56 78", "", "+33612345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("612 34 56 78", "es", "+34612345678"),
        ("12345", "", None),
        ("not a phone", "", None),
        ("", "", None),
    ],
)
def test_phone_normalisation(raw, region, expected):
    assert phone_to_e164(raw, region) == expected


def test_customer_phone_is_stored_in_e164_and_invalid_phone_is_named():
    customer = Customer(phone="(613) 555-1212")
    customer.full_clean()
    assert customer.phone == "+16135551212"
    with pytest.raises(ValidationError) as exc:
        Customer(phone="555").full_clean()
    assert exc.value.message_dict["phone"] == ["555 is not a valid phone number."]


def test_phone_display_is_national_at_home_and_international_abroad(settings):
    settings.BACKOFFICE_PHONE_REGION = "FR"
    assert phone_display("+33612345678") == "06 12 34 56 78"
    assert phone_display("+16135551212") == "+1 613-555-1212"


def test_tags_are_one_case_insensitive_set(make_customer):
    Tag.objects.create(name="VIP")
    with pytest.raises(IntegrityError), transaction.atomic():
        Tag.objects.create(name="vip", slug="vip-2")
    customer = make_customer()
    customer.tags.add("vip")
    assert list(customer.tags.names()) == ["VIP"]
    assert Tag.objects.count() == 1


def _address(**overrides) -> Address:
    values = dict(
        address1="PSC 1234 BOX 5678",
        city="apo",
        province_code="ae",
        country_code="us",
        postal_code="09012",
    )
    values.update(overrides)
    return Address(**values)


def test_valid_military_address_is_stored_upper_case(make_customer):
    address = _address(customer=make_customer(), address1="psc 1234  box 5678")
    address.full_clean()
    assert (address.address1, address.city, address.province_code, address.country_code) == (
        "PSC 1234 BOX 5678",
        "APO",
        "AE",
        "US",
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"province_code": "MA"}, "province_code", MILITARY_STATE),
        ({"country_code": "DE"}, "country_code", MILITARY_COUNTRY),
        ({"address1": "1 Main Street"}, "address1", MILITARY_LINE),
        (
            {"postal_code": "34001"},
            "postal_code",
            "The ZIP code 34001 does not belong to military state AE.",
        ),
        ({"city": "Boston"}, "city", "A US military address needs APO, FPO or DPO as its city."),
    ],
)
def test_invalid_military_address_says_what_to_fix(make_customer, overrides, field, message):
    address = _address(customer=make_customer(), **overrides)
    with pytest.raises(ValidationError) as exc:
        address.full_clean()
    assert str(message) in exc.value.message_dict[field]


def test_one_default_address_per_customer(make_customer, make_address):
    customer = make_customer()
    make_address(customer, is_default=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_address(customer, is_default=True)


def test_consent_change_records_time_source_and_event(superuser, make_customer):
    customer = make_customer()
    customer.email_consent = "subscribed"
    customer_save(actor=superuser, customer=customer)
    customer.refresh_from_db()
    assert customer.email_consent_updated_at is not None
    assert customer.email_consent_source == "admin"
    assert customer.version == 2
    event = CustomerEvent.objects.get(customer=customer, kind=EventKind.CONSENT_CHANGED)
    assert event.data == {
        "channel": "email",
        "old": "not_subscribed",
        "new": "subscribed",
        "source": "admin",
    }
    assert event.actor == superuser


def test_recorded_order_receives_the_customer_tags_not_its_address(make_customer, make_address):
    customer = make_customer(tags=["VIP", "Wholesale"])
    make_address(customer, is_default=True)
    orders_record(
        actor="test",
        orders=[
            Order(
                number="#1",
                customer=customer,
                total="5.00",
                source="shipstation",
                shipping_address={"address1": "9 Elsewhere Rd", "city": "Austin"},
            )
        ],
    )
    order = Order.objects.get(number="#1")
    assert sorted(order.tags.names()) == ["VIP", "Wholesale"]
    assert list(customer.addresses.values_list("address1", flat=True)) == ["1 Main St"]
    event = CustomerEvent.objects.get(kind=EventKind.ORDER_RECORDED)
    assert (event.customer_id, event.actor_label, event.data) == (
        customer.pk,
        "test",
        {
            "order": order.pk,
            "number": "#1",
            "total": "5.00",
            "currency": "USD",
            "source": "shipstation",
        },
    )


def test_an_order_for_a_merged_customer_goes_to_the_end_of_its_chain(make_customer):
    survivor = make_customer()
    middle = make_customer()
    first = make_customer()
    Customer.objects.filter(pk=middle.pk).update(status=Status.MERGED, merged_into=survivor)
    Customer.objects.filter(pk=first.pk).update(status=Status.MERGED, merged_into=middle)
    assert (
        orders_record(
            actor="test",
            orders=[Order(number="#7", customer=first, total="1.00", source="shopify")],
        )
        == 1
    )
    assert Order.objects.get(number="#7").customer_id == survivor.pk
    assert list(
        CustomerEvent.objects.filter(kind=EventKind.ORDER_RECORDED).values_list(
            "customer_id", flat=True
        )
    ) == [survivor.pk]


def test_a_national_phone_is_read_in_the_default_address_country(make_customer, make_address):
    customer = make_customer(email="anne@example.fr")
    make_address(
        customer, is_default=True, country_code="FR", province_code="", postal_code="75001"
    )
    customer.phone = "01 42 68 53 00"
    customer.full_clean()
    assert customer.phone == "+33142685300"
    # Without an address the store's region (US) reads it, and it is no valid US number.
    with pytest.raises(ValidationError):
        Customer(email="b@example.com", phone="01 42 68 53 00").full_clean()


def test_deleting_a_customer_never_deletes_its_orders(make_customer, make_order):
    customer = make_customer()
    make_order(customer)
    with pytest.raises(ProtectedError):
        customer.delete()
    assert Order.objects.count() == 1


def test_deletable_excludes_orders_erasure_and_subscriptions(make_customer, make_order):
    free = make_customer()
    make_order(make_customer())
    make_customer(has_active_subscription=True)
    make_customer(erasure_requested_at="2026-01-01T00:00:00Z")
    assert list(Customer.objects.deletable()) == [free]
