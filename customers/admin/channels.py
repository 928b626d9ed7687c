"""Admin for the sales channels: connections (own permissions) and the channel events inbox.

Registered here with `@admin.register`; `customers/admin/__init__.py` imports this module.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers.channels.tasks import channel_events_kick
from customers.models import Channel, ChannelConnection, ChannelEvent
from customers.services.channel_events import channel_events_retry
from customers.services.channels import channel_connection_issue_token

TOKEN_ISSUED = _(
    "The POS token of %(name)s is %(token)s. Copy it now: it is not shown again. "
    "Connectors send it as “Authorization: Bearer <token>”."
)


@admin.register(ChannelConnection)
class ChannelConnectionAdmin(admin.ModelAdmin):
    list_display = ["name", "channel", "active", "shop_domain", "webhook_url"]
    list_filter = ["channel", "active"]
    search_fields = ["name", "shop_domain"]
    fields = [
        "channel",
        "name",
        "shop_domain",
        "webhook_secret",
        "active",
        "tags",
        "keep_names",
        "webhook_url",
    ]
    readonly_fields = ["webhook_url"]
    actions = ["issue_token"]

    @admin.display(description=_("webhook URL"))
    def webhook_url(self, obj):
        if obj.pk is None or obj.channel != Channel.SHOPIFY:
            return "-"
        return reverse("shopify_webhook", args=[obj.uuid])

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and obj.channel == Channel.POS:
            self._issue(request, obj)

    def _issue(self, request, obj) -> None:
        token = channel_connection_issue_token(actor=request.user, connection_id=obj.pk)
        self.message_user(
            request, TOKEN_ISSUED % {"name": obj.name, "token": token}, messages.WARNING
        )

    @admin.action(
        description=_("Issue a new POS token (the old one stops working)"), permissions=["change"]
    )
    def issue_token(self, request, queryset):
        for obj in queryset.filter(channel=Channel.POS):
            self._issue(request, obj)


@admin.register(ChannelEvent)
class ChannelEventAdmin(admin.ModelAdmin):
    list_display = [
        "received_at",
        "connection",
        "topic",
        "state",
        "customer_link",
        "order",
        "attempts",
        "error",
    ]
    list_filter = ["state", "topic", "connection"]
    search_fields = ["=webhook_id", "=customer_ref"]
    list_select_related = ["connection", "order"]
    date_hierarchy = "received_at"
    actions = ["retry"]
    readonly_fields = [
        "connection",
        "topic",
        "webhook_id",
        "event_id",
        "received_at",
        "state",
        "error",
        "attempts",
        "customer_link",
        "order",
        "processed_at",
        "headers",
        "body",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("customers.retry_channelevent")

    @admin.display(description=_("customer"), ordering="customer_ref")
    def customer_link(self, obj):
        if obj.customer_ref is None:
            return "-"
        url = reverse("admin:customers_customer_change", args=[obj.customer_ref])
        return format_html('<a href="{}">#{}</a>', url, obj.customer_ref)

    @admin.action(description=_("Retry the failed events"), permissions=["retry"])
    def retry(self, request, queryset):
        ids = channel_events_retry(
            actor=request.user, event_ids=queryset.values_list("pk", flat=True)
        )
        channel_events_kick()
        self.message_user(
            request,
            ngettext(
                "%(count)d failed event was sent to be processed again.",
                "%(count)d failed events were sent to be processed again.",
                len(ids),
            )
            % {"count": len(ids)},
            messages.SUCCESS,
        )
