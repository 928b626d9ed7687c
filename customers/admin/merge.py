"""Admin for duplicates: the "Possible duplicates" page, the merge page and undoing a merge.

Thin adapters: the reads are in ``customers.selectors.duplicates``, the writes in
``customers.services.merge``. Everything here needs the ``merge_customer`` permission, except
reading a customer's merge history (``view_customer``). The views are plain functions that
CustomerAdmin's one ``get_urls`` and ``change_view`` wire in.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers.admin.privacy import format_datetime
from customers.admin.selection import ActionSelection
from customers.audit.events import moved_text
from customers.models import Customer, CustomerMerge, Status
from customers.phones import phone_display
from customers.selectors.duplicates import (
    ADDRESS,
    EMAIL,
    PHONE,
    REASONS,
    duplicate_groups,
    duplicate_groups_with_customers,
)
from customers.selectors.matching import customer_survivor
from customers.services.merge import (
    MERGE_FIELDS,
    MERGE_MAX,
    MERGE_NEEDS_TWO,
    MERGE_TOO_MANY,
    customer_unmerge,
    customers_merge,
    merge_default_choices,
    merge_default_survivor,
    merge_plan,
    merge_refusals,
    merge_undo_blockers,
)

GROUPS_PER_PAGE = 50
SEARCH_PARAM = "q"
MERGE_FORM_INVALID = _("The merge form was incomplete. Reload the page and try again.")
MERGED_REDIRECT = _("%(customer)s was merged into %(survivor)s; showing %(survivor)s.")


class MergeForm(forms.Form):
    """What staff post from the merge page: the survivor, a source per field, the versions seen."""

    def __init__(self, *args, customers: list[Customer], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(c.pk, str(c)) for c in customers]
        self.fields["survivor"] = forms.TypedChoiceField(choices=choices, coerce=int)
        self.fields["shown_survivor"] = forms.TypedChoiceField(
            choices=choices, coerce=int, required=False
        )
        for name in MERGE_FIELDS:
            self.fields[f"keep_{name}"] = forms.TypedChoiceField(
                choices=choices, coerce=int, required=False
            )
        for customer in customers:
            self.fields[f"version_{customer.pk}"] = forms.IntegerField(min_value=1)

    def field_choices(self) -> dict[str, int]:
        return {
            name: self.cleaned_data[f"keep_{name}"]
            for name in MERGE_FIELDS
            if self.cleaned_data.get(f"keep_{name}") not in (None, "")
        }

    def versions(self, customers: list[Customer]) -> dict[int, int]:
        return {c.pk: self.cleaned_data[f"version_{c.pk}"] for c in customers}


def _display(customer: Customer, name: str) -> str:
    value = getattr(customer, name)
    if name == "phone":
        return phone_display(value)
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if name == "date_of_birth":
        return date_format(value) if value else ""
    return "" if value is None else str(value)


# --- merged records lead to their survivor ------------------------------------------------


def merged_redirect(modeladmin, request, customer: Customer | None):
    """Send a merged record's change page to the customer it was merged into (None: no)."""
    if customer is None or customer.status != Status.MERGED:
        return None
    survivor = customer_survivor(customer)
    modeladmin.message_user(
        request,
        MERGED_REDIRECT % {"customer": customer, "survivor": survivor},
        messages.INFO,
    )
    return HttpResponseRedirect(reverse("admin:customers_customer_change", args=[survivor.pk]))


def merge_change_context(customer: Customer | None) -> dict:
    """The change page's "Merges (n) · Unmerge" link."""
    if customer is None:
        return {}
    return {
        "merge_count": CustomerMerge.objects.filter(survivor=customer).count(),
        "merges_url": reverse("admin:customers_customer_merges", args=[customer.pk]),
    }


# --- duplicates page ----------------------------------------------------------------------


def duplicates_view(modeladmin, request):
    if not modeladmin.has_merge_permission(request):
        raise PermissionDenied
    # One kind at a time: each page then streams from an index and stops after a page of
    # groups (tens of ms on a million customers); mixing kinds meant grouping them all.
    reason = request.GET.get("reason")
    reason = reason if reason in REASONS else PHONE
    search = " ".join(request.GET.get(SEARCH_PARAM, "").split())
    # No total count: it would cost a second full grouping on every page view.
    raw_page = request.GET.get("p", "")
    number = int(raw_page) if raw_page.isdigit() and int(raw_page) >= 1 else 1
    offset = (number - 1) * GROUPS_PER_PAGE
    rows = list(
        duplicate_groups(reason=reason, search=search)[offset : offset + GROUPS_PER_PAGE + 1]
    )
    groups = duplicate_groups_with_customers(rows[:GROUPS_PER_PAGE])
    merge_url = reverse("admin:customers_customer_merge")
    for group in groups:
        if group.reason == PHONE:
            group.label = phone_display(group.label)
        for customer in group.customers:
            customer.phone_shown = phone_display(customer.phone)
        group.merge_url = (
            f"{merge_url}?ids={','.join(str(pk) for pk in group.ids)}"
            if len(group.ids) <= MERGE_MAX
            else ""
        )
    reasons = [(key, REASONS[key]) for key in (PHONE, ADDRESS, EMAIL)]
    searched = f"&{urlencode({SEARCH_PARAM: search})}" if search else ""
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.opts,
        "title": _("Possible duplicates"),
        "groups": groups,
        "page_number": number,
        "previous_page": number - 1 if number > 1 else None,
        "next_page": number + 1 if len(rows) > GROUPS_PER_PAGE else None,
        "reason": reason,
        "reasons": [(key, label, f"?reason={key}{searched}") for key, label in reasons],
        "page_query": f"reason={reason}{searched}&",
        "search": search,
        "search_param": SEARCH_PARAM,
    }
    return TemplateResponse(request, "admin/customers/customer/duplicates.html", context)


# --- merge page -------------------------------------------------------------------------


@admin.action(permissions=["merge"], description=_("Merge selected customers"))
def merge_selected(modeladmin, request, queryset):
    """Two steps, like delete_selected: show the merge page, then merge on post=yes."""
    selection = ActionSelection.from_request(modeladmin, request, queryset)
    if selection.select_across:
        ids = list(queryset.values_list("pk", flat=True))
    else:
        # The ticked ids as posted: a group of the duplicates page may hold archived records,
        # which the list hides; the service tells which ones may merge.
        ids = [int(pk) for pk in selection.ids if pk.isdigit()]
    return _merge_page(modeladmin, request, ids, selection=selection)


def merge_view(modeladmin, request):
    """The merge page for a group of the duplicates page (GET ?ids=1,2,3)."""
    if not modeladmin.has_merge_permission(request):
        raise PermissionDenied
    ids = [int(pk) for pk in request.GET.get("ids", "").split(",") if pk.strip().isdigit()]
    selection = ActionSelection.of_ids(
        ids=ids,
        action="merge_selected",
        post_url=reverse("admin:customers_customer_changelist"),
    )
    back_url = reverse("admin:customers_customer_duplicates")
    response = _merge_page(modeladmin, request, ids, selection=selection, back_url=back_url)
    return response or HttpResponseRedirect(reverse("admin:customers_customer_duplicates"))


def _merge_page(
    modeladmin,
    request,
    ids: list[int],
    *,
    selection: ActionSelection,
    back_url: str | None = None,
):
    changelist_url = reverse("admin:customers_customer_changelist")
    back_url = back_url or changelist_url
    if len(set(ids)) > MERGE_MAX:
        modeladmin.message_user(
            request,
            MERGE_TOO_MANY % {"count": len(set(ids)), "max": MERGE_MAX},
            messages.ERROR,
        )
        return None
    customers = list(Customer.objects.select_related("group").filter(pk__in=set(ids)))
    if len(customers) < 2:
        modeladmin.message_user(request, MERGE_NEEDS_TWO, messages.ERROR)
        return None
    default = merge_default_survivor(customers)
    customers.sort(key=lambda c: (c.pk != default.pk, -c.order_count, c.created_at, c.pk))
    posted = request.method == "POST" and request.POST.get("post") == "yes"
    previewing = posted and "_preview" in request.POST
    # On confirm the service re-checks under lock and tells a stale page apart.
    refusals = merge_refusals(customers) if not posted or previewing else []
    if refusals:
        for error in refusals:
            modeladmin.message_user(request, error.messages[0], messages.ERROR)
        return None

    survivor, field_choices = default, None
    if posted:
        form = MergeForm(request.POST, customers=customers)
        if not form.is_valid():
            modeladmin.message_user(request, MERGE_FORM_INVALID, messages.ERROR)
            return None
        survivor = next(c for c in customers if c.pk == form.cleaned_data["survivor"])
        field_choices = form.field_choices()
        if not previewing:
            return _merge_confirm(modeladmin, request, form, customers, survivor, field_choices)
        if form.cleaned_data.get("shown_survivor") != survivor.pk:
            field_choices = _explicit_choices(
                customers, form.cleaned_data.get("shown_survivor"), field_choices
            )
    absorbed = [c for c in customers if c.pk != survivor.pk]
    try:
        plan = merge_plan(survivor=survivor, absorbed=absorbed, field_choices=field_choices)
    except ValidationError as error:
        modeladmin.message_user(request, error.messages[0], messages.ERROR)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.opts,
        "title": _("Merge customers"),
        "customers": customers,
        "survivor": survivor,
        "plan": plan,
        "rows": _merge_rows(customers, survivor, plan, field_choices),
        "moves": [(c, plan.summary_for(c.pk), plan.tag_names_for(c.pk)) for c in plan.absorbed],
        "changelist_url": changelist_url,
        "back_url": back_url,
        "selection": selection,
    }
    return TemplateResponse(request, "admin/customers/customer/merge.html", context)


def _explicit_choices(customers, shown_pk, posted: dict[str, int]) -> dict[str, int]:
    """The choices the user made on the page shown, beyond that survivor's defaults.

    A new survivor brings its own defaults for every field the user left alone; a field the
    user picked by hand keeps the pick.
    """
    shown = next((c for c in customers if c.pk == shown_pk), None)
    if shown is None:
        return {}
    defaults = merge_default_choices(shown, [c for c in customers if c.pk != shown.pk])
    return {name: pk for name, pk in posted.items() if defaults.get(name) != pk}


def _merge_rows(customers, survivor, plan, field_choices):
    chosen = merge_default_choices(survivor, [c for c in customers if c.pk != survivor.pk])
    chosen.update(field_choices or {})
    rows = []
    for name in MERGE_FIELDS:
        rows.append(
            {
                "name": name,
                "label": Customer._meta.get_field(name).verbose_name,
                "choosable": True,
                "cells": [
                    {"pk": c.pk, "display": _display(c, name), "checked": chosen[name] == c.pk}
                    for c in customers
                ],
                "result": _display(next(c for c in customers if c.pk == chosen[name]), name),
            }
        )
    group_names = {c.group_id: str(c.group) for c in customers if c.group_id}
    fixed = [
        (_("orders"), lambda c: str(c.order_count), str(sum(c.order_count for c in customers))),
        (
            Customer._meta.get_field("group").verbose_name,
            lambda c: str(c.group) if c.group_id else "",
            group_names.get(plan.group_id, ""),
        ),
        (
            Customer._meta.get_field("email_consent").verbose_name,
            lambda c: c.get_email_consent_display(),
            Customer(email_consent=plan.consent["email"]).get_email_consent_display(),
        ),
        (
            Customer._meta.get_field("sms_consent").verbose_name,
            lambda c: c.get_sms_consent_display(),
            Customer(sms_consent=plan.consent["sms"]).get_sms_consent_display(),
        ),
        (
            Customer._meta.get_field("has_active_subscription").verbose_name,
            lambda c: _display(c, "has_active_subscription"),
            str(_("Yes") if plan.has_active_subscription else _("No")),
        ),
        (
            Customer._meta.get_field("source").verbose_name,
            lambda c: c.get_source_display(),
            survivor.get_source_display(),
        ),
        (
            Customer._meta.get_field("status").verbose_name,
            lambda c: c.get_status_display(),
            survivor.get_status_display(),
        ),
        (
            Customer._meta.get_field("created_at").verbose_name,
            lambda c: format_datetime(c.created_at),
            format_datetime(survivor.created_at),
        ),
    ]
    for label, value, result in fixed:
        rows.append(
            {
                "name": "",
                "label": label,
                "choosable": False,
                "cells": [{"pk": c.pk, "display": value(c)} for c in customers],
                "result": result,
            }
        )
    return rows


def _merge_confirm(modeladmin, request, form, customers, survivor, field_choices):
    try:
        result = customers_merge(
            actor=request.user,
            survivor_id=survivor.pk,
            absorbed_ids=[c.pk for c in customers if c.pk != survivor.pk],
            field_choices=field_choices,
            expected_versions=form.versions(customers),
        )
    except ValidationError as error:
        for message in error.messages:
            modeladmin.message_user(request, message, messages.ERROR)
        return HttpResponseRedirect(reverse("admin:customers_customer_changelist"))
    modeladmin.message_user(
        request,
        ngettext(
            "Merged %(count)d customer into %(survivor)s: %(moved)s moved.",
            "Merged %(count)d customers into %(survivor)s: %(moved)s moved.",
            result.absorbed_count,
        )
        % {
            "count": result.absorbed_count,
            "survivor": result.survivor,
            "moved": moved_text(
                orders=result.orders, notes=result.notes, addresses=result.addresses
            ),
        },
        messages.SUCCESS,
    )
    return HttpResponseRedirect(
        reverse("admin:customers_customer_change", args=[result.survivor.pk])
    )


# --- merge history and undo -----------------------------------------------------------


def merges_view(modeladmin, request, object_id: int):
    customer = get_object_or_404(Customer, pk=object_id)
    if not modeladmin.has_view_or_change_permission(request, customer):
        raise PermissionDenied
    merges = list(
        CustomerMerge.objects.filter(survivor=customer).select_related("actor", "undone_by")
    )
    absorbed_ids = {pk for merge in merges for pk in merge.absorbed_ids}
    absorbed = Customer.objects.in_bulk(absorbed_ids)
    can_merge = modeladmin.has_merge_permission(request)
    for merge in merges:
        merge.absorbed_customers = [absorbed[pk] for pk in merge.absorbed_ids if pk in absorbed]
        for absorbed_customer in merge.absorbed_customers:
            absorbed_customer.phone_shown = phone_display(absorbed_customer.phone)
        merge.summary = {
            key: sum(len(moved.get(key, [])) for moved in merge.moved.values())
            for key in ("orders", "notes", "addresses", "addresses_folded", "tag_links")
        }
        # An erased person is never brought back (customer_unmerge refuses): no button.
        erased = any(c.status == Status.REDACTED for c in [customer, *merge.absorbed_customers])
        merge.unmerge_url = (
            reverse("admin:customers_customer_unmerge", args=[customer.pk, merge.pk])
            if can_merge and merge.undone_at is None and not erased
            else ""
        )
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.opts,
        "title": _("Merges into %(customer)s") % {"customer": customer},
        "customer": customer,
        "merges": merges,
        "change_url": reverse("admin:customers_customer_change", args=[customer.pk]),
    }
    return TemplateResponse(request, "admin/customers/customer/merges.html", context)


def unmerge_view(modeladmin, request, object_id: int, merge_id: int):
    if not modeladmin.has_merge_permission(request):
        raise PermissionDenied
    merge = get_object_or_404(CustomerMerge, pk=merge_id, survivor_id=object_id)
    merges_url = reverse("admin:customers_customer_merges", args=[object_id])
    if request.method == "POST":
        version = request.POST.get("version", "")
        try:
            result = customer_unmerge(
                actor=request.user,
                merge_id=merge.pk,
                expected_version=int(version) if version.isdigit() else None,
            )
        except ValidationError as error:
            for message in error.messages:
                modeladmin.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(merges_url)
        modeladmin.message_user(
            request,
            ngettext(
                "Merge undone: %(count)d customer restored with %(moved)s.",
                "Merge undone: %(count)d customers restored with %(moved)s.",
                len(result.restored),
            )
            % {
                "count": len(result.restored),
                "moved": moved_text(
                    orders=result.orders, notes=result.notes, addresses=result.addresses
                ),
            },
            messages.SUCCESS,
        )
        return HttpResponseRedirect(merges_url)
    absorbed = Customer.objects.in_bulk(merge.absorbed_ids)
    for customer in absorbed.values():
        customer.phone_shown = phone_display(customer.phone)
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.opts,
        "title": _("Undo a merge"),
        "merge": merge,
        "survivor": merge.survivor,
        "absorbed": [absorbed[pk] for pk in merge.absorbed_ids if pk in absorbed],
        "blockers": [error.messages[0] for error in merge_undo_blockers(merge)],
        "merges_url": merges_url,
    }
    return TemplateResponse(request, "admin/customers/customer/unmerge.html", context)
