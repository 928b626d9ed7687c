"""The groups admin with what only the customers app knows: who each group's members are."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from customers.models import Status
from groups.admin import CustomerGroupAdmin


class CustomerGroupWithMembersAdmin(CustomerGroupAdmin):
    """Add each group's member count and a link to its members in the customer list."""

    list_display = [*CustomerGroupAdmin.list_display, "member_count", "members_link"]

    def get_queryset(self, request):
        # Merged records are not members any more.
        members = Count("customers", filter=~Q(customers__status=Status.MERGED))
        return super().get_queryset(request).annotate(member_total=members)

    @admin.display(description=_("members"), ordering="member_total")
    def member_count(self, obj):
        return obj.member_total

    @admin.display(description=_("customer list"))
    def members_link(self, obj):
        url = reverse("admin:customers_customer_changelist") + f"?group__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Show members"))
