"""List filters of the customer admin; each reads through a CustomerQuerySet method."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from customers.models import Status, Tag
from customers.selectors.duplicates import customers_with_possible_duplicates


class StatusFilter(admin.SimpleListFilter):
    """Status; without a choice the list hides merged and archived customers."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [*Status.choices, (self.ALL, _("All, including merged"))]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("Current (not archived or merged)"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset.listed_by_default()
        if value == self.ALL:
            return queryset
        if value in Status.values:
            return queryset.filter(status=value)
        return queryset.none()


class TagFilter(admin.SimpleListFilter):
    title = _("tag")
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return [
            (str(pk), name) for pk, name in Tag.objects.order_by("name").values_list("pk", "name")
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.with_tag(int(value))
        return queryset


class OrderCountFilter(admin.SimpleListFilter):
    title = _("number of orders")
    parameter_name = "orders"
    RANGES = {"0": (0, 0), "1": (1, 1), "2-5": (2, 5), "6+": (6, None)}

    def lookups(self, request, model_admin):
        return [("0", _("None")), ("1", "1"), ("2-5", "2–5"), ("6+", _("6 or more"))]

    def queryset(self, request, queryset):
        bounds = self.RANGES.get(self.value() or "")
        if bounds is None:
            return queryset
        return queryset.with_order_counts_between(*bounds)


class ErasureRequestedFilter(admin.SimpleListFilter):
    title = _("erasure requested")
    parameter_name = "erasure"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.erasure_pending()
        if self.value() == "no":
            return queryset.erasure_not_pending()
        return queryset


class PossibleDuplicatesFilter(admin.SimpleListFilter):
    """Customers who share an email, a phone or a postal address with another listed customer."""

    title = _("possible duplicates")
    parameter_name = "duplicates"

    def lookups(self, request, model_admin):
        return [("yes", _("Has possible duplicates"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return customers_with_possible_duplicates(queryset)
        return queryset
