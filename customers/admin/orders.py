"""Admin of the order history: read-only, it comes from the sales channels."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from customers.admin.readonly import ReadOnlyAdminMixin


class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Order history is read-only: it comes from the sales channels."""

    list_display = ["number", "customer_link", "placed_at", "total", "currency", "source"]
    list_filter = ["source", "currency"]
    search_fields = ["number", "customer__email", "customer__last_name"]
    list_select_related = ["customer"]
    date_hierarchy = "placed_at"
    fields = [
        "number",
        "customer_link",
        "placed_at",
        "total",
        "currency",
        "source",
        "shipping_address",
        "tag_names",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    @admin.display(description=_("customer"), ordering="customer__last_name")
    def customer_link(self, obj):
        if obj.customer_id is None:
            return "—"
        url = reverse("admin:customers_customer_change", args=[obj.customer_id])
        return format_html('<a href="{}">{}</a>', url, obj.customer)

    @admin.display(description=_("tags"))
    def tag_names(self, obj):
        return ", ".join(tag.name for tag in obj.tags.all())
