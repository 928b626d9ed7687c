"""Admin of the order history: read-only, it comes from the sales channels."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from customers.admin.readonly import ReadOnlyAdminMixin
from customers.phones import phone_display


def _text(snapshot: dict, *keys: str) -> str:
    """The first non-empty of these snapshot keys (Shopify writes ``zip``, we ``postal_code``)."""
    return next((str(snapshot[key]).strip() for key in keys if snapshot.get(key)), "")


def shipping_address_lines(snapshot) -> list[str]:
    """An order's shipping-address snapshot as the lines of a printed address."""
    snapshot = snapshot if isinstance(snapshot, dict) else {}
    name = _text(snapshot, "name") or " ".join(
        part for part in (_text(snapshot, "first_name"), _text(snapshot, "last_name")) if part
    )
    town = " ".join(
        part
        for part in (
            _text(snapshot, "postal_code", "zip"),
            _text(snapshot, "city"),
            _text(snapshot, "province_code", "province"),
        )
        if part
    )
    lines = [
        name,
        _text(snapshot, "company"),
        _text(snapshot, "address1"),
        _text(snapshot, "address2"),
        town,
        _text(snapshot, "country_code", "country"),
        phone_display(_text(snapshot, "phone")),
    ]
    return [line for line in lines if line and line != "—"]


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
        "shipping_address_lines",
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

    @admin.display(description=_("shipping address"))
    def shipping_address_lines(self, obj):
        lines = shipping_address_lines(obj.shipping_address)
        if not lines:
            return "—"
        return format_html(
            '<address class="shipping-address">{}</address>',
            format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)),
        )

    @admin.display(description=_("tags"))
    def tag_names(self, obj):
        return ", ".join(tag.name for tag in obj.tags.all())
