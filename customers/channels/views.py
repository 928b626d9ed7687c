"""The Shopify webhook endpoint: verify, store, answer; a worker applies the event later."""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from customers.channels import shopify
from customers.channels.tasks import channel_events_kick
from customers.models import Channel, ChannelConnection
from customers.services.channel_events import channel_event_store

# Each web process keeps an active connection's id and secret this long: the lookup was a third
# of a delivery's database time. A connection deactivated, or given a new secret, refuses the
# old deliveries within these seconds. Unknown ids are never kept (they are looked up each time).
CONNECTION_CACHE_SECONDS = 5.0
_connections: dict[str, tuple[float, int, str]] = {}


def _active_connection(connection_uuid) -> tuple[int, str] | None:
    """The id and webhook secret of the active Shopify connection ``connection_uuid``, or None."""
    key = str(connection_uuid)
    now = time.monotonic()
    cached = _connections.get(key)
    if cached is not None and cached[0] > now:
        return cached[1], cached[2]
    row = (
        ChannelConnection.objects.filter(uuid=connection_uuid, channel=Channel.SHOPIFY, active=True)
        .values_list("pk", "webhook_secret")
        .first()
    )
    if row is None:
        _connections.pop(key, None)
        return None
    _connections[key] = (now + CONNECTION_CACHE_SECONDS, *row)
    return row


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest, connection_uuid) -> HttpResponse:
    """Receive one Shopify webhook for one connection.

    401 for an unknown or inactive connection and for a bad or missing signature (nothing is
    stored); 400 without topic or webhook id; otherwise 200, once per X-Shopify-Webhook-Id.
    """
    connection = _active_connection(connection_uuid)
    body = request.body
    if connection is None or not shopify.signature_valid(
        body=body, secret=connection[1], header=request.headers.get("X-Shopify-Hmac-Sha256")
    ):
        return HttpResponse(status=401)
    topic = request.headers.get("X-Shopify-Topic", "")
    webhook_id = request.headers.get("X-Shopify-Webhook-Id", "")
    if not topic or not webhook_id:
        return HttpResponse(status=400)
    headers = {
        name: request.headers[name] for name in shopify.KEPT_HEADERS if name in request.headers
    }
    stored = channel_event_store(
        connection_id=connection[0],
        topic=topic,
        webhook_id=webhook_id,
        body=body.decode("utf-8", errors="replace"),
        headers=headers,
    )
    if stored.created:
        channel_events_kick()
    return HttpResponse(status=200)
