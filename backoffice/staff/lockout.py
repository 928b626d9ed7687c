"""Which address a login attempt comes from, for django-axes' lockout."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """Return the client's address, BACKOFFICE_PROXY_COUNT trusted hops back in X-Forwarded-For.

    Behind a reverse proxy REMOTE_ADDR is the proxy's own address: every attacker would share it.
    Only the hops our own proxies appended are trusted; what the client wrote is not.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.BACKOFFICE_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    return forwarded[-hops] if len(forwarded) >= hops else remote
