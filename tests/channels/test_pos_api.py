"""The POS sync API: tokens, validation, the same rules as Shopify, the OpenAPI schema."""

from __future__ import annotations

import pytest

from customers.models import ChannelConnection, Customer, Order
from customers.services.channels import token_hash

pytestmark = pytest.mark.django_db

CUSTOMER = {
    "external_id": "LS-42",
    "email": "Ann@Example.com",
    "phone": "(617) 555-0123",
    "first_name": "Ann",
    "last_name": "Lee",
    "date_of_birth": "1990-04-01",
    "address": {
        "address1": "1 Main St",
        "city": "Boston",
        "province_code": "MA",
        "postal_code": "02114",
        "country_code": "US",
    },
    "email_marketing": {"state": "subscribed", "updated_at": "2024-05-01T10:00:00Z"},
    "tags": ["Walk-in"],
}


def post(client, path, body, token):
    return client.post(
        f"/api/pos/v1/{path}",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_the_token_is_stored_hashed(pos):
    connection, token = pos
    connection.refresh_from_db()
    assert connection.token_hash == token_hash(token) and token not in connection.token_hash


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc"])
def test_a_missing_or_wrong_token_gets_401_and_writes_nothing(client, pos, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post(
        "/api/pos/v1/customers", data=CUSTOMER, content_type="application/json", **extra
    )
    assert response.status_code == 401
    assert not Customer.objects.exists()


def test_an_inactive_connection_or_a_shopify_one_is_refused(client, pos):
    connection, token = pos
    ChannelConnection.objects.filter(pk=connection.pk).update(active=False)
    assert post(client, "customers", CUSTOMER, token).status_code == 401


def test_push_creates_then_updates_the_customer(client, pos):
    _connection, token = pos
    response = post(client, "customers", CUSTOMER, token)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["created"] is True
    customer = Customer.objects.get(pk=body["customer_id"])
    assert (customer.email, customer.phone, str(customer.date_of_birth)) == (
        "ann@example.com",
        "+16175550123",
        "1990-04-01",
    )
    assert customer.source == "pos" and customer.email_consent == "subscribed"
    assert customer.tags.names()[0] == "Walk-in"
    assert customer.addresses.get().postal_code == "02114"
    again = post(client, "customers", {**CUSTOMER, "last_name": "Li", "tags": ["VIP"]}, token)
    assert again.json() == {**body, "created": False, "changed": True}
    customer.refresh_from_db()
    assert customer.last_name == "Li"
    assert sorted(customer.tags.names()) == ["VIP", "Walk-in"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"date_of_birth": "1990-13-45"}, "date_of_birth"),
        ({"external_id": ""}, "external_id"),
        ({"email_marketing": {"state": "maybe"}}, "state"),
        ({"address": {"city": "Boston"}}, "address1"),
    ],
)
def test_a_bad_payload_gets_400_naming_the_field_and_writes_nothing(client, pos, change, field):
    _connection, token = pos
    response = post(client, "customers", {**CUSTOMER, **change}, token)
    assert response.status_code == 400
    assert field in str(response.json()["detail"])
    assert not Customer.objects.exists()


def test_a_customer_without_email_or_phone_is_refused(client, pos):
    _connection, token = pos
    response = post(client, "customers", {**CUSTOMER, "email": "", "phone": ""}, token)
    assert response.status_code == 400
    assert "email or a phone" in str(response.json())


def test_a_refused_rule_writes_nothing(client, pos, make_customer):
    """The address fails the military rule after the customer was built: nothing is kept."""
    _connection, token = pos
    bad = {
        **CUSTOMER,
        "address": {
            "address1": "1 Main St",
            "city": "APO",
            "province_code": "AE",
            "country_code": "US",
        },
    }
    response = post(client, "customers", bad, token)
    assert response.status_code == 400
    assert not Customer.objects.exists()


def test_order_push_records_with_tags_and_updates_on_resend(client, pos):
    _connection, token = pos
    order = {
        "external_id": "sale-9",
        "number": "POS-1001",
        "placed_at": "2024-05-02T15:00:00Z",
        "total": "42.50",
        "currency": "EUR",
        "shipping_address": {"address1": "9 Other Rd", "city": "Paris", "country_code": "FR"},
        "customer": CUSTOMER,
    }
    response = post(client, "orders", order, token)
    assert response.status_code == 200, response.content
    recorded = Order.objects.get()
    assert (recorded.number, str(recorded.total), recorded.currency, recorded.source) == (
        "POS-1001",
        "42.50",
        "EUR",
        "pos",
    )
    assert recorded.tags.names()[0] == "Walk-in"
    assert recorded.customer.addresses.get().address1 == "1 Main St"
    post(client, "orders", {**order, "total": "40.00"}, token)
    assert Order.objects.get().total == 40


def test_order_push_validates(client, pos):
    _connection, token = pos
    response = post(
        client,
        "orders",
        {
            "external_id": "x",
            "number": "1",
            "total": "abc",
            "currency": "euro",
            "placed_at": "2024-05-02",
        },
        token,
    )
    assert response.status_code == 400
    text = str(response.json()["detail"])
    assert "total" in text and "currency" in text
    assert not Order.objects.exists()


def test_lookup_by_email_or_phone(client, pos, make_customer):
    _connection, token = pos
    customer = make_customer(email="ann@example.com", phone="+16175550123", tags=["VIP"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    by_email = client.get("/api/pos/v1/customers", {"email": "ANN@example.com"}, **auth)
    assert by_email.status_code == 200
    assert by_email.json()["id"] == customer.pk and by_email.json()["tags"] == ["VIP"]
    by_phone = client.get("/api/pos/v1/customers", {"phone": "617-555-0123"}, **auth)
    assert by_phone.json()["id"] == customer.pk
    assert (
        client.get("/api/pos/v1/customers", {"email": "x@example.com"}, **auth).status_code == 404
    )
    assert client.get("/api/pos/v1/customers", **auth).status_code == 400
    assert client.get("/api/pos/v1/customers", {"email": "ann@example.com"}).status_code == 401


def test_the_openapi_schema_is_served_and_lists_the_paths(client):
    response = client.get("/api/pos/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert set(schema["paths"]) == {"/api/pos/v1/customers", "/api/pos/v1/orders"}
    assert set(schema["paths"]["/api/pos/v1/customers"]) == {"get", "post"}
    assert schema["components"]["securitySchemes"] == {
        "PosToken": {"type": "http", "scheme": "bearer"}
    }
    assert "email" in str(schema["components"]["schemas"]["CustomerIn"]["properties"])
