"""Sign in the way a person does: the admin's password page, then the code page."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

LOGIN_URL = reverse("admin:login")
INDEX_URL = reverse("admin:index")
LIST_URL = reverse("admin:customers_customer_changelist")
SETUP_URL = reverse("staff:two_factor_setup")
VERIFY_URL = reverse("staff:two_factor_verify")


def password_login(client: Client, username: str, password: str, **extra):
    """Post the admin's login form; return the response (not followed)."""
    return client.post(
        LOGIN_URL, {"username": username, "password": password, "next": INDEX_URL}, **extra
    )


def signed_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The six digits the user's app shows now (or that many 30-second steps later)."""
    device.refresh_from_db()
    number = totp(
        device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead
    )
    return f"{number:0{device.digits}d}"


def mark_second_factor_passed(client: Client, user) -> None:
    """Record in the client's session that ``user`` passed the code page (after force_login)."""
    device, _ = TOTPDevice.objects.get_or_create(user=user, defaults={"name": "test"})
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
