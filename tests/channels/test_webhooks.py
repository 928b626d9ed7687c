"""The Shopify webhook endpoint: signatures, the inbox, duplicates, order of delivery, topics."""

from __future__ import annotations

import json
from decimal import Decimal
from unittest import mock

import pytest

from customers.models import (
    ChannelCustomerLink,
    ChannelEvent,
    Consent,
    ConsentSource,
    Customer,
    CustomerEvent,
    EventKind,
    Order,
)
from customers.services.channel_events import channel_event_process
from tests.channels.conftest import payload

pytestmark = pytest.mark.django_db


def test_customers_create_makes_the_customer_as_shopify_sent_it(shop, deliver):
    response = deliver(shop, "customers/create", payload("customers_create"))
    assert response.status_code == 200
    customer = Customer.objects.get()
    assert (customer.first_name, customer.last_name, customer.email) == (
        "Bob",
        "Biller",
        "bob@biller.com",
    )
    assert customer.phone == "+16135550135"
    assert customer.source == "shopify"
    assert customer.email_consent == Consent.SUBSCRIBED
    assert customer.email_consent_source == ConsentSource.CHANNEL
    assert customer.email_consent_updated_at.isoformat() == "2022-01-01T00:00:00+00:00"
    assert customer.sms_consent == Consent.NOT_SUBSCRIBED
    assert sorted(customer.tags.names()) == ["Main store", "Shopify", "VIP", "Wholesale"]
    address = customer.addresses.get()
    assert (address.address1, address.city, address.province_code, address.postal_code) == (
        "151 O'Connor Street",
        "Ottawa",
        "ON",
        "K2P 2L8",
    )
    assert address.is_default and address.country_code == "CA"
    event = ChannelEvent.objects.get()
    assert (event.state, event.customer_ref, event.attempts) == ("done", customer.pk, 1)
    assert event.headers["X-Shopify-Topic"] == "customers/create"
    assert event.headers["X-Shopify-Api-Version"] == "2024-10"
    assert json.loads(event.body)["id"] == 706405506930370084
    created = CustomerEvent.objects.get(customer=customer, kind=EventKind.CREATED)
    assert created.actor.username == f"channel:{shop.pk}:Main store"
    assert created.data["connection"] == "Main store"
    assert not created.actor.has_usable_password() and not created.actor.is_staff


@pytest.mark.parametrize(
    "signature", ["", "bm90IHRoZSByaWdodCBzaWduYXR1cmU=", "garbage"], ids=["none", "wrong", "junk"]
)
def test_a_bad_or_missing_signature_gets_401_and_stores_nothing(shop, deliver, signature):
    response = deliver(shop, "customers/create", payload("customers_create"), signature=signature)
    assert response.status_code == 401
    assert not ChannelEvent.objects.exists()
    assert not Customer.objects.exists()


def test_a_signature_made_with_another_secret_is_refused(shop, deliver):
    from customers.channels.shopify import sign

    body = json.dumps(payload("customers_create")).encode()
    response = deliver(shop, "customers/create", body, signature=sign(body=body, secret="other"))
    assert response.status_code == 401
    assert not ChannelEvent.objects.exists()


def test_an_inactive_or_unknown_connection_gets_401(shop, deliver, client):
    shop.active = False
    shop.save()
    assert deliver(shop, "customers/create", payload("customers_create")).status_code == 401
    response = client.post(
        "/channels/shopify/00000000-0000-0000-0000-000000000000/",
        data=b"{}",
        content_type="application/json",
    )
    assert response.status_code == 401
    assert client.get(f"/channels/shopify/{shop.uuid}/").status_code == 405
    assert not ChannelEvent.objects.exists()


def test_a_retried_delivery_is_stored_and_applied_once(shop, deliver):
    body = payload("customers_create")
    assert deliver(shop, "customers/create", body, webhook_id="w-1").status_code == 200
    assert deliver(shop, "customers/create", body, webhook_id="w-1").status_code == 200
    assert ChannelEvent.objects.count() == 1
    assert Customer.objects.count() == 1
    assert CustomerEvent.objects.filter(kind=EventKind.CREATED).count() == 1


def test_the_same_shopify_event_under_a_new_webhook_id_is_ignored_as_duplicate(shop, deliver):
    body = payload("customers_update")
    deliver(shop, "customers/update", body, webhook_id="w-1", event_id="e-1")
    deliver(shop, "customers/update", body, webhook_id="w-2", event_id="e-1")
    assert list(ChannelEvent.objects.order_by("pk").values_list("state", flat=True)) == [
        "done",
        "ignored_duplicate",
    ]


def test_an_update_older_than_the_last_applied_changes_nothing(shop, deliver):
    deliver(shop, "customers/update", payload("customers_update"))  # 2022-01-05
    older = payload("customers_create")  # 2021-12-31, delivered late
    older["first_name"] = "Old"
    older["email_marketing_consent"]["state"] = "subscribed"
    deliver(shop, "customers/update", older)
    customer = Customer.objects.get()
    assert customer.first_name == "Robert"
    assert customer.email_consent == Consent.UNSUBSCRIBED
    assert ChannelEvent.objects.order_by("pk").last().state == "ignored_stale"


def test_customers_update_changes_what_differs_and_only_adds_tags(shop, deliver):
    deliver(shop, "customers/create", payload("customers_create"))
    customer = Customer.objects.get()
    version = customer.version
    deliver(shop, "customers/update", payload("customers_update"))
    customer.refresh_from_db()
    assert customer.first_name == "Robert"
    assert customer.version == version + 1
    assert customer.email_consent == Consent.UNSUBSCRIBED
    assert customer.sms_consent == Consent.SUBSCRIBED
    assert customer.sms_consent_updated_at.isoformat() == "2022-01-05T14:59:00+00:00"
    # "VIP, Wholesale" is no longer in Shopify's list: kept here, Newsletter added.
    assert sorted(customer.tags.names()) == [
        "Main store",
        "Newsletter",
        "Shopify",
        "VIP",
        "Wholesale",
    ]
    address = customer.addresses.get()
    assert (address.address1, address.postal_code) == ("200 Elgin Street", "K2P 1L5")
    updated = CustomerEvent.objects.get(customer=customer, kind=EventKind.UPDATED)
    assert updated.data["changes"] == {"first_name": ["Bob", "Robert"]}
    assert updated.data["tags_added"] == ["Newsletter"]
    consent = CustomerEvent.objects.filter(customer=customer, kind=EventKind.CONSENT_CHANGED)
    assert sorted((e.data["channel"], e.data["new"]) for e in consent) == [
        ("email", "subscribed"),
        ("email", "unsubscribed"),
        ("sms", "subscribed"),
    ]


def test_a_payload_without_tags_or_consent_leaves_them_alone(shop, deliver):
    """API 2025-01 and later send neither: that is "unchanged", never "cleared"."""
    deliver(shop, "customers/create", payload("customers_create"))
    newer = payload("customers_update")
    for key in ("tags", "email_marketing_consent", "sms_marketing_consent"):
        del newer[key]
    deliver(shop, "customers/update", newer)
    customer = Customer.objects.get()
    assert customer.email_consent == Consent.SUBSCRIBED
    assert "VIP" in customer.tags.names()


def test_customers_delete_unlinks_and_keeps_the_customer_and_orders(shop, deliver):
    deliver(shop, "customers/create", payload("customers_create"))
    deliver(shop, "orders/create", payload("orders_create"))
    response = deliver(shop, "customers/delete", payload("customers_delete"))
    assert response.status_code == 200
    customer = Customer.objects.get()
    assert not ChannelCustomerLink.objects.filter(customer_ref=customer.pk).exists()
    assert customer.orders.count() == 1
    event = ChannelEvent.objects.get(topic="customers/delete")
    assert (event.state, event.customer_ref) == ("done", customer.pk)
    assert CustomerEvent.objects.filter(
        customer=customer, data__channel_deleted="706405506930370084"
    ).exists()


def test_orders_create_records_the_order_with_the_customers_tags(shop, deliver):
    deliver(shop, "customers/create", payload("customers_create"))
    customer = Customer.objects.get()
    address_before = list(customer.addresses.values())
    deliver(shop, "orders/create", payload("orders_create"))
    order = Order.objects.get()
    assert (order.number, order.customer, order.total, order.currency) == (
        "#9999",
        customer,
        Decimal("398.00"),
        "USD",
    )
    assert order.placed_at.isoformat() == "2022-01-02T19:03:50+00:00"
    assert order.shipping_address["address1"] == "123 Shipping Street"
    assert order.shipping_address["name"] == "Steve Shipper"
    # ShipStation's rules: the customer's tags go onto the order ...
    assert sorted(order.tags.names()) == sorted(customer.tags.names())
    # ... and the order's address never overwrites the customer's.
    assert list(customer.addresses.values()) == address_before
    event = ChannelEvent.objects.get(topic="orders/create")
    assert (event.order, event.customer_ref) == (order, customer.pk)
    assert CustomerEvent.objects.filter(customer=customer, kind=EventKind.ORDER_RECORDED).exists()


def test_an_order_for_an_unknown_customer_creates_it_without_the_shipping_address(shop, deliver):
    deliver(shop, "orders/create", payload("orders_create"))
    customer = Customer.objects.get()
    assert customer.email == "bob@biller.com"
    assert customer.addresses.get().address1 == "151 O'Connor Street"  # its own default address
    assert Order.objects.get().customer == customer


def test_orders_updated_updates_instead_of_duplicating(shop, deliver):
    deliver(shop, "orders/create", payload("orders_create"))
    deliver(shop, "orders/updated", payload("orders_updated"))
    order = Order.objects.get()
    assert order.total == Decimal("378.00")
    # The customer's order summary follows the new total (one order, not two).
    order.customer.refresh_from_db()
    assert (order.customer.order_count, order.customer.total_spent) == (1, Decimal("378.00"))
    late = payload("orders_create")
    late["total_price"] = "1.00"
    deliver(shop, "orders/updated", late)  # older updated_at: ignored
    order.refresh_from_db()
    assert order.total == Decimal("378.00")
    assert ChannelEvent.objects.order_by("pk").last().state == "ignored_stale"


def test_customers_redact_requests_erasure(shop, deliver, make_customer):
    body = payload("customers_redact")
    customer = make_customer(email="john@example.com")
    deliver(shop, "customers/redact", body)
    customer.refresh_from_db()
    assert customer.erasure_requested_at is not None
    assert customer.erasure_requested_by.username.startswith("channel:")
    event = ChannelEvent.objects.get()
    assert (event.state, event.customer_ref) == ("done", customer.pk)
    assert CustomerEvent.objects.filter(
        customer=customer, kind=EventKind.ERASURE_REQUESTED
    ).exists()


def test_customers_data_request_is_recorded_for_staff(shop, deliver, make_customer):
    customer = make_customer(email="john@example.com")
    deliver(shop, "customers/data_request", payload("customers_data_request"))
    event = ChannelEvent.objects.get()
    assert (event.topic, event.state, event.customer_ref) == (
        "customers/data_request",
        "done",
        customer.pk,
    )
    customer.refresh_from_db()
    assert customer.erasure_requested_at is None


def test_shop_redact_requests_erasure_of_the_connections_customers(shop, deliver, make_customer):
    other = make_customer(email="walk-in@example.com")
    deliver(shop, "customers/create", payload("customers_create"))
    deliver(shop, "shop/redact", payload("shop_redact"))
    mine = Customer.objects.get(email="bob@biller.com")
    assert mine.erasure_requested_at is not None
    other.refresh_from_db()
    assert other.erasure_requested_at is None
    assert ChannelEvent.objects.get(topic="shop/redact").state == "done"


def test_a_malformed_body_fails_with_the_reason_and_can_be_retried(shop, deliver):
    deliver(shop, "customers/create", b"{not json")
    event = ChannelEvent.objects.get()
    assert event.state == "failed"
    assert event.error.startswith("JSONDecodeError")


def test_a_worker_killed_mid_event_leaves_it_pending_and_a_later_run_applies_it_once(shop):
    from customers.services.channel_events import channel_event_store

    stored = channel_event_store(
        connection_id=shop.pk,
        topic="customers/create",
        webhook_id="w-kill",
        body=json.dumps(payload("customers_create")),
        headers={},
    )
    with (
        mock.patch("customers.services.channel_events._apply", side_effect=SystemExit("killed")),
        pytest.raises(SystemExit),
    ):
        channel_event_process(event_id=stored.event.pk)
    stored.event.refresh_from_db()
    assert stored.event.state == "pending" and not Customer.objects.exists()
    assert channel_event_process(event_id=stored.event.pk) == "done"
    assert channel_event_process(event_id=stored.event.pk) is None
    assert Customer.objects.count() == 1


def test_a_drain_applies_the_events_left_pending(shop):
    from customers.channels.tasks import channel_events_drain
    from customers.services.channel_events import channel_event_store

    channel_event_store(
        connection_id=shop.pk,
        topic="customers/create",
        webhook_id="w-lost",
        body=json.dumps(payload("customers_create")),
        headers={},
    )
    assert channel_events_drain.enqueue().return_value == {"processed": 1, "crashed": 0}
    assert ChannelEvent.objects.get().state == "done"
    assert Customer.objects.count() == 1


def test_erasing_a_customer_empties_its_deliveries_and_channel_ids(shop, deliver):
    from customers.services.channels import channel_data_erase

    deliver(shop, "customers/create", payload("customers_create"))
    customer = Customer.objects.get()
    assert channel_data_erase(actor="test", customer_ids=[customer.pk]) == 1
    event = ChannelEvent.objects.get()
    assert (event.body, event.error, event.state) == ("{}", "", "done")
    assert event.headers["X-Shopify-Topic"] == "customers/create"
    assert not ChannelCustomerLink.objects.exists()


def test_the_history_page_reads_the_channel_events(admin_client, shop, deliver):
    deliver(shop, "customers/create", payload("customers_create"))
    deliver(shop, "customers/update", payload("customers_update"))
    deliver(shop, "customers/delete", payload("customers_delete"))
    customer = Customer.objects.get()
    page = admin_client.get(f"/admin/customers/customer/{customer.pk}/history/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Main store" in text and "Robert" in text and "Newsletter" in text
