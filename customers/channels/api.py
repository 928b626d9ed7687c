"""The POS sync API (django-ninja): push customers and orders, look a customer up.

Authenticated by ``Authorization: Bearer <token>`` against the connection's token hash. A bad
payload gets 400 with the failing fields; the service runs in one transaction, so a refused
push writes nothing.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja import Field, NinjaAPI, Schema
from ninja import Status as Reply
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from pydantic import field_validator, model_validator

from customers.models import Consent, Status
from customers.personal_data import ADDRESS_PERSONAL_FIELDS
from customers.phones import phone_to_e164
from customers.selectors.matching import customers_find_by_keys
from customers.services.channels import (
    ChannelConsent,
    ChannelCustomer,
    ChannelOrder,
    channel_customer_sync,
    channel_order_sync,
    channel_service_user,
    pos_connection_for_token,
)


class PosToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        return pos_connection_for_token(token)


api = NinjaAPI(
    title="Back office POS sync API",
    version="1",
    urls_namespace="pos_api",
    auth=PosToken(),
    docs_url=None,
)


@api.exception_handler(NinjaValidationError)
def _bad_payload(request, exc: NinjaValidationError):
    return api.create_response(request, {"detail": exc.errors}, status=400)


@api.exception_handler(DjangoValidationError)
def _refused(request, exc: DjangoValidationError):
    return api.create_response(
        request,
        {"detail": [{"loc": ["body"], "msg": m, "type": "refused"} for m in exc.messages]},
        status=400,
    )


class AddressIn(Schema):
    company: str = ""
    address1: str = Field(..., min_length=1)
    address2: str = ""
    city: str = ""
    province_code: str = ""
    postal_code: str = ""
    country_code: str = Field("", max_length=2)
    phone: str = ""


class ConsentIn(Schema):
    state: Literal["subscribed", "unsubscribed", "not_subscribed"]
    updated_at: datetime.datetime | None = None


class CustomerIn(Schema):
    external_id: str = Field(..., min_length=1, max_length=64)
    email: str = ""
    phone: str = ""
    first_name: str | None = Field(None, max_length=150)
    last_name: str | None = Field(None, max_length=150)
    date_of_birth: datetime.date | None = None
    address: AddressIn | None = None
    email_marketing: ConsentIn | None = None
    sms_marketing: ConsentIn | None = None
    tags: list[str] = []
    updated_at: datetime.datetime | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        from django.core.validators import validate_email

        value = value.strip().lower()
        if value:
            try:
                validate_email(value)
            except DjangoValidationError as exc:
                raise ValueError("not a valid email address") from exc
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if not value.strip():
            return ""
        e164 = phone_to_e164(value)
        if e164 is None:
            raise ValueError("not a valid phone number")
        return e164

    @model_validator(mode="after")
    def _a_key(self):
        if not self.email and not self.phone:
            raise ValueError("give an email or a phone")
        return self

    def record(self) -> ChannelCustomer:
        def consent(value: ConsentIn | None) -> ChannelConsent | None:
            return None if value is None else ChannelConsent(Consent(value.state), value.updated_at)

        return ChannelCustomer(
            external_id=self.external_id,
            email=self.email,
            phone=self.phone,
            first_name=self.first_name,
            last_name=self.last_name,
            date_of_birth=self.date_of_birth,
            address=self.address.dict() if self.address else None,
            email_consent=consent(self.email_marketing),
            sms_consent=consent(self.sms_marketing),
            tags=[t for t in self.tags if t.strip()],
            updated_at=self.updated_at,
        )


class OrderIn(Schema):
    external_id: str = Field(..., min_length=1, max_length=64)
    number: str = Field(..., min_length=1, max_length=64)
    placed_at: datetime.datetime
    total: Decimal = Field(..., max_digits=12, decimal_places=2)
    currency: str = Field(..., pattern=r"^[A-Z]{3}$")
    shipping_address: dict = {}
    customer: CustomerIn | None = None
    updated_at: datetime.datetime | None = None


class CustomerOut(Schema):
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    status: str
    tags: list[str]


class SyncOut(Schema):
    customer_id: int | None
    order_id: int | None = None
    created: bool
    changed: bool
    stale: bool


class NotFound(Schema):
    detail: str


def _out(result) -> dict:
    return {
        "customer_id": result.customer.pk if result.customer else None,
        "order_id": result.order.pk if result.order else None,
        "created": result.created,
        "changed": result.changed,
        "stale": result.stale,
    }


@api.post("/customers", response=SyncOut)
def customer_push(request, payload: CustomerIn):
    """Create or update a customer (matched by its POS id, then by the store's setting)."""
    connection = request.auth
    result = channel_customer_sync(
        actor=channel_service_user(connection=connection),
        connection=connection,
        data=payload.record(),
    )
    return _out(result)


@api.post("/orders", response=SyncOut)
def order_push(request, payload: OrderIn):
    """Record an order (an order id sent again updates it)."""
    connection = request.auth
    data = ChannelOrder(
        external_id=payload.external_id,
        number=payload.number,
        placed_at=payload.placed_at,
        total=payload.total,
        currency=payload.currency,
        shipping_address={
            k: str(v)
            for k, v in payload.shipping_address.items()
            if k in ("name", *ADDRESS_PERSONAL_FIELDS)
        },
        customer=payload.customer.record() if payload.customer else None,
        updated_at=payload.updated_at,
    )
    result = channel_order_sync(
        actor=channel_service_user(connection=connection), connection=connection, data=data
    )
    return _out(result)


@api.get("/customers", response={200: CustomerOut, 404: NotFound, 400: NotFound})
def customer_lookup(request, email: str = "", phone: str = ""):
    """Find a customer by email or phone (a merged record answers with its survivor)."""
    email = email.strip().lower()
    e164 = phone_to_e164(phone) if phone.strip() else ""
    if not email and not e164:
        return Reply(400, {"detail": "give email or a valid phone"})
    by_email, by_phone = customers_find_by_keys(
        emails=[email] if email else [], phones=[e164] if e164 else []
    )
    customer = by_email.get(email) or by_phone.get(e164)
    if customer is None or customer.status == Status.REDACTED:
        return Reply(404, {"detail": "not found"})
    return Reply(
        200,
        {
            "id": customer.pk,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "email": customer.email,
            "phone": customer.phone,
            "status": customer.status,
            "tags": sorted(customer.tags.names(), key=str.lower),
        },
    )
