"""A page a user may not open says so in the admin's own layout, with the reason and a way back."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse

from backoffice.staff.views import DEFAULT_403_REASON, permission_denied
from tests.backoffice.helpers import INDEX_URL, LIST_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk_client(client, make_staff):
    client.force_login(make_staff("view_customer", "change_customer"))
    return client


def _assert_styled_403(response, back_url: str) -> str:
    assert response.status_code == 403
    html = response.content.decode()
    assert '<div id="site-name"><a href="/admin/">Customer back office</a></div>' in html
    assert "<h1>403 Forbidden</h1>" in html
    assert f'<p class="errornote">{DEFAULT_403_REASON}</p>' in html
    assert f'<a href="{back_url}" class="button">Go back</a>' in html
    assert 'id="logout-form"' in html  # the user tools: the clerk can sign out from here
    return html


def test_a_clerk_opening_the_import_page_gets_the_admin_403(clerk_client):
    response = clerk_client.get(
        reverse("admin:customers_customer_import"), HTTP_REFERER=f"http://testserver{LIST_URL}"
    )

    _assert_styled_403(response, back_url=f"http://testserver{LIST_URL}")


def test_a_clerk_opening_a_delete_page_gets_the_admin_403(clerk_client, make_customer):
    customer = make_customer()

    response = clerk_client.get(reverse("admin:customers_customer_delete", args=[customer.pk]))

    _assert_styled_403(response, back_url=INDEX_URL)


def test_the_way_back_never_leads_off_the_site(clerk_client):
    response = clerk_client.get(
        reverse("admin:customers_customer_export"), HTTP_REFERER="https://evil.example/phish"
    )

    html = _assert_styled_403(response, back_url=INDEX_URL)
    assert "evil.example" not in html


def test_the_reason_given_by_the_page_is_shown():
    request = RequestFactory().get("/admin/customers/customer/merge/")
    request.user = AnonymousUser()

    response = permission_denied(request, PermissionDenied("Merging needs the merge permission."))

    assert response.status_code == 403
    assert (
        '<p class="errornote">Merging needs the merge permission.</p>' in response.content.decode()
    )
