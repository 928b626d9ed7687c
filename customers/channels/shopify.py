"""Shopify webhooks: the signature, the headers kept, and payloads turned into channel records.

Payload shapes follow Shopify's REST webhook examples (customers/*, orders/*, and the mandatory
privacy topics). From API version 2025-01 Shopify leaves ``tags`` and the marketing consent
objects out of customer payloads; a missing key means "unchanged" here, never "cleared".
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from customers.models import Consent
from customers.phones import phone_to_e164
from customers.services.channels import ChannelConsent, ChannelCustomer, ChannelOrder

CUSTOMER_TOPICS = ("customers/create", "customers/update")
ORDER_TOPICS = ("orders/create", "orders/updated")
PRIVACY_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
TOPICS = (*CUSTOMER_TOPICS, "customers/delete", *ORDER_TOPICS, *PRIVACY_TOPICS)
# The headers kept with each event (Django's request.headers spelling).
KEPT_HEADERS = (
    "X-Shopify-Topic",
    "X-Shopify-Shop-Domain",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Event-Id",
    "X-Shopify-Triggered-At",
    "X-Shopify-Api-Version",
)
CONSENT_STATES = {
    "subscribed": Consent.SUBSCRIBED,
    "unsubscribed": Consent.UNSUBSCRIBED,
    # pending (double opt-in not confirmed yet), invalid, redacted: not a consent.
    "not_subscribed": Consent.NOT_SUBSCRIBED,
    "pending": Consent.NOT_SUBSCRIBED,
    "invalid": Consent.NOT_SUBSCRIBED,
    "redacted": Consent.NOT_SUBSCRIBED,
}


def signature_valid(*, body: bytes, secret: str, header: str | None) -> bool:
    """Whether ``header`` is base64(HMAC-SHA256(body, secret)), compared in constant time."""
    if not header or not secret:
        return False
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), header.strip().encode())


def sign(*, body: bytes, secret: str) -> str:
    """The X-Shopify-Hmac-Sha256 value Shopify would send (for tests, replays and load runs)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _when(value) -> datetime.datetime | None:
    return parse_datetime(value) if isinstance(value, str) and value else None


def _address(raw) -> dict | None:
    if not isinstance(raw, dict):
        return None
    return {
        "company": _text(raw.get("company")),
        "address1": _text(raw.get("address1")),
        "address2": _text(raw.get("address2")),
        "city": _text(raw.get("city")),
        "province_code": _text(raw.get("province_code")).upper(),
        "postal_code": _text(raw.get("zip")),
        "country_code": _text(raw.get("country_code")).upper(),
        "phone": phone_to_e164(_text(raw.get("phone")), _text(raw.get("country_code")) or None)
        or "",
    }


def _consent(raw) -> ChannelConsent | None:
    if not isinstance(raw, dict) or raw.get("state") not in CONSENT_STATES:
        return None
    return ChannelConsent(
        state=CONSENT_STATES[raw["state"]], updated_at=_when(raw.get("consent_updated_at"))
    )


def customer_from_payload(payload: dict) -> ChannelCustomer:
    """A Shopify customer object (a customers/* body, or an order's ``customer``)."""
    address = _address(payload.get("default_address"))
    region = (address or {}).get("country_code") or None
    # An invalid phone is left out rather than failing the whole customer.
    phone = phone_to_e164(_text(payload.get("phone")), region) or ""
    tags = payload.get("tags")
    return ChannelCustomer(
        external_id=_text(payload.get("id")),
        email=_text(payload.get("email")).lower(),
        phone=phone,
        first_name=payload.get("first_name"),
        last_name=payload.get("last_name"),
        address=address if address and address["address1"] else None,
        email_consent=_consent(payload.get("email_marketing_consent")),
        sms_consent=_consent(payload.get("sms_marketing_consent")),
        tags=[t.strip() for t in tags.split(",") if t.strip()] if isinstance(tags, str) else [],
        updated_at=_when(payload.get("updated_at")),
    )


def order_from_payload(payload: dict) -> ChannelOrder:
    """A Shopify order (orders/create, orders/updated body)."""
    try:
        total = Decimal(str(payload.get("total_price") or "0"))
    except InvalidOperation as exc:
        raise ValueError(f"total_price: {payload.get('total_price')!r}") from exc
    customer_raw = payload.get("customer")
    customer = customer_from_payload(customer_raw) if isinstance(customer_raw, dict) else None
    if customer is not None and not customer.email:
        customer.email = _text(payload.get("email")).lower()
    shipping = payload.get("shipping_address")
    snapshot = {}
    if isinstance(shipping, dict):
        snapshot = {
            "name": _text(shipping.get("name"))
            or " ".join(
                p
                for p in (_text(shipping.get("first_name")), _text(shipping.get("last_name")))
                if p
            ),
            **{k: v for k, v in (_address(shipping) or {}).items()},
        }
    return ChannelOrder(
        external_id=_text(payload.get("id")),
        number=_text(payload.get("name")) or f"#{payload.get('order_number')}",
        placed_at=_when(payload.get("processed_at"))
        or _when(payload.get("created_at"))
        or timezone.now(),
        total=total,
        currency=_text(payload.get("currency")).upper() or "USD",
        shipping_address=snapshot,
        customer=customer,
        updated_at=_when(payload.get("updated_at")),
    )
