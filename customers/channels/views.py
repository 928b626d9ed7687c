"""The Shopify webhook endpoint: verify, store, answer; a job applies the event later."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from customers.channels import shopify
from customers.channels.tasks import channel_events_kick
from customers.models import Channel, ChannelConnection
from customers.services.channel_events import channel_event_store


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest, connection_uuid) -> HttpResponse:
    """Receive one Shopify webhook for one connection.

    401 for an unknown or inactive connection and for a bad or missing signature (nothing is
    stored); 400 without topic or webhook id; otherwise 200, once per X-Shopify-Webhook-Id.
    """
    connection = (
        ChannelConnection.objects.filter(uuid=connection_uuid, channel=Channel.SHOPIFY, active=True)
        .only("pk", "webhook_secret")
        .first()
    )
    body = request.body
    if connection is None or not shopify.signature_valid(
        body=body,
        secret=connection.webhook_secret,
        header=request.headers.get("X-Shopify-Hmac-Sha256"),
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
        connection=connection,
        topic=topic,
        webhook_id=webhook_id,
        body=body.decode("utf-8", errors="replace"),
        headers=headers,
    )
    if stored.created:
        channel_events_kick()
    return HttpResponse(status=200)
