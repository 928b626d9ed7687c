"""Hold a signed-in staff user on the two-factor pages until their second factor is proven."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

from backoffice.staff.two_factor import STEP_SETUP, two_factor_step

# Pages open before the second factor: the two steps themselves, leaving, and static files.
_OPEN_URL_NAMES = ("staff:two_factor_setup", "staff:two_factor_verify", "admin:logout")


class TwoFactorMiddleware:
    """Redirect to the verify or enrolment page every request that needs a second factor first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._is_open(request.path_info):
            return self.get_response(request)
        step = two_factor_step(request.user)
        if step is None:
            return self.get_response(request)
        name = "staff:two_factor_setup" if step == STEP_SETUP else "staff:two_factor_verify"
        return HttpResponseRedirect(f"{reverse(name)}?{urlencode({'next': request.path})}")

    @staticmethod
    def _is_open(path: str) -> bool:
        if path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return True
        return any(path == reverse(name) for name in _OPEN_URL_NAMES)
