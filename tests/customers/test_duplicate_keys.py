"""The duplicate keys table: every write path leaves it equal to a recomputation from scratch."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import (
    Address,
    ChannelConnection,
    Customer,
    DuplicateKey,
    DuplicateKeyGroup,
    Status,
)
from customers.selectors.duplicates import (
    customers_with_possible_duplicates,
    duplicate_groups,
    duplicate_groups_with_customers,
)
from customers.services.archiving import customers_archive
from customers.services.channels import (
    ChannelCustomer,
    channel_connection_issue_token,
    channel_customer_sync,
)
from customers.services.deletion import customers_delete
from customers.services.duplicate_keys import duplicate_keys_refresh, rebuild_duplicate_keys
from customers.services.editing import RelatedEdits, customer_save
from customers.services.importing import customers_import
from customers.services.merge import customer_unmerge, customers_merge
from customers.services.privacy import customer_request_erasure, customers_process_erasure

pytestmark = pytest.mark.django_db

SHARED_PHONE = "+16175550123"
OTHER_PHONE = "+16175550188"
HOME = {
    "address1": "1 Main St",
    "city": "Boston",
    "province_code": "MA",
    "postal_code": "02114",
    "country_code": "US",
}


def keys() -> set[tuple[int, str, str]]:
    return set(DuplicateKey.objects.values_list("customer_id", "group__kind", "group__key"))


def state() -> tuple[set, set]:
    """Who holds which key, and every key with its count."""
    return keys(), set(DuplicateKeyGroup.objects.values_list("kind", "key", "size"))


def flagged() -> set[int]:
    return set(
        customers_with_possible_duplicates(Customer.objects.all()).values_list("pk", flat=True)
    )


@pytest.fixture
def world(make_customer, make_address):
    """Ann and Bob share a phone; Ann and Cid an address; Dee shares nothing."""
    ann = make_customer(email="ann@example.com", phone=SHARED_PHONE)
    bob = make_customer(email="bob@example.com", phone=SHARED_PHONE)
    cid = make_customer(email="cid@example.com")
    dee = make_customer(email="dee@example.com", phone=OTHER_PHONE)
    make_address(ann, is_default=True, **HOME)
    make_address(cid, is_default=True, **{**HOME, "address1": "1 MAIN ST."})
    return {"ann": ann, "bob": bob, "cid": cid, "dee": dee}


# --- the write paths -------------------------------------------------------------------------


def _edit_phone(world, actor, client):
    dee = Customer.objects.get(pk=world["dee"].pk)
    dee.phone = SHARED_PHONE
    customer_save(actor=actor, customer=dee, expected_version=dee.version)


def _edit_add_address(world, actor, client):
    dee = Customer.objects.get(pk=world["dee"].pk)
    related = RelatedEdits(addresses_added=[Address(customer=dee, **HOME)])
    customer_save(actor=actor, customer=dee, expected_version=dee.version, related=related)


def _edit_remove_address(world, actor, client):
    cid = Customer.objects.get(pk=world["cid"].pk)
    related = RelatedEdits(addresses_removed=list(Address.objects.filter(customer=cid)))
    customer_save(actor=actor, customer=cid, expected_version=cid.version, related=related)


def _create_by_hand(world, actor, client):
    customer_save(actor=actor, customer=Customer(email="eve@example.com", phone=OTHER_PHONE))


def _import(world, actor, client):
    csv = (
        "First Name,Last Name,Email,Accepts Email Marketing,Default Address Address1,"
        "Default Address City,Default Address Zip,Default Address Country Code,Phone\n"
        "Eve,Stone,eve@example.com,no,1 Main St,Boston,02114,US,(617) 555-0188\n"
        "Bob,,bob@example.com,no,,,,,(617) 555-0199\n"
    )
    result = customers_import(actor=actor, source=io.BytesIO(csv.encode()), filename="f.csv")
    assert (result.created, result.updated, result.errors) == (1, 1, [])


def _merge(world, actor, client):
    customers_merge(actor=actor, survivor_id=world["ann"].pk, absorbed_ids=[world["bob"].pk])


def _unmerge(world, actor, client):
    result = customers_merge(
        actor=actor, survivor_id=world["ann"].pk, absorbed_ids=[world["cid"].pk]
    )
    after_merge = state()
    customer_unmerge(actor=actor, merge_id=result.merge.pk)
    return after_merge  # the unmerge is the write under test


def _erase(world, actor, client):
    customer_request_erasure(actor=actor, customer_id=world["ann"].pk)
    later = timezone.now() + datetime.timedelta(days=3650)
    assert customers_process_erasure(actor=actor, now=later).erased == [world["ann"].pk]


def _delete(world, actor, client):
    assert customers_delete(actor=actor, customers=[world["bob"].pk]).deleted == 1


def _channel_sync(world, actor, client):
    shop = ChannelConnection.objects.create(channel="shopify", name="Main store")
    data = ChannelCustomer(external_id="7408", email="eve@example.com", phone=OTHER_PHONE)
    channel_customer_sync(actor=actor, connection=shop, data=data)
    update = ChannelCustomer(external_id="7408", address=HOME)
    channel_customer_sync(actor=actor, connection=shop, data=update)


def _pos_api(world, actor, client):
    till = ChannelConnection.objects.create(channel="pos", name="Till 1")
    token = channel_connection_issue_token(actor=actor, connection_id=till.pk)
    body = {"external_id": "LS-42", "email": "eve@example.com", "phone": "(617) 555-0188"}
    response = client.post(
        "/api/pos/v1/customers",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code in (200, 201), response.content


def _seed_demo(world, actor, client):
    call_command("seed_demo", customers=20, reset=True, force=True, stdout=io.StringIO())


PATHS = {
    "change form: phone": _edit_phone,
    "change form: address added": _edit_add_address,
    "change form: address removed": _edit_remove_address,
    "change form: new customer": _create_by_hand,
    "import": _import,
    "merge": _merge,
    "unmerge": _unmerge,
    "erasure": _erase,
    "guarded delete": _delete,
    "channel sync": _channel_sync,
    "POS API": _pos_api,
    "seed_demo": _seed_demo,
}


@pytest.mark.parametrize("path", list(PATHS.values()), ids=list(PATHS))
def test_every_write_path_leaves_the_table_equal_to_a_recomputation(world, superuser, client, path):
    before = state()
    before = path(world, superuser, client) or before
    kept = state()
    assert kept != before  # the path did change keys, so the comparison below means something
    rebuild_duplicate_keys()
    assert state() == kept
    assert not DuplicateKeyGroup.objects.filter(size=0).exists()


def test_rebuild_command_restores_the_tables_emptied_behind_their_back(world):
    expected = state()
    assert ("phone", SHARED_PHONE, 2) in expected[1]
    DuplicateKeyGroup.objects.all().delete()
    out = io.StringIO()
    call_command("rebuild_duplicate_keys", stdout=out)
    assert state() == expected
    assert out.getvalue().startswith("Rebuilt the duplicate keys of 4 customers in ")


def test_the_keys_are_what_the_finder_compares(world):
    ann = world["ann"]
    home_key = Address.objects.get(customer=ann).match_key
    assert {(kind, key) for pk, kind, key in keys() if pk == ann.pk} == {
        ("email", "ann@example.com"),
        ("phone", SHARED_PHONE),
        ("address", home_key),
    }
    # Cid's address is typed otherwise but is the same place: the same key.
    assert ("address", home_key) in {(k, v) for pk, k, v in keys() if pk == world["cid"].pk}


# --- edge cases ------------------------------------------------------------------------------


def test_a_key_shared_only_with_a_merged_customer_is_no_group(world, superuser):
    ann, bob = world["ann"], world["bob"]
    assert {ann.pk, bob.pk} <= flagged()
    customers_merge(actor=superuser, survivor_id=ann.pk, absorbed_ids=[bob.pk])
    assert not DuplicateKey.objects.filter(customer=bob).exists()
    assert bob.pk not in flagged()
    groups = duplicate_groups_with_customers(duplicate_groups(reason="phone"))
    assert groups == []
    # Ann is still flagged, through the address she shares with Cid.
    assert flagged() == {ann.pk, world["cid"].pk}


def test_a_key_shared_only_with_an_archived_customer_is_still_a_group(world, superuser):
    ann, bob = world["ann"], world["bob"]
    customers_archive(actor=superuser, customers=[bob.pk])
    assert Customer.objects.get(pk=bob.pk).status == Status.ARCHIVED
    groups = duplicate_groups_with_customers(duplicate_groups(reason="phone"))
    assert [(g.key, g.ids, g.label) for g in groups] == [
        (SHARED_PHONE, sorted([ann.pk, bob.pk]), SHARED_PHONE)
    ]
    assert {ann.pk, bob.pk} <= flagged()


def test_an_erased_customer_holds_no_key_and_leaves_the_other_alone(world, superuser):
    ann, bob, cid = world["ann"], world["bob"], world["cid"]
    customer_request_erasure(actor=superuser, customer_id=ann.pk)
    customers_process_erasure(actor=superuser, now=timezone.now() + datetime.timedelta(days=3650))
    assert not DuplicateKey.objects.filter(customer=ann).exists()
    # Her email was hers alone: no one holds it, so the key itself is gone.
    assert not DuplicateKeyGroup.objects.filter(key="ann@example.com").exists()
    assert flagged() == set()
    assert {bob.pk, cid.pk}.isdisjoint(flagged())


def test_the_address_group_is_labelled_by_its_smallest_address(world):
    (group,) = duplicate_groups_with_customers(duplicate_groups(reason="address"))
    assert group.ids == sorted([world["ann"].pk, world["cid"].pk])
    assert group.label == "1 MAIN ST., 02114 Boston, US"


def test_a_refresh_costs_the_same_queries_for_1_or_300_customers(make_customer):
    customers = [make_customer(phone=f"+1617555{n:04d}") for n in range(300)]

    def count(ids) -> int:
        with CaptureQueriesContext(connection) as ctx:
            duplicate_keys_refresh(customer_ids=ids)
        return len(ctx.captured_queries)

    assert count([customers[0].pk]) == count([c.pk for c in customers]) <= 13
