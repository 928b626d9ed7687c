"""Mortar's matching rules, through the one service both adapters call."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import ChannelCustomerLink, Customer
from customers.services.channels import (
    ChannelCustomer,
    channel_customer_sync,
    channel_service_user,
)
from tests.channels.conftest import payload

pytestmark = pytest.mark.django_db


def sync(connection, **fields):
    fields.setdefault("external_id", "7001")
    actor = channel_service_user(connection=connection)
    return channel_customer_sync(actor=actor, connection=connection, data=ChannelCustomer(**fields))


def test_the_channel_id_is_matched_before_the_email(shop, make_customer):
    linked = make_customer(email="old@example.com")
    make_customer(email="new@example.com", first_name="Other")
    ChannelCustomerLink.objects.create(connection=shop, external_id="7001", customer_ref=linked.pk)
    result = sync(shop, email="old@example.com", first_name="Ann")
    assert result.customer == linked and not result.created
    linked.refresh_from_db()
    assert linked.first_name == "Ann"


@pytest.mark.parametrize("strategy", ["email_then_phone", "email_only"])
def test_email_first_settings_match_the_email(shop, make_customer, settings, strategy):
    settings.BACKOFFICE_CUSTOMER_MATCHING = strategy
    by_email = make_customer(email="ann@example.com")
    make_customer(phone="+16175550123", email="")
    result = sync(shop, email="ann@example.com", phone="+16175550123")
    assert result.customer == by_email
    assert Customer.objects.count() == 2


@pytest.mark.parametrize("strategy", ["phone_then_email", "phone_only"])
def test_phone_first_settings_match_the_phone(shop, make_customer, settings, strategy):
    settings.BACKOFFICE_CUSTOMER_MATCHING = strategy
    make_customer(email="someone@example.com")
    by_phone = make_customer(phone="+16175550123", email="")
    result = sync(shop, email="ann@example.com", phone="+16175550123")
    assert result.customer == by_phone
    by_phone.refresh_from_db()
    assert by_phone.email == "ann@example.com"


def test_a_phone_match_whose_email_another_customer_holds_is_refused(shop, make_customer, settings):
    """Two records here are one person there: staff merge them, the channel does not guess."""
    settings.BACKOFFICE_CUSTOMER_MATCHING = "phone_then_email"
    holder = make_customer(email="ann@example.com")
    make_customer(phone="+16175550123", email="")
    with pytest.raises(ValidationError) as caught:
        sync(shop, email="ann@example.com", phone="+16175550123")
    assert f"(#{holder.pk})" in caught.value.messages[0]
    assert not ChannelCustomerLink.objects.exists()


def test_a_merged_customer_resolves_to_its_survivor(shop, make_customer):
    survivor = make_customer(email="ann@example.com")
    merged = make_customer(email="ann.old@example.com", status="merged", merged_into=survivor)
    ChannelCustomerLink.objects.create(connection=shop, external_id="7001", customer_ref=merged.pk)
    result = sync(shop, email="ann.old@example.com")
    assert result.customer == survivor
    assert ChannelCustomerLink.objects.get().customer_ref == survivor.pk


def test_an_archived_linked_customer_loses_the_link_and_the_oldest_match_wins(
    shop, make_customer, settings
):
    settings.BACKOFFICE_CUSTOMER_MATCHING = "phone_only"
    archived = make_customer(phone="+16175550123", email="", status="archived")
    oldest = make_customer(phone="+16175550123", email="")
    make_customer(phone="+16175550123", email="")
    ChannelCustomerLink.objects.create(
        connection=shop, external_id="7001", customer_ref=archived.pk
    )
    result = sync(shop, phone="+16175550123", first_name="Ann")
    assert result.customer == oldest
    archived.refresh_from_db()
    assert archived.status == "archived" and archived.first_name == "Test"
    assert ChannelCustomerLink.objects.get().customer_ref == oldest.pk


def test_an_archived_linked_customer_with_no_other_match_means_a_new_customer(
    shop, make_customer, settings
):
    settings.BACKOFFICE_CUSTOMER_MATCHING = "phone_only"
    archived = make_customer(phone="+16175550123", email="", status="archived")
    ChannelCustomerLink.objects.create(
        connection=shop, external_id="7001", customer_ref=archived.pk
    )
    result = sync(shop, phone="+16175550123")
    assert result.created and result.customer != archived
    assert sorted(result.customer.tags.names()) == ["Main store", "Shopify"]


def test_a_deleted_linked_customer_is_matched_again_or_created(shop, make_customer):
    gone = make_customer(email="gone@example.com")
    ChannelCustomerLink.objects.create(connection=shop, external_id="7001", customer_ref=gone.pk)
    Customer.objects.filter(pk=gone.pk).delete()  # the link now points at nothing
    result = sync(shop, email="ann@example.com")
    assert result.created
    assert ChannelCustomerLink.objects.get().customer_ref == result.customer.pk


def test_an_archived_customer_holding_the_email_fails_with_the_reason(shop, make_customer):
    archived = make_customer(email="ann@example.com", status="archived")
    with pytest.raises(ValidationError) as caught:
        sync(shop, email="ann@example.com")
    assert f"#{archived.pk} is archived" in caught.value.messages[0]
    assert Customer.objects.count() == 1 and not ChannelCustomerLink.objects.exists()


def test_keep_names_never_overwrites_names_but_updates_the_rest(shop, make_customer):
    shop.keep_names = True
    shop.save()
    customer = make_customer(email="ann@example.com", first_name="Ann", last_name="Lee")
    sync(shop, email="ann@example.com", first_name="Annie", last_name="Li", phone="+16175550123")
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name) == ("Ann", "Lee")
    assert customer.phone == "+16175550123"


def test_names_are_updated_without_the_setting(shop, make_customer):
    customer = make_customer(email="ann@example.com", first_name="Ann", last_name="Lee")
    sync(shop, email="ann@example.com", first_name="Annie", last_name="Li")
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name) == ("Annie", "Li")


def test_nothing_differs_nothing_is_written(shop, deliver):
    deliver(shop, "customers/create", payload("customers_create"))
    customer = Customer.objects.get()
    events = customer.events.count()
    again = payload("customers_create")
    again["updated_at"] = "2022-02-01T00:00:00Z"
    deliver(shop, "customers/update", again)
    customer.refresh_from_db()
    assert customer.events.count() == events
    assert customer.version == 1


def test_an_email_change_onto_another_customers_email_is_refused(shop, make_customer):
    make_customer(email="taken@example.com")
    sync(shop, email="ann@example.com")
    with pytest.raises(ValidationError):
        sync(shop, external_id="7001", email="taken@example.com")
    link = ChannelCustomerLink.objects.get(external_id="7001")
    assert Customer.objects.get(pk=link.customer_ref).email == "ann@example.com"


def test_matching_by_phone_reads_the_partial_phone_index(shop, make_customer, settings):
    settings.BACKOFFICE_CUSTOMER_MATCHING = "phone_only"
    by_phone = make_customer(phone="+16175550123", email="")
    make_customer(email="nophone@example.com")
    with CaptureQueriesContext(connection) as ctx:
        assert sync(shop, phone="+16175550123").customer == by_phone
    matched = next(q["sql"] for q in ctx.captured_queries if '."phone" = ' in q["sql"])
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {matched}")
            text = "\n".join(str(row[-1]) for row in cursor.fetchall())
        else:
            # Too few rows for the planner to prefer an index: forbid the scans (the table's,
            # and walking the primary key in the matching's order).
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute(f"EXPLAIN {matched}")
            text = "\n".join(row[0] for row in cursor.fetchall())
    assert "customer_phone_idx" in text, text
