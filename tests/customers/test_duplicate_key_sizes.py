"""A duplicate key's size is the number of listed customers holding it, however it was written.

New groups are written with their size and only groups that already existed are counted again
(services/duplicate_keys.py): these cases pin the sizes down with numbers, not by comparing two
code paths that share the same insert.
"""

from __future__ import annotations

import pytest

from customers.models import Address, Customer, DuplicateKey, DuplicateKeyGroup
from customers.services.duplicate_keys import (
    duplicate_keys_add,
    duplicate_keys_forget,
    duplicate_keys_refresh,
    rebuild_duplicate_keys,
)

pytestmark = pytest.mark.django_db


def sizes() -> dict[tuple[str, str], int]:
    return {(g.kind, g.key): g.size for g in DuplicateKeyGroup.objects.all()}


def new(**fields) -> Customer:
    # Straight into the table, keys not yet kept: the refresh under test writes them.
    return Customer.objects.create(**fields)


def test_new_keys_shared_within_one_refresh_count_every_holder():
    a = new(email="pat@example.com", phone="+16175550123")
    b = new(email="PAT@example.com ", phone="+16175550123")
    c = new(email="solo@example.com")
    duplicate_keys_refresh(customer_ids=[a.pk, b.pk, c.pk])
    assert sizes() == {
        ("email", "pat@example.com"): 2,
        ("phone", "+16175550123"): 2,
        ("email", "solo@example.com"): 1,
    }


def test_a_new_holder_of_an_existing_key_counts_it_again():
    first = new(phone="+16175550123")
    duplicate_keys_refresh(customer_ids=[first.pk])
    second = new(email="pat@example.com", phone="+16175550123")
    duplicate_keys_refresh(customer_ids=[second.pk])
    assert sizes() == {("email", "pat@example.com"): 1, ("phone", "+16175550123"): 2}


def test_a_changed_key_leaves_its_old_group_and_the_refresh_is_repeatable():
    a = new(phone="+16175550123")
    b = new(phone="+16175550123")
    duplicate_keys_refresh(customer_ids=[a.pk, b.pk])
    Customer.objects.filter(pk=b.pk).update(phone="+16175550188")
    duplicate_keys_refresh(customer_ids=[b.pk])
    duplicate_keys_refresh(customer_ids=[a.pk, b.pk])
    assert sizes() == {("phone", "+16175550123"): 1, ("phone", "+16175550188"): 1}
    duplicate_keys_forget(customer_ids=[a.pk])
    assert sizes() == {("phone", "+16175550188"): 1}


def test_the_rebuild_writes_each_group_with_its_size():
    for phone in ("+16175550123", "+16175550123", "+16175550123", "+16175550188"):
        new(phone=phone)
    rebuild_duplicate_keys()
    assert sizes() == {("phone", "+16175550123"): 3, ("phone", "+16175550188"): 1}


def test_adding_new_customers_leaves_the_rows_a_refresh_leaves():
    """``duplicate_keys_add`` (the import's path for created customers) against the refresh."""
    home = {"address1": "1 Main St", "city": "Boston", "postal_code": "02114", "country_code": "US"}
    old = new(email="pat@example.com", phone="+16175550123")
    Address.objects.create(customer=old, **home)
    duplicate_keys_refresh(customer_ids=[old.pk])
    created = [
        new(email="PAT@example.com ", phone="+16175550123"),
        new(email="lee@example.com", phone="+16175550188"),
        new(email=" Lee@Example.com"),
        new(phone="+16175550188", status="merged", merged_into=old),  # not listed: no key
    ]
    Address.objects.create(customer=created[1], **home)
    # The same key twice (one holder), and a key of its own.
    Address.objects.create(customer=created[1], **{**home, "address1": "1 MAIN ST."})
    Address.objects.create(customer=created[2], **{**home, "address1": "9 Elm St"})

    def rows():
        return (
            sizes(),
            set(DuplicateKey.objects.values_list("customer_id", "group__kind", "group__key")),
        )

    assert duplicate_keys_add(customer_ids=[c.pk for c in created]) == 4
    added = rows()
    duplicate_keys_refresh(customer_ids=[old.pk, *(c.pk for c in created)])
    assert rows() == added
    rebuild_duplicate_keys()
    assert rows() == added
    assert added[0][("email", "pat@example.com")] == 2
    assert added[0][("email", "lee@example.com")] == 2
    assert added[0][("phone", "+16175550188")] == 1
    assert sorted(added[0].values()).count(2) == 4  # email x2, phone, the Main St address
