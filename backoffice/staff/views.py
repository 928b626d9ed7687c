"""Two-factor enrolment and verification pages, and the admin-styled 403 page."""

from __future__ import annotations

import django_otp
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import devices_for_user

from backoffice.staff.forms import TokenForm
from backoffice.staff.two_factor import (
    STEP_VERIFY,
    TOO_MANY_CODES,
    WRONG_CODE,
    codes_throttled,
    totp_device_confirm,
    totp_device_pending,
    totp_qr_svg,
    totp_secret,
    two_factor_step,
)

DEFAULT_403_REASON = _("You do not have permission to open this page.")


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("admin:index")


def _render(request: HttpRequest, template: str, **context) -> TemplateResponse:
    context = {**admin.site.each_context(request), "next": _next_url(request), **context}
    return TemplateResponse(request, template, context)


@never_cache
@sensitive_post_parameters("token")
@staff_member_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Show a new app secret (QR code and text) and confirm it with a code from the app."""
    if two_factor_step(request.user) == STEP_VERIFY:
        # Enrolling another app needs the factor already held: a password alone never adds one.
        return HttpResponseRedirect(
            f"{reverse('staff:two_factor_verify')}?{request.GET.urlencode()}"
        )
    device = totp_device_pending(user=request.user)
    form = TokenForm(request.POST or None)
    if form.is_valid():
        try:
            enrolment = totp_device_confirm(
                actor=request.user, device=device, token=form.cleaned_data["token"]
            )
        except ValidationError as error:
            form.add_error("token", error)
        else:
            django_otp.login(request, enrolment.device)
            messages.success(request, gettext("Two-factor sign-in is set up."))
            return HttpResponseRedirect(_next_url(request))
    return _render(
        request,
        "admin/two_factor/setup.html",
        title=_("Set up two-factor sign-in"),
        form=form,
        qr_svg=totp_qr_svg(device),
        secret=totp_secret(device),
    )


@never_cache
@sensitive_post_parameters("token")
@staff_member_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """Take the code of the user's app (or a recovery code) after their password."""
    if two_factor_step(request.user) != STEP_VERIFY:
        return HttpResponseRedirect(_next_url(request))
    form = TokenForm(request.POST or None)
    if form.is_valid():
        if codes_throttled(request.user):
            form.add_error("token", TOO_MANY_CODES)
        elif device := _device_accepting(request.user, form.cleaned_data["token"]):
            django_otp.login(request, device)
            return HttpResponseRedirect(_next_url(request))
        else:
            form.add_error("token", WRONG_CODE)
    return _render(
        request, "admin/two_factor/verify.html", title=_("Two-factor sign-in"), form=form
    )


def _device_accepting(user, token: str):
    """Return the user's confirmed device that accepts ``token``, or None."""
    for device in devices_for_user(user, confirmed=True):
        # One device at a time, each in its own transaction: django-otp's throttling holds.
        if django_otp.verify_token(user, device.persistent_id, token):
            return device
    return None


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Render a refused page in the admin's layout, with the reason and a way back."""
    reason = str(exception) if exception and str(exception) else DEFAULT_403_REASON
    referer = request.META.get("HTTP_REFERER", "")
    back = (
        referer
        if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()})
        else reverse("admin:index")
    )
    context = {**admin.site.each_context(request), "title": _("Forbidden"), "reason": reason}
    context["back_url"] = back
    response = TemplateResponse(request, "403.html", context, status=403)
    return response.render()
