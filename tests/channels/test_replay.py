"""replay_channel_events: recorded deliveries go through the inbox once."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from customers.models import ChannelEvent, Customer, Order
from tests.channels.conftest import payload

pytestmark = pytest.mark.django_db


def test_replay_stores_and_processes_each_recorded_event_once(shop, tmp_path):
    lines = [
        {
            "topic": "customers/create",
            "headers": {"X-Shopify-Webhook-Id": "r-1"},
            "body": payload("customers_create"),
        },
        {
            "topic": "orders/create",
            "headers": {"X-Shopify-Webhook-Id": "r-2"},
            "body": payload("orders_create"),
        },
    ]
    file = tmp_path / "events.jsonl"
    file.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = StringIO()
    call_command("replay_channel_events", str(file), "--connection", "Main store", stdout=out)
    assert out.getvalue().strip() == "stored 2, already stored 0; done: 2"
    assert Customer.objects.count() == 1 and Order.objects.count() == 1
    out = StringIO()
    call_command("replay_channel_events", str(file), "--connection", "Main store", stdout=out)
    assert out.getvalue().strip() == "stored 0, already stored 2"
    assert ChannelEvent.objects.count() == 2


def test_replay_refuses_an_unknown_connection_or_a_broken_line(shop, tmp_path):
    file = tmp_path / "events.jsonl"
    file.write_text("{broken\n")
    with pytest.raises(CommandError, match="no connection"):
        call_command("replay_channel_events", str(file), "--connection", "Nope")
    with pytest.raises(CommandError, match="line 1"):
        call_command("replay_channel_events", str(file), "--connection", "Main store")
