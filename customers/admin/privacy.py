"""Erasure requests (list actions and the change page's button) and the personal-data export.

Thin adapters over ``customers.services.privacy``. The pages show what erasure removes and what
it blocks from lists handed in by the views, never restated in a template.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers.admin.selection import TEMPLATE_DIR, confirmation_page
from customers.models import Address, Customer, Note, Status
from customers.personal_data import CUSTOMER_IDENTITY_FIELDS
from customers.services.privacy import (
    ERASURE_BLOCKS,
    customer_cancel_erasure,
    customer_export_personal_data,
    customer_request_erasure,
    customers_cancel_erasure,
    customers_request_erasure,
    erasure_due_date,
    last_order_dates,
)

CONFIRMATION_SHOWN = 50
ERASURE_PENDING = _("Erasure pending")
ERASURE_TEMPLATE = f"{TEMPLATE_DIR}/erasure_confirmation.html"


def erased_data() -> list[str]:
    """What erasure removes, in words, for the confirmation page."""
    return [
        *(
            capfirst(Customer._meta.get_field(name).verbose_name)
            for name in CUSTOMER_IDENTITY_FIELDS
        ),
        capfirst(Address._meta.verbose_name_plural),
        capfirst(Note._meta.verbose_name_plural),
        _("Addresses on orders"),
    ]


def erasure_blocks() -> list[str]:
    """What a pending erasure request prevents, in words, for the change page's banner."""
    return [str(item) for item in ERASURE_BLOCKS]


def format_datetime(value) -> str:
    return date_format(timezone.localtime(value), "DATETIME_FORMAT") if value else "—"


def erasure_change_context(modeladmin, request, customer: Customer | None) -> dict:
    """The change page's erasure banner and buttons for ``customer`` (None: not found)."""
    status = customer.status if customer else None
    pending = customer is not None and customer.erasure_is_pending
    may_request = modeladmin.has_request_erasure_permission(request)
    context = {
        "erasure_pending": pending,
        "can_request_erasure": (
            not pending and status not in (None, Status.MERGED, Status.REDACTED) and may_request
        ),
        "can_cancel_erasure": pending and may_request,
        "can_export_personal_data": status is not None
        and modeladmin.has_export_personal_data_permission(request),
    }
    if pending:
        requested_by = customer.erasure_requested_by
        due = erasure_due_date(
            requested_at=customer.erasure_requested_at,
            last_order=last_order_dates([customer.pk]).get(customer.pk),
        )
        context.update(
            erasure_requested_at=format_datetime(customer.erasure_requested_at),
            erasure_requested_by=requested_by.get_username() if requested_by else "",
            erasure_due=format_datetime(due),
            erasure_blocks=erasure_blocks(),
        )
    return context


def _erasure_page_context(*, step: str, customers: list, total: int) -> dict:
    return {
        "step": step,
        "customers": customers[:CONFIRMATION_SHOWN],
        "more": max(total - CONFIRMATION_SHOWN, 0),
        "total": total,
        "hold_days": settings.BACKOFFICE_ERASURE_HOLD_DAYS,
        "erased_data": erased_data(),
    }


def erasure_view(modeladmin, request, object_id, step):
    """Confirm (GET) then record (POST) or cancel an erasure request from the change page."""
    if step not in ("request", "cancel"):
        raise PermissionDenied
    if not modeladmin.has_request_erasure_permission(request):
        raise PermissionDenied
    obj = modeladmin.get_object(request, unquote(object_id))
    if obj is None:
        return modeladmin._get_obj_does_not_exist_redirect(request, modeladmin.opts, object_id)
    change_url = reverse("admin:customers_customer_change", args=[obj.pk])
    if request.method == "POST":
        service = customer_request_erasure if step == "request" else customer_cancel_erasure
        try:
            service(actor=request.user, customer_id=obj.pk)
        except ValidationError as error:
            modeladmin.message_user(request, " ".join(error.messages), messages.ERROR)
        else:
            done = (
                _("Erasure of %(customer)s requested.")
                if step == "request"
                else _("Erasure request of %(customer)s cancelled.")
            )
            modeladmin.message_user(request, done % {"customer": obj}, messages.SUCCESS)
        return HttpResponseRedirect(change_url)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Request erasure") if step == "request" else _("Cancel erasure request"),
        "subtitle": None,
        "opts": modeladmin.opts,
        "form_url": request.get_full_path(),
        "cancel_url": change_url,
        "media": modeladmin.media,
        **_erasure_page_context(step=step, customers=[obj], total=1),
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, ERASURE_TEMPLATE, context)


def _erasure_action(modeladmin, request, queryset, *, step: str):
    def apply(form, selection):
        if step == "request":
            result = customers_request_erasure(actor=request.user, queryset=selection.queryset)
            done = ngettext(
                "Erasure requested for %(count)d customer.",
                "Erasure requested for %(count)d customers.",
                result.changed,
            )
            skipped = ngettext(
                "%(count)d customer skipped: already pending, merged or erased.",
                "%(count)d customers skipped: already pending, merged or erased.",
                result.skipped,
            )
        else:
            result = customers_cancel_erasure(actor=request.user, queryset=selection.queryset)
            done = ngettext(
                "Erasure request cancelled for %(count)d customer.",
                "Erasure request cancelled for %(count)d customers.",
                result.changed,
            )
            skipped = ngettext(
                "%(count)d customer skipped: no pending request.",
                "%(count)d customers skipped: no pending request.",
                result.skipped,
            )
        modeladmin.message_user(request, done % {"count": result.changed}, messages.SUCCESS)
        if result.skipped:
            modeladmin.message_user(request, skipped % {"count": result.skipped}, messages.WARNING)

    return confirmation_page(
        modeladmin,
        request,
        queryset,
        title=_("Request erasure") if step == "request" else _("Cancel erasure request"),
        submit=_("Yes, I’m sure"),
        apply=apply,
        template="erasure_confirmation.html",
        context=lambda: _erasure_page_context(
            step=step,
            customers=list(queryset.order_by("pk")[:CONFIRMATION_SHOWN]),
            total=queryset.count(),
        ),
    )


@admin.action(
    permissions=["request_erasure"], description=_("Request erasure of selected customers")
)
def request_erasure(modeladmin, request, queryset):
    return _erasure_action(modeladmin, request, queryset, step="request")


@admin.action(
    permissions=["request_erasure"],
    description=_("Cancel erasure request of selected customers"),
)
def cancel_erasure(modeladmin, request, queryset):
    return _erasure_action(modeladmin, request, queryset, step="cancel")


def personal_data_view(modeladmin, request, object_id):
    """Download everything held on one customer as a JSON document."""
    if not modeladmin.has_export_personal_data_permission(request):
        raise PermissionDenied
    obj = modeladmin.get_object(request, unquote(object_id))
    if obj is None:
        return modeladmin._get_obj_does_not_exist_redirect(request, modeladmin.opts, object_id)
    document = customer_export_personal_data(actor=request.user, customer_id=obj.pk)
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="customer-{obj.pk}-personal-data.json"'
    response["Cache-Control"] = "no-store"
    return response
