"""Channel fixtures: connections, and Shopify deliveries signed like Shopify signs them."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path

import pytest

from customers.channels.shopify import sign
from customers.models import ChannelConnection
from customers.services.channels import channel_connection_issue_token

PAYLOADS = Path(__file__).parent / "payloads"
SECRET = "shpss_0123456789abcdef"  # noqa: S105 - a test secret
_ids = itertools.count(1)


def payload(name: str) -> dict:
    """A fresh copy of one of Shopify's example payloads (tests change their copy)."""
    return copy.deepcopy(json.loads((PAYLOADS / f"{name}.json").read_text()))


@pytest.fixture(autouse=True)
def _drain_at_once(settings):
    """Drain the inbox in-process as soon as a delivery commits (no throttle, no worker)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.BACKOFFICE_CHANNEL_KICK_SECONDS = 0


@pytest.fixture(autouse=True)
def _no_cached_connections(monkeypatch):
    """Each test sees its connections as saved (the web process keeps them a few seconds)."""
    monkeypatch.setattr("customers.channels.views._connections", {})


@pytest.fixture
def shop(db) -> ChannelConnection:
    return ChannelConnection.objects.create(
        channel="shopify",
        name="Main store",
        shop_domain="main-store.myshopify.com",
        webhook_secret=SECRET,
        tags="Shopify, Main store",
    )


@pytest.fixture
def pos(db):
    """A POS connection and its bearer token."""
    connection = ChannelConnection.objects.create(channel="pos", name="Till 1")
    token = channel_connection_issue_token(actor="test", connection_id=connection.pk)
    return connection, token


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST a Shopify webhook (signed unless told otherwise) and run the drain it enqueues."""

    def send(connection, topic, body, *, webhook_id=None, signature=None, event_id=None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {
            "HTTP_X_SHOPIFY_TOPIC": topic,
            "HTTP_X_SHOPIFY_SHOP_DOMAIN": connection.shop_domain,
            "HTTP_X_SHOPIFY_API_VERSION": "2024-10",
            "HTTP_X_SHOPIFY_TRIGGERED_AT": "2024-10-01T12:00:00.000000Z",
            "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id or f"b54557e4-{next(_ids):04d}",
            "HTTP_X_SHOPIFY_EVENT_ID": event_id or f"98880550-{next(_ids):04d}",
        }
        sig = sign(body=raw, secret=connection.webhook_secret) if signature is None else signature
        if sig:
            headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = sig
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/channels/shopify/{connection.uuid}/",
                data=raw,
                content_type="application/json",
                **headers,
            )

    return send
