"""The public unsubscribe page that every marketing email links to (no sign-in, outside /admin/).

The signed token in the address is the only authority. GET shows a confirm button, so that a
link scanner opening the page changes nothing; POST unsubscribes: the button's, or the mailbox
provider's RFC 8058 one-click POST (body ``List-Unsubscribe=One-Click``, no CSRF token).
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from customers.services.consent import (
    UNSUBSCRIBE_ACTOR,
    UnsubscribeTokenInvalid,
    customer_unsubscribe,
    unsubscribe_token_read,
)

TEMPLATE = "customers/unsubscribe/page.html"


# The mailbox provider's POST carries no CSRF token; the signed token stands in for it, and the
# worst a forged POST can do is what the link's owner asked for.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    """Confirm (GET) or carry out (POST) a customer's unsubscribe from marketing email."""
    context = {**admin.site.each_context(request), "title": _("Unsubscribe"), "token": token}
    try:
        customer_id, channel = unsubscribe_token_read(token)
    except UnsubscribeTokenInvalid:
        context["step"] = "invalid"
        return TemplateResponse(request, TEMPLATE, context, status=400)
    if request.method == "POST":
        customer_unsubscribe(actor=UNSUBSCRIBE_ACTOR, customer_id=customer_id, channel=channel)
        context["step"] = "done"
    else:
        context["step"] = "confirm"
    return TemplateResponse(request, TEMPLATE, context)
