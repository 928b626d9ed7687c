"""Guarded deletion of customers: the list action, the change page's delete view and every
other path the admin has to delete (all through ``customers_delete``)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from customers.admin.reports import reasons_text, report
from customers.admin.selection import TEMPLATE_DIR, confirmation_page
from customers.services.deletion import DeleteBlock, customers_delete, customers_deletion_plan


def deletion_context(plan) -> dict:
    """What the confirmation pages show of a deletion plan: who is kept, and why."""
    return {
        "plan": plan,
        "kept_lines": [
            (kept, DeleteBlock(reason).label) for kept in plan.kept for reason in kept.reasons
        ],
        "kept_by_reason": [
            (DeleteBlock(reason).label, count) for reason, count in plan.kept_by_reason.items()
        ],
    }


def report_deletion(modeladmin, request, result) -> None:
    """Say how many customers were deleted and how many were kept, by reason."""
    kept = len(result.kept)
    report(
        modeladmin,
        request,
        ngettext("%(count)d customer deleted.", "%(count)d customers deleted.", result.deleted)
        % {"count": result.deleted},
        kept,
        ngettext(
            "%(count)d customer kept (%(reasons)s).",
            "%(count)d customers kept (%(reasons)s).",
            kept,
        ),
        reasons=reasons_text(result.kept_by_reason, DeleteBlock),
    )


@admin.action(permissions=["delete"], description=gettext_lazy("Delete selected customers"))
def delete_customers(modeladmin, request, queryset):
    """Delete the deletable customers of the selection; keep (and say) the others."""

    def apply(form, selection):
        result = customers_delete(actor=request.user, customers=selection.queryset)
        report_deletion(modeladmin, request, result)

    return confirmation_page(
        modeladmin,
        request,
        queryset,
        title=_("Delete customers"),
        submit=_("Yes, delete the deletable ones"),
        apply=apply,
        template="delete_confirmation.html",
        context=lambda: deletion_context(customers_deletion_plan(customers=queryset)),
    )


def delete_view(modeladmin, request, object_id):
    """The change page's delete button: the same guard as the list action."""
    obj = modeladmin.get_object(request, unquote(object_id))
    if obj is None:
        return modeladmin._get_obj_does_not_exist_redirect(request, modeladmin.opts, object_id)
    # Deleting a customer one may not even look at would be deleting blind.
    if not (
        modeladmin.has_delete_permission(request, obj)
        and modeladmin.has_view_or_change_permission(request, obj)
    ):
        raise PermissionDenied
    plan = customers_deletion_plan(customers=[obj.pk])
    if request.method == "POST" and request.POST.get("post") == "yes" and not plan.kept:
        result = customers_delete(actor=request.user, customers=[obj.pk])
        report_deletion(modeladmin, request, result)
        return HttpResponseRedirect(reverse("admin:customers_customer_changelist"))
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Delete customer"),
        "opts": modeladmin.opts,
        "object": obj,
        "submit_label": _("Yes, delete"),
        **deletion_context(plan),
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, f"{TEMPLATE_DIR}/delete_one_confirmation.html", context)
