"""Admin of the store's tags (one case-insensitive set shared by customers and orders)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class TagAdmin(admin.ModelAdmin):
    list_display = ["tag_name", "tag_slug"]
    search_fields = ["name"]
    ordering = ["name"]
    fields = ["name"]

    # taggit's own labels have no French or Spanish translation in its catalogues.
    @admin.display(description=_("name"), ordering="name")
    def tag_name(self, obj):
        return obj.name

    @admin.display(description=_("slug"), ordering="slug")
    def tag_slug(self, obj):
        return obj.slug
