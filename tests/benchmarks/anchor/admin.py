"""The anchor's admin: Django's defaults, a search and a boolean filter, nothing tuned."""

from django.contrib import admin

from tests.benchmarks.anchor.models import Person


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["first_name", "last_name", "email", "phone", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["first_name", "last_name", "email"]
