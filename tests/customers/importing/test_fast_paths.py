"""The import's fast paths give the answers of the code they stand in for."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email as django_validate_email

from customers.models import Address, Customer
from customers.phones import phone_to_e164, phone_to_e164_cached
from customers.services.importing.rows import validate_email
from tests.customers.importing.helpers import run, shopify

EMAILS = [
    "ann@example.com",
    "Ann.Lee+shop@Example.CO.UK",
    "a@localhost",
    "a@[127.0.0.1]",
    "a@[IPv6:2001:db8::1]",
    "a..b@example.com",
    "a@-example.com",
    "ü@example.com",
    "a@bücher.ch",
    "a@xn--bcher-kva.ch",
    '"quoted"@example.com',
    "a@example",
    "a@example.c0m",
    "a b@example.com",
    "a@",
    "@example.com",
    "a@example..com",
    "x" * 300 + "@example.com",
]


def _accepts(validator, value: str) -> bool:
    try:
        validator(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("email", EMAILS)
def test_the_compiled_email_rule_is_djangos(email):
    assert _accepts(validate_email, email) == _accepts(django_validate_email, email)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(201) 555-0123", "US", "+12015550123"),
        ("(201) 234-4567", "US", "+12012344567"),
        ("'+1 201 234 4567", "FR", "+12012344567"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("06 12 34 56 78", "US", ""),
        ("(201) 034-4567", "US", ""),  # no exchange starts with 0
        ("not a phone", "US", ""),
    ],
)
def test_a_remembered_phone_is_the_parsed_one(raw, region, expected):
    assert phone_to_e164_cached(raw, region) == expected
    assert phone_to_e164_cached(raw, region) == (phone_to_e164(raw, region) or "")


@pytest.mark.django_db
def test_an_update_reads_the_stored_address_and_writes_only_what_changed():
    run(
        shopify(
            "Ann,Lee,ann@example.com,yes,,1 Main St,Apt 2,Boston,MA,US,'02114,,"
            "(201) 234-4567,no,VIP,,no"
        )
    )
    address = Address.objects.get(customer__email="ann@example.com")
    created_at = address.created_at

    result = run(
        shopify("Ann,Lee,ann@example.com,,,2 Main St,,,,,,,,,,,"),
    )

    assert (result.created, result.updated) == (0, 1)
    assert result.reports[0].changes == {"address.address1": ["1 Main St", "2 Main St"]}
    address.refresh_from_db()
    assert (address.address1, address.address2, address.city, address.postal_code) == (
        "2 Main St",
        "Apt 2",
        "Boston",
        "02114",
    )
    assert address.created_at == created_at and address.is_default
    assert Customer.objects.get(email="ann@example.com").phone == "+12012344567"
