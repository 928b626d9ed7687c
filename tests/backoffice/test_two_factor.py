"""Two-factor sign-in: staff who can reach many customers' personal data prove a TOTP code."""

from __future__ import annotations

import re
from base64 import b32encode
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice.staff.two_factor import TOO_MANY_CODES, WRONG_CODE
from tests.backoffice.helpers import (
    INDEX_URL,
    LIST_URL,
    SETUP_URL,
    VERIFY_URL,
    code_for,
    password_login,
    signed_in_user_id,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def seconds_later(monkeypatch):
    """Move the clock django-otp's throttling reads forward (the app's codes stay current)."""
    real_now = timezone.now

    def move(seconds: int) -> None:
        monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=seconds))

    return move


EXPORT_URL = reverse("admin:customers_customer_export")
SENSITIVE = [
    "import_customer",
    "export_customer",
    "merge_customer",
    "delete_customer",
    "request_erasure_customer",
    "export_personal_data_customer",
    "email_customer",
]


@pytest.mark.parametrize("codename", SENSITIVE)
def test_each_sensitive_permission_sends_an_unenrolled_user_to_enrolment(
    client, make_staff, codename
):
    user = make_staff("view_customer", codename)

    response = password_login(client, user.username, "pw")
    assert response.status_code == 302 and signed_in_user_id(client) == str(user.pk)

    response = client.get(INDEX_URL)
    assert response.status_code == 302
    assert response["Location"] == f"{SETUP_URL}?next=%2Fadmin%2F"


def test_no_admin_page_opens_before_enrolment_and_every_page_after(
    client, make_staff, seconds_later
):
    exporter = make_staff("view_customer", "export_customer")
    password_login(client, exporter.username, "pw")
    for url in (INDEX_URL, LIST_URL, EXPORT_URL, reverse("admin:auth_user_changelist")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(SETUP_URL), url

    page = client.get(f"{SETUP_URL}?next={EXPORT_URL}")
    html = page.content.decode()
    device = TOTPDevice.objects.get(user=exporter, confirmed=False)
    assert "<svg" in html and "<path" in html  # the QR code, inline
    secret = b32encode(device.bin_key).decode().rstrip("=")
    assert re.search(rf'<code id="totp-secret">{secret}</code>', html)
    assert "Customer back office" in html  # the admin's own layout

    wrong = client.post(SETUP_URL, {"token": "000000", "next": EXPORT_URL})
    assert wrong.status_code == 200 and str(WRONG_CODE) in wrong.content.decode()
    assert client.get(LIST_URL).status_code == 302
    device.refresh_from_db()
    assert not device.confirmed
    # Guessing is slowed down: right after a wrong code even the right one waits.
    too_soon = client.post(SETUP_URL, {"token": code_for(device), "next": EXPORT_URL})
    assert str(TOO_MANY_CODES) in too_soon.content.decode()
    seconds_later(5)

    response = client.post(SETUP_URL, {"token": code_for(device), "next": EXPORT_URL})

    assert response.status_code == 302 and response["Location"] == EXPORT_URL
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(LIST_URL).status_code == 200
    assert client.get(EXPORT_URL).status_code == 200


def test_an_enrolled_user_enters_the_code_after_the_password(client, make_staff, seconds_later):
    merger = make_staff("view_customer", "merge_customer")
    device = TOTPDevice.objects.create(user=merger, name="Phone", confirmed=True)

    password_login(client, merger.username, "pw")

    assert (
        client.get(LIST_URL)["Location"] == f"{VERIFY_URL}?next=%2Fadmin%2Fcustomers%2Fcustomer%2F"
    )
    # A password alone cannot enrol a second app next to the real one.
    assert client.get(SETUP_URL)["Location"].startswith(VERIFY_URL)
    assert not TOTPDevice.objects.filter(user=merger, confirmed=False).exists()
    wrong = client.post(VERIFY_URL, {"token": "123456", "next": LIST_URL})
    assert str(WRONG_CODE) in wrong.content.decode()
    assert client.get(LIST_URL).status_code == 302
    too_soon = client.post(VERIFY_URL, {"token": code_for(device), "next": LIST_URL})
    assert str(TOO_MANY_CODES) in too_soon.content.decode()
    seconds_later(5)

    response = client.post(VERIFY_URL, {"token": code_for(device), "next": LIST_URL})

    assert response["Location"] == LIST_URL
    assert client.get(LIST_URL).status_code == 200


def test_a_code_cannot_be_replayed_in_another_session(client, make_staff):
    eraser = make_staff("view_customer", "request_erasure_customer")
    device = TOTPDevice.objects.create(user=eraser, name="Phone", confirmed=True)
    password_login(client, eraser.username, "pw")
    code = code_for(device)
    client.post(VERIFY_URL, {"token": code})
    assert client.get(LIST_URL).status_code == 200

    other = client.__class__()
    password_login(other, eraser.username, "pw")
    other.post(VERIFY_URL, {"token": code})

    assert other.get(LIST_URL).status_code == 302


def test_the_superuser_needs_a_second_factor_too(client, superuser):
    password_login(client, "boss", "pw")

    assert client.get(INDEX_URL)["Location"].startswith(SETUP_URL)


def test_a_clerk_without_sensitive_permissions_signs_in_with_the_password(client, make_staff):
    clerk = make_staff("view_customer", "change_customer", "tag_customer", "archive_customer")

    password_login(client, clerk.username, "pw")

    assert client.get(LIST_URL).status_code == 200
    # ...and may still enrol from the admin's user links.
    assert f'href="{SETUP_URL}"' in client.get(INDEX_URL).content.decode()
    assert client.get(SETUP_URL).status_code == 200


def test_the_setting_requires_it_of_every_staff_user(client, make_staff, settings):
    settings.BACKOFFICE_2FA_ALL_STAFF = True
    clerk = make_staff("view_customer")

    password_login(client, clerk.username, "pw")

    assert client.get(LIST_URL)["Location"].startswith(SETUP_URL)


def test_reset_2fa_gives_a_single_use_recovery_code_then_requires_a_new_app(client, make_staff):
    importer = make_staff("view_customer", "import_customer", username="ines")
    TOTPDevice.objects.create(user=importer, name="Lost phone", confirmed=True)
    out = StringIO()

    call_command("reset_2fa", "ines", stdout=out)

    assert "Removed 1 two-factor device(s) of ines." in out.getvalue()
    recovery = re.search(r"Single-use recovery code: (\w+)", out.getvalue()).group(1)
    assert not TOTPDevice.objects.filter(user=importer).exists()
    password_login(client, "ines", "pw")
    assert client.get(LIST_URL)["Location"].startswith(VERIFY_URL)
    client.post(VERIFY_URL, {"token": recovery})
    # Signed in with the recovery code: a new app first, then the back office.
    assert client.get(LIST_URL)["Location"].startswith(SETUP_URL)
    assert "<svg" in client.get(SETUP_URL).content.decode()
    device = TOTPDevice.objects.get(user=importer, confirmed=False)
    client.post(SETUP_URL, {"token": code_for(device)})
    assert client.get(LIST_URL).status_code == 200
    assert not StaticDevice.objects.filter(user=importer).exists()  # the code is spent

    again = client.__class__()
    password_login(again, "ines", "pw")
    again.post(VERIFY_URL, {"token": recovery})
    assert again.get(LIST_URL).status_code == 302


def test_reset_2fa_names_an_unknown_user():
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("reset_2fa", "nobody")
    assert not User.objects.exists()
