"""Who must sign in with a second factor, and the writes that enrol or reset one.

Staff holding a permission that reads or changes many customers' personal data at once must
prove a TOTP code after their password; BACKOFFICE_2FA_ALL_STAFF extends this to every staff user.
"""

from __future__ import annotations

import logging
from base64 import b32encode
from dataclasses import dataclass

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

logger = logging.getLogger(__name__)

# The customer permissions that reach many records' personal data: import, export, merge,
# delete, erasure, personal-data export, email.
SENSITIVE_PERMISSIONS = frozenset(
    {
        "customers.import_customer",
        "customers.export_customer",
        "customers.merge_customer",
        "customers.delete_customer",
        "customers.request_erasure_customer",
        "customers.export_personal_data_customer",
        "customers.email_customer",
    }
)
APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery code"
WRONG_CODE = _("This code is not valid. Enter the current six-digit code from your app.")
TOO_MANY_CODES = _(
    "Too many wrong codes in a row: wait a few seconds, then enter the current code."
)

# What a signed-in staff user must do before any other page.
STEP_VERIFY = "verify"
STEP_SETUP = "setup"


def user_requires_two_factor(user) -> bool:
    """Tell whether policy requires this staff user to sign in with a second factor."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    if settings.BACKOFFICE_2FA_ALL_STAFF or user.is_superuser:
        return True
    return bool(SENSITIVE_PERMISSIONS & user.get_all_permissions())


def two_factor_step(user) -> str | None:
    """Return the step a signed-in user must take before any admin page, or None."""
    if not (user.is_authenticated and user.is_staff):
        return None
    if user.is_verified():
        if isinstance(user.otp_device, TOTPDevice) or not user_requires_two_factor(user):
            return None
        # Signed in with a one-use recovery code: enrol an app before going on.
        has_app = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        return None if has_app else STEP_SETUP
    has_device = any(True for _ in devices_for_user(user, confirmed=True))
    if has_device:
        return STEP_VERIFY
    return STEP_SETUP if user_requires_two_factor(user) else None


def codes_throttled(user) -> bool:
    """Tell whether a code tried now would be refused unread, too soon after wrong ones."""
    return any(not device.verify_is_allowed()[0] for device in devices_for_user(user))


def totp_device_pending(*, user: AbstractBaseUser) -> TOTPDevice:
    """Return the user's unconfirmed app device (made if missing): its secret is shown."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)


def totp_secret(device: TOTPDevice) -> str:
    """Return the device's secret in the base32 form authenticator apps accept typed in."""
    return b32encode(device.bin_key).decode("ascii").rstrip("=")


def totp_qr_svg(device: TOTPDevice) -> str:
    """Return the otpauth:// QR code of the device as inline SVG."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


@dataclass(frozen=True)
class Enrolment:
    device: TOTPDevice


def totp_device_confirm(*, actor: AbstractBaseUser, device: TOTPDevice, token: str) -> Enrolment:
    """Confirm the actor's pending app device with a code it shows, retiring recovery codes."""
    if device.user_id != actor.pk or device.confirmed:
        raise ValidationError(WRONG_CODE, code="wrong_device")
    refused = None
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        if not device.verify_is_allowed()[0]:
            refused = ValidationError(TOO_MANY_CODES, code="throttled")
        elif device.verify_token(token.strip()):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=actor, confirmed=False).delete()
            StaticDevice.objects.filter(user=actor).delete()
        else:
            refused = ValidationError(WRONG_CODE, code="wrong_code")
    # Raised after the commit: the failure count django-otp's throttling keeps must stay.
    if refused is not None:
        raise refused
    logger.warning("Two-factor app enrolled for staff user %s", actor.get_username())
    return Enrolment(device=device)


@dataclass(frozen=True)
class Reset:
    removed_devices: int
    recovery_code: str


def user_two_factor_reset(*, actor: str, user: AbstractBaseUser) -> Reset:
    """Remove every second factor of ``user`` and issue one single-use recovery code.

    The user signs in with password and the code, then must enrol a new app: a stolen password
    alone is never enough to enrol one.
    """
    with transaction.atomic():
        removed = sum(
            model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
            for model in (TOTPDevice, StaticDevice)
        )
        recovery = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME)
        token = StaticToken.random_token()
        recovery.token_set.create(token=token)
    logger.warning(
        "Two-factor reset for staff user %s by %s (%d devices removed)",
        user.get_username(),
        actor,
        removed,
    )
    return Reset(removed_devices=removed, recovery_code=token)
