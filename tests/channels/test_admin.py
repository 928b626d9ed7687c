"""Admin: connections with their own permissions, the channel events page and its retry."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages

from customers.models import ChannelConnection, ChannelEvent, Customer
from customers.services.channels import token_hash
from tests.channels.conftest import payload

pytestmark = pytest.mark.django_db

EVENTS = "/admin/customers/channelevent/"
CONNECTIONS = "/admin/customers/channelconnection/"


def test_adding_a_pos_connection_shows_its_token_once(admin_client):
    response = admin_client.post(
        f"{CONNECTIONS}add/",
        {
            "channel": "pos",
            "name": "Till 2",
            "active": "on",
            "tags": "",
            "shop_domain": "",
            "webhook_secret": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    connection = ChannelConnection.objects.get(name="Till 2")
    [message] = [str(m) for m in get_messages(response.wsgi_request) if "POS token" in str(m)]
    token = message.split(" is ", 1)[1].split(". Copy", 1)[0]
    assert token_hash(token) == connection.token_hash
    page = admin_client.get(f"{CONNECTIONS}{connection.pk}/change/")
    assert token not in page.content.decode()


def test_a_shopify_connection_shows_its_webhook_url(admin_client, shop):
    page = admin_client.get(f"{CONNECTIONS}{shop.pk}/change/").content.decode()
    assert f"/channels/shopify/{shop.uuid}/" in page


def test_connections_need_their_own_permission(client, make_staff, shop):
    client.force_login(make_staff("view_customer"))
    assert client.get(CONNECTIONS).status_code == 403
    client.force_login(make_staff("view_channelconnection"))
    assert client.get(CONNECTIONS).status_code == 200


def _failed_event(shop):
    return ChannelEvent.objects.create(
        connection=shop,
        topic="customers/create",
        webhook_id="w-9",
        body=json.dumps(payload("customers_create")),
        state="failed",
        error="ValueError: boom",
        attempts=1,
    )


def test_the_events_page_shows_state_reason_and_customer(admin_client, shop, deliver):
    deliver(shop, "customers/create", payload("customers_create"))
    _failed_event(shop)
    page = admin_client.get(EVENTS).content.decode()
    customer = Customer.objects.get()
    assert "Failed" in page and "ValueError: boom" in page and "Done" in page
    assert f"/admin/customers/customer/{customer.pk}/change/" in page


def test_retry_processes_a_failed_event_again(
    client, make_staff, shop, django_capture_on_commit_callbacks
):
    event = _failed_event(shop)
    client.force_login(make_staff("view_channelevent", "retry_channelevent"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            EVENTS, {"action": "retry", "_selected_action": [event.pk]}, follow=True
        )
    assert "1 failed event was sent to be processed again." in response.content.decode()
    event.refresh_from_db()
    assert (event.state, event.attempts, event.error) == ("done", 2, "")
    assert Customer.objects.count() == 1


def test_retry_needs_its_permission(client, make_staff, shop):
    event = _failed_event(shop)
    client.force_login(make_staff("view_channelevent"))
    page = client.get(EVENTS).content.decode()
    assert 'value="retry"' not in page
    client.post(EVENTS, {"action": "retry", "_selected_action": [event.pk]})
    event.refresh_from_db()
    assert event.state == "failed"
