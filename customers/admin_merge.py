"""Admin for duplicates: the "Possible duplicates" page, the merge page and undoing a merge.

Thin adapters: the reads are in ``customers.selectors.duplicates``, the writes in
``customers.services.merge``. Everything here needs the ``merge_customer`` permission, except
reading a customer's merge history (``view_customer``).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers.models import Customer, CustomerMerge, Status
from customers.phones import phone_display
from customers.selectors.duplicates import (
    ADDRESS,
    EMAIL,
    PHONE,
    REASONS,
    customers_with_possible_duplicates,
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
MERGE_FORM_INVALID = _("The merge form was incomplete. Reload the page and try again.")
MERGED_REDIRECT = _("%(customer)s was merged into %(survivor)s; showing %(survivor)s.")


class PossibleDuplicatesFilter(admin.SimpleListFilter):
    """Customers who share an email, a phone or a postal address with another listed customer."""

    title = _("possible duplicates")
    parameter_name = "duplicates"

    def lookups(self, request, model_admin):
        return [("yes", _("Has possible duplicates"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return customers_with_possible_duplicates(queryset)
        return queryset


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


class CustomerMergeAdminMixin:
    """Mixin for CustomerAdmin: merge action, duplicates page, unmerge, merged-record redirect."""

    # --- permissions -------------------------------------------------------------------------

    def has_merge_permission(self, request) -> bool:
        # Like every sensitive permission here, it also needs the right to see customers.
        opts = self.opts
        return request.user.has_perm(
            f"{opts.app_label}.merge_{opts.model_name}"
        ) and self.has_view_or_change_permission(request)

    # --- list ---------------------------------------------------------------------------------

    def get_list_filter(self, request):
        return [*super().get_list_filter(request), PossibleDuplicatesFilter]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "has_merge_permission": False}
        if self.has_merge_permission(request):
            extra_context["has_merge_permission"] = True
            extra_context["duplicates_url"] = reverse("admin:customers_customer_duplicates")
        return super().changelist_view(request, extra_context=extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("duplicates/", view(self.duplicates_view), name="customers_customer_duplicates"),
            path("merge/", view(self.merge_view), name="customers_customer_merge"),
            path(
                "<int:object_id>/merges/",
                view(self.merges_view),
                name="customers_customer_merges",
            ),
            path(
                "<int:object_id>/merges/<int:merge_id>/unmerge/",
                view(self.unmerge_view),
                name="customers_customer_unmerge",
            ),
            *super().get_urls(),
        ]

    # --- merged records lead to their survivor ------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        customer = (
            Customer.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        )
        if customer is not None and customer.status == Status.MERGED:
            survivor = customer_survivor(customer)
            self.message_user(
                request,
                MERGED_REDIRECT % {"customer": customer, "survivor": survivor},
                messages.INFO,
            )
            return HttpResponseRedirect(
                reverse("admin:customers_customer_change", args=[survivor.pk])
            )
        if customer is not None:
            merges = CustomerMerge.objects.filter(survivor=customer).count()
            extra_context = {
                **(extra_context or {}),
                "merge_count": merges,
                "merges_url": reverse("admin:customers_customer_merges", args=[customer.pk]),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    # --- duplicates page ----------------------------------------------------------------------

    def duplicates_view(self, request):
        if not self.has_merge_permission(request):
            raise PermissionDenied
        # One kind at a time: each page then streams from an index and stops after a page of
        # groups (tens of ms on a million customers); mixing kinds meant grouping them all.
        reason = request.GET.get("reason")
        reason = reason if reason in REASONS else PHONE
        # No total count: it would cost a second full grouping on every page view.
        raw_page = request.GET.get("p", "")
        number = int(raw_page) if raw_page.isdigit() and int(raw_page) >= 1 else 1
        offset = (number - 1) * GROUPS_PER_PAGE
        rows = list(duplicate_groups(reason=reason)[offset : offset + GROUPS_PER_PAGE + 1])
        groups = duplicate_groups_with_customers(rows[:GROUPS_PER_PAGE])
        merge_url = reverse("admin:customers_customer_merge")
        for group in groups:
            group.merge_url = (
                f"{merge_url}?ids={','.join(str(pk) for pk in group.ids)}"
                if len(group.ids) <= MERGE_MAX
                else ""
            )
        reasons = [(key, REASONS[key]) for key in (PHONE, ADDRESS, EMAIL)]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Possible duplicates"),
            "groups": groups,
            "page_number": number,
            "previous_page": number - 1 if number > 1 else None,
            "next_page": number + 1 if len(rows) > GROUPS_PER_PAGE else None,
            "reason": reason,
            "reasons": [(key, label, f"?reason={key}") for key, label in reasons],
            "page_query": f"reason={reason}&",
        }
        return TemplateResponse(request, "admin/customers/customer/duplicates.html", context)

    # --- merge page -------------------------------------------------------------------------

    @admin.action(permissions=["merge"], description=_("Merge selected customers"))
    def merge_selected(self, request, queryset):
        """Two steps, like delete_selected: show the merge page, then merge on post=yes."""
        if request.POST.get("select_across") == "1":
            ids = list(queryset.values_list("pk", flat=True))
        else:
            ids = [
                int(pk) for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME) if pk.isdigit()
            ]
        return self._merge_page(request, ids)

    def merge_view(self, request):
        """The merge page for a group of the duplicates page (GET ?ids=1,2,3)."""
        if not self.has_merge_permission(request):
            raise PermissionDenied
        ids = [int(pk) for pk in request.GET.get("ids", "").split(",") if pk.strip().isdigit()]
        response = self._merge_page(
            request, ids, back_url=reverse("admin:customers_customer_duplicates")
        )
        return response or HttpResponseRedirect(reverse("admin:customers_customer_duplicates"))

    def _merge_page(self, request, ids: list[int], back_url: str | None = None):
        changelist_url = reverse("admin:customers_customer_changelist")
        back_url = back_url or changelist_url
        if len(set(ids)) > MERGE_MAX:
            self.message_user(
                request,
                MERGE_TOO_MANY % {"count": len(set(ids)), "max": MERGE_MAX},
                messages.ERROR,
            )
            return None
        customers = list(
            Customer.objects.with_order_counts().select_related("group").filter(pk__in=set(ids))
        )
        if len(customers) < 2:
            self.message_user(request, MERGE_NEEDS_TWO, messages.ERROR)
            return None
        default = merge_default_survivor(customers)
        customers.sort(key=lambda c: (c.pk != default.pk, -c.order_count, c.created_at, c.pk))
        posted = request.method == "POST" and request.POST.get("post") == "yes"
        previewing = posted and "_preview" in request.POST
        # On confirm the service re-checks under lock and tells a stale page apart.
        refusals = merge_refusals(customers) if not posted or previewing else []
        if refusals:
            for error in refusals:
                self.message_user(request, error.messages[0], messages.ERROR)
            return None

        survivor, field_choices = default, None
        if posted:
            form = MergeForm(request.POST, customers=customers)
            if not form.is_valid():
                self.message_user(request, MERGE_FORM_INVALID, messages.ERROR)
                return None
            survivor = next(c for c in customers if c.pk == form.cleaned_data["survivor"])
            field_choices = form.field_choices()
            if not previewing:
                return self._merge_confirm(request, form, customers, survivor, field_choices)
            if form.cleaned_data.get("shown_survivor") != survivor.pk:
                field_choices = None  # a new survivor: its own defaults
        absorbed = [c for c in customers if c.pk != survivor.pk]
        try:
            plan = merge_plan(survivor=survivor, absorbed=absorbed, field_choices=field_choices)
        except ValidationError as error:
            self.message_user(request, error.messages[0], messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Merge customers"),
            "customers": customers,
            "survivor": survivor,
            "plan": plan,
            "rows": self._merge_rows(customers, survivor, plan, field_choices),
            "moves": [(c, plan.summary_for(c.pk), plan.tag_names_for(c.pk)) for c in plan.absorbed],
            "changelist_url": changelist_url,
            "back_url": back_url,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/customers/customer/merge.html", context)

    def _merge_rows(self, customers, survivor, plan, field_choices):
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
                lambda c: date_format(c.created_at, "SHORT_DATETIME_FORMAT"),
                date_format(survivor.created_at, "SHORT_DATETIME_FORMAT"),
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

    def _merge_confirm(self, request, form, customers, survivor, field_choices):
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
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:customers_customer_changelist"))
        self.message_user(
            request,
            ngettext(
                "Merged %(count)d customer into %(survivor)s: %(orders)d orders, %(notes)d "
                "notes and %(addresses)d addresses moved.",
                "Merged %(count)d customers into %(survivor)s: %(orders)d orders, %(notes)d "
                "notes and %(addresses)d addresses moved.",
                result.absorbed_count,
            )
            % {
                "count": result.absorbed_count,
                "survivor": result.survivor,
                "orders": result.orders,
                "notes": result.notes,
                "addresses": result.addresses,
            },
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:customers_customer_change", args=[result.survivor.pk])
        )

    # --- merge history and undo -----------------------------------------------------------

    def merges_view(self, request, object_id: int):
        customer = get_object_or_404(Customer, pk=object_id)
        if not self.has_view_or_change_permission(request, customer):
            raise PermissionDenied
        merges = list(
            CustomerMerge.objects.filter(survivor=customer).select_related("actor", "undone_by")
        )
        absorbed_ids = {pk for merge in merges for pk in merge.absorbed_ids}
        absorbed = Customer.objects.in_bulk(absorbed_ids)
        can_merge = self.has_merge_permission(request)
        for merge in merges:
            merge.absorbed_customers = [absorbed[pk] for pk in merge.absorbed_ids if pk in absorbed]
            merge.summary = {
                key: sum(len(moved.get(key, [])) for moved in merge.moved.values())
                for key in ("orders", "notes", "addresses", "addresses_folded", "tag_links")
            }
            merge.unmerge_url = (
                reverse("admin:customers_customer_unmerge", args=[customer.pk, merge.pk])
                if can_merge and merge.undone_at is None
                else ""
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Merges into %(customer)s") % {"customer": customer},
            "customer": customer,
            "merges": merges,
            "change_url": reverse("admin:customers_customer_change", args=[customer.pk]),
        }
        return TemplateResponse(request, "admin/customers/customer/merges.html", context)

    def unmerge_view(self, request, object_id: int, merge_id: int):
        if not self.has_merge_permission(request):
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
                    self.message_user(request, message, messages.ERROR)
                return HttpResponseRedirect(merges_url)
            self.message_user(
                request,
                ngettext(
                    "Merge undone: %(count)d customer restored with %(orders)d orders, "
                    "%(notes)d notes and %(addresses)d addresses.",
                    "Merge undone: %(count)d customers restored with %(orders)d orders, "
                    "%(notes)d notes and %(addresses)d addresses.",
                    len(result.restored),
                )
                % {
                    "count": len(result.restored),
                    "orders": result.orders,
                    "notes": result.notes,
                    "addresses": result.addresses,
                },
                messages.SUCCESS,
            )
            return HttpResponseRedirect(merges_url)
        absorbed = Customer.objects.in_bulk(merge.absorbed_ids)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Undo a merge"),
            "merge": merge,
            "survivor": merge.survivor,
            "absorbed": [absorbed[pk] for pk in merge.absorbed_ids if pk in absorbed],
            "blockers": [error.messages[0] for error in merge_undo_blockers(merge)],
            "merges_url": merges_url,
        }
        return TemplateResponse(request, "admin/customers/customer/unmerge.html", context)
