"""A duplicate key's size is the number of listed customers holding it, however it was written.

New groups are written with their size and only groups that already existed are counted again
(services/duplicate_keys.py): these cases pin the sizes down with numbers, not by comparing two
code paths that share the same insert.
"""

from __future__ import annotations

import pytest

from customers.models import Customer, DuplicateKeyGroup
from customers.services.duplicate_keys import (
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
