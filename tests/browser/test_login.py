"""Signing in through the admin's own pages: password, then the two-factor code; enrolment."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import User
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice.staff.two_factor import WRONG_CODE
from tests.backoffice.helpers import code_for
from tests.browser.conftest import PASSWORD
from tests.browser.pages import click_and_wait, messages


@pytest.fixture
def enrolled_user(demo_user) -> TOTPDevice:
    """The superuser, with an authenticator app already enrolled."""
    return TOTPDevice.objects.create(user=demo_user, name="Authenticator app", confirmed=True)


def type_password(page, password: str) -> None:
    page.locator("#id_username").fill("demo")
    page.locator("#id_password").fill(password)
    click_and_wait(page.locator("input[type=submit]"))


def type_code(page, code: str) -> None:
    page.get_by_label("Code").fill(code)
    click_and_wait(page.get_by_role("button", name="Sign in"))


def test_staff_signs_in_with_password_then_code_and_sees_the_customers(
    page, admin_url, enrolled_user
):
    page.goto(admin_url("/admin/"))
    assert "/admin/login/" in page.url
    type_password(page, "wrong password")
    assert (
        "Please enter the correct username and password" in page.locator(".errornote").inner_text()
    )

    type_password(page, PASSWORD)
    assert "/admin/two-factor/verify/" in page.url
    assert "Enter the six-digit code from your authenticator app" in page.inner_text("#content")
    # The password alone opens nothing.
    page.goto(admin_url("/admin/customers/customer/"))
    assert "/admin/two-factor/verify/" in page.url
    type_code(page, "000000" if code_for(enrolled_user) != "000000" else "111111")
    assert str(WRONG_CODE) in page.locator("#content .errorlist").inner_text()

    # django-otp refuses any code for a second after a wrong one.
    page.wait_for_timeout(1100)
    type_code(page, code_for(enrolled_user))
    assert page.get_by_role("heading", name="Select customer to change").is_visible()
    click_and_wait(page.locator("#site-name a"))
    assert page.get_by_role("heading", name="Customers, groups and orders").is_visible()

    click_and_wait(page.get_by_role("button", name="Log out"))
    assert page.get_by_role("heading", name="Logged out").is_visible()
    page.goto(admin_url("/admin/customers/customer/"))
    assert "/admin/login/" in page.url


def code_from_secret(secret: str) -> str:
    """What an authenticator app shows for a secret typed into it (30-second steps, 6 digits)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key):06d}"


def test_sensitive_staff_enrols_an_app_with_the_qr_page_and_a_valid_code(
    page, admin_url, demo_user
):
    page.goto(admin_url("/admin/login/?next=/admin/customers/customer/"))
    type_password(page, PASSWORD)
    assert "/admin/two-factor/setup/" in page.url
    assert page.get_by_role("heading", name="Set up two-factor sign-in").is_visible()
    qr = page.locator(".two-factor-qr svg")
    assert qr.is_visible()
    assert qr.bounding_box()["width"] > 100  # big enough for a phone's camera
    secret = page.locator("#totp-secret").inner_text().strip()
    assert len(secret) >= 16

    page.get_by_label("Code").fill("12345")
    click_and_wait(page.get_by_role("button", name="Confirm"))
    assert str(WRONG_CODE) in page.locator("#content .errorlist").inner_text()
    assert not TOTPDevice.objects.filter(user=demo_user, confirmed=True).exists()

    page.wait_for_timeout(1100)
    assert page.locator("#totp-secret").inner_text().strip() == secret  # the same app secret
    page.get_by_label("Code").fill(code_from_secret(secret))
    click_and_wait(page.get_by_role("button", name="Confirm"))
    assert "Two-factor sign-in is set up." in messages(page)
    assert page.get_by_role("heading", name="Select customer to change").is_visible()
    assert list(User.objects.get(pk=demo_user.pk).totpdevice_set.values_list("confirmed")) == [
        (True,)
    ]
