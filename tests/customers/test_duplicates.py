"""The duplicate finder: which customers are grouped, and why."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Address, Customer
from customers.selectors.duplicates import (
    customers_with_possible_duplicates,
    duplicate_groups,
    duplicate_groups_with_customers,
)
from customers.services.duplicate_keys import duplicate_keys_refresh

pytestmark = pytest.mark.django_db


def groups(reason=None) -> set[tuple[str, tuple[int, ...]]]:
    rows = duplicate_groups_with_customers(duplicate_groups(reason=reason))
    return {(g.reason, tuple(g.ids)) for g in rows}


@pytest.mark.parametrize(
    "first, second, same",
    [
        (
            ("12 Rue de la Paix", "", "75002", "FR"),
            ("12, rue de la  paix.", "", "75002", "FR"),
            True,
        ),
        (("1 Main St", "Apt 2", "02114", "US"), ("1 main st apt-2", "", "02114", "US"), True),
        (("1 Main St", "", "02114", "US"), ("1 Main St", "", "02 114", "us"), True),
        (("1 Main St", "Apt 2", "02114", "US"), ("1 Main St", "Apt 3", "02114", "US"), False),
        (("1 Main St", "", "02114", "US"), ("1 Main St", "", "02115", "US"), False),
        (("1 Main St", "", "02114", "US"), ("1 Main St", "", "02114", "CA"), False),
    ],
)
def test_address_normalisation(make_customer, make_address, first, second, same):
    a, b = make_customer(), make_customer()
    for customer, (line1, line2, postal, country) in ((a, first), (b, second)):
        make_address(
            customer, address1=line1, address2=line2, postal_code=postal, country_code=country
        )
    expected = {("address", tuple(sorted([a.pk, b.pk])))} if same else set()
    assert groups() == expected
    # The database keeps the key up to date on every write, update() included.
    keys = set(Address.objects.values_list("match_key", flat=True))
    assert (len(keys) == 1) == same
    Address.objects.filter(customer=b).update(address1="Somewhere else 99")
    # A write path refreshes the keys of the customers it touched; a raw update() does not.
    assert groups() == expected
    duplicate_keys_refresh(customer_ids=[b.pk])
    assert groups() == set()


def test_phone_groups_and_what_is_never_listed(make_customer, make_address):
    a = make_customer(phone="+33612345678")
    b = make_customer(phone="+33612345678", email="b@x.com")
    make_customer(phone="+33612345678", status="redacted")
    make_customer(phone="+33612345678", status="merged", merged_into=a)
    archived = make_customer(phone="+33612345678", status="archived")
    assert groups() == {("phone", tuple(sorted([a.pk, b.pk, archived.pk])))}


def test_email_groups_exist_only_for_data_the_constraint_lets_through(make_customer):
    # The database refuses two unmerged customers with the same lower-cased email; stray
    # spaces from old data are the case left for this group kind.
    assert groups("email") == set()
    a = make_customer(email="ana@x.com")
    b = make_customer(email=" ana@x.com ")
    make_customer(email="  solo@x.com")
    assert groups("email") == {("email", tuple(sorted([a.pk, b.pk])))}
    assert set(customers_with_possible_duplicates(Customer.objects.all())) == {a, b}


def test_one_customer_with_two_identical_addresses_is_not_a_group(make_customer, make_address):
    a = make_customer()
    make_address(a)
    make_address(a)
    assert groups() == set()


def test_filter_has_possible_duplicates(make_customer, make_address):
    a, b = make_customer(phone="+33612345678"), make_customer(phone="+33612345678")
    c, d = make_customer(), make_customer()
    make_address(c)
    make_address(d, address1="1 MAIN ST.")
    loner = make_customer(phone="+33699999999")
    found = set(customers_with_possible_duplicates(Customer.objects.all()))
    assert found == {a, b, c, d}
    assert loner not in found


def test_a_page_of_groups_costs_a_fixed_number_of_queries(make_customer):
    for n in range(30):
        make_customer(phone=f"+1617555{n:04d}")
        make_customer(phone=f"+1617555{n:04d}")

    def count(size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            duplicate_groups_with_customers(duplicate_groups()[:size])
        return len(ctx.captured_queries)

    assert count(5) == count(30)


def test_a_listed_customer_sharing_only_with_merged_or_redacted_ones_is_alone(make_customer):
    survivor = make_customer(phone="+33612345678")
    make_customer(phone="+33612345678", status="merged", merged_into=survivor)
    make_customer(phone="+33612345678", status="redacted")
    assert groups() == set()
    assert not customers_with_possible_duplicates(Customer.objects.all()).exists()
