"""The customer's own audit trail: the history page (the change page shows the timeline)."""

from __future__ import annotations

import datetime

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from customers.admin.privacy import format_datetime
from customers.audit.events import display_value, event_lines
from customers.i18n import elide
from customers.selectors.audit import consent_history, customer_events

HISTORY_PER_PAGE = 50


def history_view(modeladmin, request, object_id, extra_context=None):
    """Show the customer's own audit trail (not Django's LogEntry), newest first."""
    obj = modeladmin.get_object(request, unquote(object_id))
    if obj is None:
        return modeladmin._get_obj_does_not_exist_redirect(request, modeladmin.opts, object_id)
    if not modeladmin.has_view_or_change_permission(request, obj):
        raise PermissionDenied
    paginator = Paginator(customer_events(customer_id=obj.pk), HISTORY_PER_PAGE)
    page = paginator.get_page(request.GET.get("p"))
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": elide(_("History of %(customer)s") % {"customer": obj}, str(obj)),
        "subtitle": None,
        "object": obj,
        "opts": modeladmin.opts,
        "events": [(event, event_lines(event)) for event in page],
        "page_obj": page,
        "page_range": paginator.get_elided_page_range(page.number),
        "preserved_filters": modeladmin.get_preserved_filters(request),
        **(extra_context or {}),
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/customers/customer/customer_history.html", context)


def consent_history_table(customer) -> str:
    """The customer's consent changes, newest first, as a table."""
    if customer is None or customer.pk is None:
        return "—"
    history = consent_history(customer_ids=[customer.pk])
    if not history:
        return _("No consent change recorded.")
    channels = {"email": _("Email marketing"), "sms": _("SMS marketing")}
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                format_datetime(datetime.datetime.fromisoformat(item["at"])),
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
