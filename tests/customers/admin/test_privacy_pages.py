"""The erasure pages show what the view hands them: what erasure removes, what it blocks."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.admin.privacy import erased_data, erasure_blocks
from customers.models import Customer
from tests.customers.bulk_helpers import LIST_URL, start

pytestmark = pytest.mark.django_db


def listed(page: str, css_class: str) -> list[str]:
    block = re.search(rf'<(?:ul|span) class="{css_class}">(.*?)</(?:ul|span)>', page, re.S)
    assert block, page
    return re.findall(r"<li>(.*?)</li>", block.group(1)) or [block.group(1)]


@pytest.fixture
def clerk(client, make_staff):
    client.force_login(make_staff("view_customer", "change_customer", "request_erasure_customer"))
    return client


def test_erasure_confirmation_lists_what_erasure_removes(clerk, make_customer):
    ann = make_customer(first_name="Ann", last_name="Smith")
    expected = [
        "First name",
        "Last name",
        "Email",
        "Phone",
        "Date of birth",
        "Company",
        "Username",
        "Addresses",
        "Notes",
        "Addresses on orders",
    ]
    assert [str(item) for item in erased_data()] == expected
    from_list = start(clerk, "request_erasure", [ann]).content.decode()
    assert listed(from_list, "erased-data") == expected
    url = reverse("admin:customers_customer_erasure", args=[ann.pk, "request"])
    assert listed(clerk.get(url).content.decode(), "erased-data") == expected


def test_erasure_banner_lists_what_a_pending_request_blocks(clerk, make_customer):
    ann = make_customer(first_name="Ann", erasure_requested_at=timezone.now())
    assert erasure_blocks() == ["deleted", "merged", "emailed"]
    page = clerk.get(reverse("admin:customers_customer_change", args=[ann.pk])).content.decode()
    assert "Erasure pending: requested on" in page
    assert listed(page, "erasure-blocks") == ["deleted, merged, emailed"]


def test_the_single_customer_erasure_page_posts_to_itself(clerk, make_customer):
    ann = make_customer(first_name="Ann")
    url = reverse("admin:customers_customer_erasure", args=[ann.pk, "request"])
    page = clerk.get(url).content.decode()
    assert f'<form method="post" action="{url}">' in page
    clerk.post(url)
    assert Customer.objects.get(pk=ann.pk).erasure_requested_at is not None
    assert LIST_URL not in re.findall(r'action="([^"]*)"', page)
