"""Admin of customer groups: member counts and a link to the members in the customer list."""

from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from groups.models import CustomerGroup


@admin.register(CustomerGroup)
class CustomerGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "discount_percent", "member_count", "members_link"]
    search_fields = ["name"]
    fields = ["name", "description", "discount_percent"]

    def get_queryset(self, request):
        # "customers" is the reverse name the customer app gives its foreign key; merged records
        # are not members any more.
        return (
            super()
            .get_queryset(request)
            .annotate(member_total=Count("customers", filter=~Q(customers__status="merged")))
        )

    @admin.display(description=_("members"), ordering="member_total")
    def member_count(self, obj):
        return obj.member_total

    @admin.display(description=_("customer list"))
    def members_link(self, obj):
        url = reverse("admin:customers_customer_changelist") + f"?group__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Show members"))
