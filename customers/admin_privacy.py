"""The customer admin's privacy side: safe concurrent editing of the change form, its audit
trail, erasure requests and the personal-data export. Thin adapters over
``customers.services.editing`` and ``customers.services.privacy``."""

from __future__ import annotations

import datetime
import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers.audit.events import display_value, event_lines
from customers.models import Address, Customer, Note, Status
from customers.selectors.audit import consent_history, customer_events
from customers.services.editing import RelatedEdits, customer_check_version, customer_save
from customers.services.privacy import (
    customer_cancel_erasure,
    customer_export_personal_data,
    customer_request_erasure,
    customers_cancel_erasure,
    customers_request_erasure,
    erasure_due_date,
    last_order_dates,
)

HISTORY_PER_PAGE = 50
RECENT_EVENTS = 10
CONFIRMATION_SHOWN = 50
ERASURE_PENDING = _("Erasure pending")


class CustomerVersionFormMixin(forms.Form):
    """Carry the version the change form was loaded with, and refuse a save made on a stale one.

    ``clean`` runs inside the admin's save transaction and locks the customer's row, so the
    check holds until the save commits. A refused form keeps everything the user typed and
    carries the current version, so saving again (after a look at the history) goes through.
    """

    expected_version = forms.IntegerField(
        label=_("version"), widget=forms.HiddenInput, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["expected_version"].initial = self.instance.version

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            return cleaned
        try:
            customer_check_version(
                customer_id=self.instance.pk, expected_version=cleaned.get("expected_version")
            )
        except ValidationError as error:
            self.add_error(None, error)
            current = (
                Customer.objects.filter(pk=self.instance.pk)
                .values_list("version", flat=True)
                .first()
            )
            data = self.data.copy()
            data[self.add_prefix("expected_version")] = current
            self.data = data
        return cleaned


def _date(value) -> str:
    return date_format(timezone.localtime(value), "DATETIME_FORMAT") if value else "—"


class CustomerPrivacyAdminMixin:
    """Mixed into CustomerAdmin: change-form saving, history, erasure and data export."""

    change_form_template = "admin/customers/customer/change_form.html"

    # --- permissions -------------------------------------------------------------------

    # Each privacy permission also needs the right to see customers at all.
    def has_request_erasure_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(
            "customers.request_erasure_customer"
        ) and self.has_view_or_change_permission(request, obj)

    def has_export_personal_data_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(
            "customers.export_personal_data_customer"
        ) and self.has_view_or_change_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        # An erased customer is a husk kept for the accounts: nothing may be written back.
        if obj is not None and obj.status == Status.REDACTED:
            return False
        return super().has_change_permission(request, obj)

    # --- the change form ---------------------------------------------------------------

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "consent_history_table", "recent_events"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None:
            return fieldsets
        fields = ["consent_history_table", "recent_events"]
        if self.has_change_permission(request, obj):
            fields.append("expected_version")
        return [*fieldsets, (_("Consent history and audit trail"), {"fields": fields})]

    def save_model(self, request, obj, form, change):
        # Saved with its inlines by one service call in save_related, in one audit event.
        pass

    def save_related(self, request, form, formsets, change):
        related = RelatedEdits()
        for formset in formsets:
            formset.save(commit=False)
            changed = [obj for obj, _fields in formset.changed_objects]
            if formset.model is Address:
                related.addresses_added = list(formset.new_objects)
                related.addresses_changed = changed
                related.addresses_removed = list(formset.deleted_objects)
            elif formset.model is Note:
                related.notes_added = list(formset.new_objects)
                related.notes_changed = changed
                related.notes_removed = list(formset.deleted_objects)
        customer_save(
            actor=request.user,
            customer=form.instance,
            expected_version=form.cleaned_data.get("expected_version") if change else None,
            tags=form.cleaned_data.get("tags"),
            related=related,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        try:
            customer = (
                Customer.objects.filter(pk=unquote(object_id))
                .select_related("erasure_requested_by")
                .first()
            )
        except (ValueError, ValidationError):
            customer = None  # not an id: the admin's own view answers "does not exist"
        status = customer.status if customer else None
        pending = (
            customer is not None
            and customer.erasure_requested_at is not None
            and status not in (Status.MERGED, Status.REDACTED)
        )
        context = {
            "erasure_pending": pending,
            "erasure_requested_at": _date(customer.erasure_requested_at) if pending else "",
            "erasure_requested_by": (
                customer.erasure_requested_by.get_username()
                if pending and customer.erasure_requested_by
                else ""
            ),
            "erasure_due": _date(
                erasure_due_date(
                    requested_at=customer.erasure_requested_at,
                    last_order=last_order_dates([customer.pk]).get(customer.pk),
                )
            )
            if pending
            else "",
            "can_request_erasure": (
                not pending
                and status not in (None, Status.MERGED, Status.REDACTED)
                and self.has_request_erasure_permission(request)
            ),
            "can_cancel_erasure": pending and self.has_request_erasure_permission(request),
            "can_export_personal_data": status is not None
            and self.has_export_personal_data_permission(request),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    @admin.display(description=_("consent history"))
    def consent_history_table(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        history = consent_history(customer_ids=[obj.pk])
        if not history:
            return _("No consent change recorded.")
        channels = {"email": _("Email marketing"), "sms": _("SMS marketing")}
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    _date(datetime.datetime.fromisoformat(item["at"])),
                    channels.get(item["channel"], item["channel"]),
                    display_value(item["old"]),
                    display_value(item["new"]),
                    f"{display_value(item['source'])} · {item['by']}",
                )
                for item in reversed(history)
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            _("When"),
            _("Channel"),
            _("Before"),
            _("After"),
            _("Source"),
            rows,
        )

    @admin.display(description=_("latest changes"))
    def recent_events(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        events = list(customer_events(customer_id=obj.pk)[:RECENT_EVENTS])
        history_url = reverse("admin:customers_customer_history", args=[obj.pk])
        return format_html(
            '{}<p><a href="{}">{}</a></p>',
            _event_table(events),
            history_url,
            _("Full history"),
        )

    # --- history -------------------------------------------------------------------------

    def history_view(self, request, object_id, extra_context=None):
        """Show the customer's own audit trail (not Django's LogEntry), newest first."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        paginator = Paginator(customer_events(customer_id=obj.pk), HISTORY_PER_PAGE)
        page = paginator.get_page(request.GET.get("p"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("History of %(customer)s") % {"customer": obj},
            "subtitle": None,
            "object": obj,
            "opts": self.opts,
            "events": [(event, event_lines(event)) for event in page],
            "page_obj": page,
            "page_range": paginator.get_elided_page_range(page.number),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/customers/customer/customer_history.html", context)

    # --- erasure -------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/erasure/<str:step>/",
                wrap(self.erasure_view),
                name="customers_customer_erasure",
            ),
            path(
                "<path:object_id>/personal-data/",
                wrap(self.personal_data_view),
                name="customers_customer_personal_data",
            ),
            *super().get_urls(),
        ]

    def erasure_view(self, request, object_id, step):
        """Confirm (GET) then record (POST) or cancel an erasure request from the change page."""
        if step not in ("request", "cancel"):
            raise PermissionDenied
        if not self.has_request_erasure_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        change_url = reverse("admin:customers_customer_change", args=[obj.pk])
        if request.method == "POST":
            service = customer_request_erasure if step == "request" else customer_cancel_erasure
            try:
                service(actor=request.user, customer_id=obj.pk)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                done = (
                    _("Erasure of %(customer)s requested.")
                    if step == "request"
                    else _("Erasure request of %(customer)s cancelled.")
                )
                self.message_user(request, done % {"customer": obj}, messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        return self._erasure_confirmation(
            request, [obj], total=1, step=step, action=None, cancel_url=change_url
        )

    def _erasure_confirmation(self, request, customers, *, total, step, action, cancel_url=None):
        context = {
            **self.admin_site.each_context(request),
            "title": _("Request erasure") if step == "request" else _("Cancel erasure request"),
            "subtitle": None,
            "opts": self.opts,
            "step": step,
            "customers": customers[:CONFIRMATION_SHOWN],
            "more": max(total - CONFIRMATION_SHOWN, 0),
            "total": total,
            "action": action,
            "selected": [c.pk for c in customers] if action else [],
            "select_across": request.POST.get("select_across") == "1",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "hold_days": self._hold_days(),
            "cancel_url": cancel_url,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/customers/customer/erasure_confirmation.html", context
        )

    @staticmethod
    def _hold_days() -> int:
        return settings.BACKOFFICE_ERASURE_HOLD_DAYS

    @admin.action(
        permissions=["request_erasure"], description=_("Request erasure of selected customers")
    )
    def request_erasure(self, request, queryset):
        return self._erasure_action(request, queryset, step="request")

    @admin.action(
        permissions=["request_erasure"],
        description=_("Cancel erasure request of selected customers"),
    )
    def cancel_erasure(self, request, queryset):
        return self._erasure_action(request, queryset, step="cancel")

    def _erasure_action(self, request, queryset, *, step):
        if request.POST.get("post") != "yes":
            total = queryset.count()
            shown = list(queryset.order_by("pk")[:CONFIRMATION_SHOWN])
            if request.POST.get("select_across") != "1":
                shown = list(queryset.order_by("pk"))
            return self._erasure_confirmation(
                request, shown, total=total, step=step, action=f"{step}_erasure"
            )
        if step == "request":
            result = customers_request_erasure(actor=request.user, queryset=queryset)
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
            result = customers_cancel_erasure(actor=request.user, queryset=queryset)
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
        self.message_user(request, done % {"count": result.changed}, messages.SUCCESS)
        if result.skipped:
            self.message_user(request, skipped % {"count": result.skipped}, messages.WARNING)
        return None

    @admin.display(description=_("status"), ordering="status")
    def status_and_erasure(self, obj):
        if obj.erasure_requested_at is not None and obj.status != Status.REDACTED:
            return format_html(
                '{} <strong class="erasure-pending">· {}</strong>',
                obj.get_status_display(),
                ERASURE_PENDING,
            )
        return obj.get_status_display()

    # --- personal-data export ----------------------------------------------------------

    def personal_data_view(self, request, object_id):
        """Download everything held on one customer as a JSON document."""
        if not self.has_export_personal_data_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        document = customer_export_personal_data(actor=request.user, customer_id=obj.pk)
        response = HttpResponse(
            json.dumps(document, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="customer-{obj.pk}-personal-data.json"'
        )
        response["Cache-Control"] = "no-store"
        return response


def _event_table(events) -> str:
    if not events:
        return format_html("<p>{}</p>", _("No change recorded yet."))
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                _date(event.created_at),
                event.actor_label,
                event.get_kind_display(),
                format_html_join("", "{}<br>", ((line,) for line in event_lines(event))),
            )
            for event in events
        ),
    )
    return format_html(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        _("When"),
        _("By"),
        _("Event"),
        _("Details"),
        rows,
    )
