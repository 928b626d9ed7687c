"""Admin of the store's tags (one case-insensitive set shared by customers and orders)."""

from __future__ import annotations

from django.contrib import admin


class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    ordering = ["name"]
    fields = ["name"]
