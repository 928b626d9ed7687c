"""Admin of customer groups: name, description, discount.

The customers app, the upper one, extends this admin with each group's member count and a link
to its members (``customers.admin``); this app knows nothing of customers.
"""

from django.contrib import admin

from groups.models import CustomerGroup


@admin.register(CustomerGroup)
class CustomerGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "discount_percent"]
    search_fields = ["name"]
    fields = ["name", "description", "discount_percent"]
