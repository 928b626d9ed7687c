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

from customers.admin.reports import report
from customers.admin.selection import TEMPLATE_DIR
from customers.models import Customer
from customers.phones import phone_display, phone_display_in_text
from customers.services.deletion import DeleteBlock, customers_delete, customers_deletion_plan

# How many of the customers to be deleted the confirmation pages name; the rest are counted.
DELETED_NAMED = 10


def _kept_phrase(reason: str, count: int) -> str:
    """'2 have order history': how many customers one reason keeps, in a plural form."""
    phrases = {
        DeleteBlock.ORDERS: lambda: ngettext(
            "%(count)d has order history", "%(count)d have order history", count
        ),
        DeleteBlock.ERASURE: lambda: ngettext(
            "%(count)d has a pending erasure request",
            "%(count)d have a pending erasure request",
            count,
        ),
        DeleteBlock.SUBSCRIPTION: lambda: ngettext(
            "%(count)d has an active subscription", "%(count)d have an active subscription", count
        ),
        DeleteBlock.ABSORBED: lambda: ngettext(
            "%(count)d has other customers merged into it",
            "%(count)d have other customers merged into them",
            count,
        ),
        DeleteBlock.MERGED: lambda: ngettext(
            "%(count)d was merged into another customer (kept for the merge history)",
            "%(count)d were merged into another customer (kept for the merge history)",
            count,
        ),
    }
    return phrases[reason]() % {"count": count}


def kept_reasons_text(kept_by_reason: dict[str, int]) -> str:
    """'2 have order history, 3 have an active subscription' (customers counted per reason)."""
    return ", ".join(
        _kept_phrase(reason, count) for reason, count in kept_by_reason.items() if count
    )


def _customer_label(customer: Customer) -> str:
    name, contact = customer.full_name, customer.email or phone_display(customer.phone)
    if name and contact:
        return f"{name} <{contact}>"
    return name or contact or f"#{customer.pk}"


def deletion_context(plan) -> dict:
    """What the confirmation pages show of a deletion plan: who goes, who is kept and why.

    Each kept customer is listed once with all its reasons; the summary counts customers.
    """
    named_ids = plan.deletable[:DELETED_NAMED]
    named = Customer.objects.in_bulk(named_ids) if named_ids else {}
    kept = len(plan.kept)
    return {
        "plan": plan,
        "kept_customers": [
            (
                item,
                phone_display_in_text(item.label),
                [DeleteBlock(reason).label for reason in item.reasons],
            )
            for item in plan.kept
        ],
        "kept_summary": ngettext(
            "%(count)d customer will be kept: %(reasons)s.",
            "%(count)d customers will be kept: %(reasons)s.",
            kept,
        )
        % {"count": kept, "reasons": kept_reasons_text(plan.kept_by_reason)},
        "deleted_named": [(pk, _customer_label(named[pk])) for pk in named_ids if pk in named],
        "deleted_more": max(len(plan.deletable) - DELETED_NAMED, 0),
    }


def report_deletion(modeladmin, request, result) -> None:
    """Say how many customers were deleted and how many were kept, counted per reason."""
    kept = len(result.kept)
    report(
        modeladmin,
        request,
        ngettext("%(count)d customer deleted.", "%(count)d customers deleted.", result.deleted)
        % {"count": result.deleted},
        kept,
        ngettext(
            "%(count)d customer kept: %(reasons)s.",
            "%(count)d customers kept: %(reasons)s.",
            kept,
        ),
        reasons=kept_reasons_text(result.kept_by_reason),
    )


@admin.action(permissions=["delete"], description=gettext_lazy("Delete selected customers"))
def delete_customers(modeladmin, request, queryset):
    """Delete the deletable customers of the selection; keep (and say) the others."""
    # The list's actions module imports this one: the shared page is looked up when used.
    from customers.admin.actions import bulk_confirmation_page

    return bulk_confirmation_page(
        modeladmin,
        request,
        queryset,
        action="delete_customers",
        title=_("Delete customers"),
        submit=_("Yes, delete the deletable ones"),
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
