"""The lean path for Shopify's webhooks: answered ahead of the back office's middleware.

A webhook carries no cookie, signs in as no one and is authenticated by its HMAC alone, so the
session, authentication, two-factor, CSRF, messages, clickjacking and django-axes middleware
have nothing to do for it, yet cost a millisecond of CPU per delivery between them (most of the
budget at 300 deliveries a second on two cores). This middleware sits right after Django's
SecurityMiddleware (HTTPS redirect, HSTS) and hands the webhook URLs straight to their view;
every other URL goes down the whole stack as before.
"""

from __future__ import annotations

from django.urls import Resolver404, resolve

from customers.channels.views import shopify_webhook

PREFIX = "/channels/shopify/"


class ChannelWebhookMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(PREFIX):
            request.get_host()  # ALLOWED_HOSTS still holds (CommonMiddleware is skipped)
            try:
                match = resolve(request.path_info)
            except Resolver404:
                match = None
            if match is not None and match.func is shopify_webhook:
                return shopify_webhook(request, *match.args, **match.kwargs)
        return self.get_response(request)
