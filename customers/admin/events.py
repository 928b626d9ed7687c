"""Admin of the audit trail: read-only."""

from __future__ import annotations

from django.contrib import admin

from customers.admin.readonly import ReadOnlyAdminMixin


class CustomerEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit trail, read-only."""

    list_display = ["created_at", "kind", "customer_ref", "actor_label"]
    list_filter = ["kind"]
    search_fields = ["=customer_ref", "actor_label"]
    readonly_fields = [
        "created_at",
        "kind",
        "customer",
        "customer_ref",
        "actor",
        "actor_label",
        "data",
    ]
    date_hierarchy = "created_at"
    # Events come in time order: the primary key walks them newest first, where created_at's
    # BRIN index (PostgreSQL) serves the date filter but cannot sort.
    ordering = ["-pk"]
