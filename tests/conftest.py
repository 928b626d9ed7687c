"""Shared fixtures: staff users with and without permissions, and small customer builders."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from customers.models import Address, Customer, Order
from customers.phones import phone_search_regions_forget
from customers.services.duplicate_keys import duplicate_keys_refresh
from customers.services.order_summary import order_summaries_refresh
from tests.backoffice.helpers import mark_second_factor_passed

_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def _english_and_allowed_host(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    # Tests create many staff users; the real password hasher would be most of their time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LANGUAGE_CODE = "en"
    settings.BACKOFFICE_PHONE_REGION = "US"


@pytest.fixture(autouse=True)
def _phone_search_regions_fresh():
    """The search's cached list of the customers' countries must not leak between tests."""
    phone_search_regions_forget()
    yield
    phone_search_regions_forget()


@pytest.fixture(autouse=True)
def _private_files_in_tmp(settings, tmp_path):
    """Keep every test's uploads and import reports away from a developer's private folder."""
    settings.PRIVATE_UPLOAD_ROOT = tmp_path / "private"


@pytest.fixture(autouse=True)
def _force_login_passes_two_factor(monkeypatch):
    """force_login stands for a whole sign-in, second factor included (tests/backoffice
    sign in through the real password and code pages)."""
    force_login = Client.force_login

    def force_login_verified(self, user, backend=None):
        force_login(self, user, backend)
        mark_second_factor_passed(self, user)

    monkeypatch.setattr(Client, "force_login", force_login_verified)


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("boss", "boss@example.com", "pw")


@pytest.fixture
def make_staff(db):
    """Build a staff user holding exactly the given customer-app permission codenames."""

    def build(*codenames: str, username: str | None = None) -> User:
        user = User.objects.create_user(
            username or f"staff{next(_counter)}", password="pw", is_staff=True
        )
        perms = Permission.objects.filter(
            codename__in=codenames, content_type__app_label__in=["customers", "groups"]
        )
        assert perms.count() == len(set(codenames)), codenames
        user.user_permissions.set(perms)
        return user

    return build


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def make_customer(db):
    """Create a customer straight in the database (test set-up, not a business path)."""

    def build(**fields) -> Customer:
        n = next(_counter)
        fields.setdefault("first_name", "Test")
        fields.setdefault("last_name", f"Customer{n}")
        if "email" not in fields and "phone" not in fields:
            fields["email"] = f"customer{n}@example.com"
        tags = fields.pop("tags", None)
        customer = Customer.objects.create(**fields)
        if tags:
            customer.tags.add(*tags)
        # Customers come from services, which keep the duplicate keys; this shortcut does too.
        duplicate_keys_refresh(customer_ids=[customer.pk])
        return customer

    return build


@pytest.fixture
def make_order(db):
    def build(customer: Customer, **fields) -> Order:
        n = next(_counter)
        fields.setdefault("number", f"#{n}")
        fields.setdefault("total", "10.00")
        fields.setdefault("source", "shopify")
        order = Order.objects.create(customer=customer, **fields)
        # Orders come from orders_record, which keeps the summary; this shortcut does it too.
        order_summaries_refresh(customer_ids=[customer.pk] if customer else [])
        return order

    return build


@pytest.fixture
def make_address(db):
    def build(customer: Customer, **fields) -> Address:
        fields.setdefault("address1", "1 Main St")
        fields.setdefault("city", "Boston")
        fields.setdefault("province_code", "MA")
        fields.setdefault("country_code", "US")
        fields.setdefault("postal_code", "02114")
        address = Address.objects.create(customer=customer, **fields)
        duplicate_keys_refresh(customer_ids=[customer.pk])
        return address

    return build
