"""Bulk tagging no longer rewrites the customer rows: a change form open meanwhile is still
refused (its tags moved on) and nothing the bulk action did is lost."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from customers.models import Customer, CustomerEvent, EventKind
from customers.services.editing import customer_check_version, customer_save
from customers.services.tagging import customers_add_tags, customers_remove_tags
from tests.customers.test_edit_conflicts import browser_data, conflict_rows
from tests.customers.test_editing import change_url, page_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(make_customer):
    return make_customer(first_name="Jean", email="jean@example.fr", tags=["VIP"])


def _clerk_edit(customer_id: int) -> Customer:
    """The change form's object: the clerk renamed the company."""
    edited = Customer.objects.get(pk=customer_id)
    edited.company = "Dupont SARL"
    return edited


def test_a_tag_added_in_bulk_refuses_the_clerks_stale_save_and_is_kept(customer, superuser):
    loaded_version, loaded_tags = customer.version, ["VIP"]
    customers_add_tags(actor="night batch", customers=[customer.pk], names=["Black Friday"])
    assert Customer.objects.get(pk=customer.pk).version == loaded_version  # row not rewritten

    with pytest.raises(ValidationError) as refused:
        customer_save(
            actor=superuser,
            customer=_clerk_edit(customer.pk),
            expected_version=loaded_version,
            expected_tags=loaded_tags,
            tags=loaded_tags,  # the clerk's form still shows the old tag set
        )

    assert refused.value.error_list[0].code == "stale_version"
    message = refused.value.messages[0]
    assert message.startswith("night batch saved this customer on ")
    assert "(Tags added)" in message
    stored = Customer.objects.get(pk=customer.pk)
    assert sorted(stored.tags.names()) == ["Black Friday", "VIP"]
    assert stored.company == ""
    assert not CustomerEvent.objects.filter(kind=EventKind.UPDATED).exists()


def test_a_tag_removed_in_bulk_refuses_the_stale_save_too(customer, superuser):
    customers_remove_tags(actor="night batch", customers=[customer.pk], names=["vip"])
    with pytest.raises(ValidationError) as refused:
        customer_check_version(
            customer_id=customer.pk, expected_version=customer.version, expected_tags=["VIP"]
        )
    assert refused.value.error_list[0].code == "stale_version"
    assert list(Customer.objects.get(pk=customer.pk).tags.names()) == []


def test_the_same_tags_in_another_case_and_order_are_no_conflict(make_customer, superuser):
    customer = make_customer(email="ana@example.es", tags=["VIP", "Été"])
    result = customer_save(
        actor=superuser,
        customer=_clerk_edit(customer.pk),
        expected_version=customer.version,
        expected_tags=["été", "vip"],
        tags=["VIP", "Été", "Wholesale"],
    )
    assert result.changes == {"company": ["", "Dupont SARL"]}
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.version, stored.company) == (2, "Dupont SARL")
    assert sorted(stored.tags.names()) == ["VIP", "Wholesale", "Été"]


def test_the_change_form_tells_the_clerk_and_loses_no_bulk_tag(make_staff, customer):
    clerk = Client()
    clerk.force_login(make_staff("view_customer", "change_customer", "tag_customer"))
    data = page_form_data(clerk.get(change_url(customer)))
    customers_add_tags(actor="night batch", customers=[customer.pk], names=["Black Friday"])
    data["company"] = "Dupont SARL"

    refused = clerk.post(change_url(customer), data)

    assert refused.status_code == 200
    assert "night batch saved this customer on" in refused.content.decode()
    assert conflict_rows(refused)["tags"]["theirs"] == "Black Friday, VIP"
    assert clerk.post(change_url(customer), browser_data(refused)).status_code == 302
    stored = Customer.objects.get(pk=customer.pk)
    assert sorted(stored.tags.names()) == ["Black Friday", "VIP"]
    assert stored.company == "Dupont SARL"
