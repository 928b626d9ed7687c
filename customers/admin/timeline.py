"""The timeline section of the customer change page: one page of the stream, its kind filter
and the links to the pages beside it, all plain GET parameters of the change page."""

from __future__ import annotations

from django.urls import reverse

from customers.admin.privacy import format_datetime
from customers.models import Customer, Note, Order
from customers.selectors.timeline import TIMELINE_KIND_CODES, TIMELINE_KINDS, customer_timeline

KIND_PARAM = "timeline"
BEFORE_PARAM = "timeline_before"
AFTER_PARAM = "timeline_after"
# Kinds of entry that show a model staff may be kept from seeing, and that model.
RESTRICTED_KINDS = {"orders": Order, "notes": Note}


def _may_see(user, model) -> bool:
    opts = model._meta
    return any(
        user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
        for action in ("view", "change")
    )


def timeline_context(request, customer: Customer | None) -> dict:
    """The change page's ``timeline`` for ``customer`` as ``request`` asks for it ({}: none)."""
    if customer is None or customer.pk is None:
        return {}
    hidden = {code for code, model in RESTRICTED_KINDS.items() if not _may_see(request.user, model)}
    kind = request.GET.get(KIND_PARAM)
    kind = kind if kind in TIMELINE_KIND_CODES and kind not in hidden else None
    page = customer_timeline(
        customer_id=customer.pk,
        kind=kind,
        hidden=hidden,
        before=request.GET.get(BEFORE_PARAM),
        after=request.GET.get(AFTER_PARAM),
    )
    return {
        "timeline": {
            "entries": [
                {
                    "entry": entry,
                    "when": format_datetime(entry.at),
                    "order_url": reverse("admin:customers_order_change", args=[entry.order_id])
                    if entry.order_id
                    else "",
                }
                for entry in page.entries
            ],
            "page": page,
            "kind": kind or "",
            "kinds": [k for k in TIMELINE_KINDS if k.code not in hidden],
            "history_url": reverse("admin:customers_customer_history", args=[customer.pk]),
        }
    }
