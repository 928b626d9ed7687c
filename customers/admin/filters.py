"""List filters of the customer admin; each reads through a CustomerQuerySet method."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
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
    """One tag, by id or by name (``?tag=VIP``); lists only the most used tags and a search box.

    A shop with 10,000 tags would otherwise put 10,000 links on every list page.
    """

    title = _("tag")
    parameter_name = "tag"
    template = "admin/customers/customer/tag_filter.html"
    SHOWN = 30

    def lookups(self, request, model_admin):
        most_used = (
            Tag.objects.annotate(uses=Count("customer_links"))
            .order_by("-uses", "name", "pk")
            .values_list("pk", "name")[: self.SHOWN]
        )
        found = [(str(pk), name) for pk, name in most_used]
        selected = self._selected()
        if selected is not None and str(selected.pk) not in dict(found):
            found.append((self.value(), selected.name))
        return found

    def choices(self, changelist):
        # The search box is a GET form: it carries the list's other parameters along.
        self.carried = {
            key: value for key, value in changelist.params.items() if key != self.parameter_name
        }
        yield from super().choices(changelist)

    def _selected(self) -> Tag | None:
        value = self.value()
        if not value:
            return None
        if not hasattr(self, "_tag"):
            if value.isdigit():
                self._tag = Tag.objects.filter(pk=int(value)).first()
            else:
                self._tag = Tag.objects.filter(name__iexact=value.strip()).order_by("pk").first()
        return self._tag

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        selected = self._selected()
        return queryset.none() if selected is None else queryset.with_tag(selected.pk)


class PreviousTotalSpentFilter(admin.SimpleListFilter):
    """What the customer spent on the previous platform (imported totals, not our orders)."""

    title = _("previous platform total spent")
    parameter_name = "previous_spent"
    NONE = "none"
    RANGES = {"0-100": (0, 100), "100-1000": (100, 1000), "1000+": (1000, None)}

    def lookups(self, request, model_admin):
        return [
            (self.NONE, _("Not recorded")),
            ("0-100", _("Under 100")),
            ("100-1000", _("100 to 1,000")),
            ("1000+", _("1,000 or more")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.NONE:
            return queryset.filter(previous_total_spent__isnull=True)
        bounds = self.RANGES.get(value or "")
        if bounds is None:
            return queryset
        return queryset.with_previous_spent_between(*bounds)


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
