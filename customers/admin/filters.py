"""The customer list's sidebar: renderers over ``CustomerFilterSet``, which alone filters.

``CustomerChangeList.get_queryset`` applies the FilterSet to every request (the list, select
all, the jobs and the export rebuild it), so the classes here only show choices and consume
their parameters; their ``queryset`` changes nothing. ``ConditionsFilter`` is the small GET form
of the range, date and text conditions.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import PAGE_VAR
from django.utils.translation import gettext_lazy as _

from customers.admin.pagination import CURSOR_PARAMS
from customers.models import Status, Tag
from customers.selectors.filtersets import (
    SEARCH,
    CustomerFilterSet,
    condition_parameters,
    filterset_phrases,
    request_filterset,
)
from customers.selectors.tags import tags_for_sidebar


def carried_parameters(params, own: set[str]) -> list[tuple[str, str]]:
    """The list's other parameters, for a sidebar GET form to send along with its own.

    Not the page or the keyset cursor: a new condition starts the list again from its top.
    """
    dropped = {*own, PAGE_VAR, *CURSOR_PARAMS}
    return [(key, value) for key, value in params if key not in dropped]


class RendersFilterSet:
    """A sidebar renderer: the change list applies CustomerFilterSet, the one definition."""

    def queryset(self, request, queryset):
        return queryset


class StatusFilter(RendersFilterSet, admin.SimpleListFilter):
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


class TagFilter(RendersFilterSet, admin.SimpleListFilter):
    """One tag, by id or by name (``?tag=VIP``); lists only the most used tags and a search box.

    A shop with 10,000 tags would otherwise put 10,000 links on every list page.
    """

    title = _("tag")
    parameter_name = "tag"
    template = "admin/customers/customer/tag_filter.html"
    SHOWN = 30

    def lookups(self, request, model_admin):
        found = [(str(pk), name) for pk, name in tags_for_sidebar(shown=self.SHOWN)]
        selected = self._selected()
        if selected is not None and str(selected.pk) not in dict(found):
            found.append((self.value(), selected.name))
        return found

    def choices(self, changelist):
        # The search box is a GET form: it carries the list's other parameters along.
        self.carried = dict(carried_parameters(changelist.params.items(), {self.parameter_name}))
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


class PreviousTotalSpentFilter(RendersFilterSet, admin.SimpleListFilter):
    """What the customer spent on the previous platform (imported totals, not our orders)."""

    title = _("previous platform total spent")
    parameter_name = "previous_spent"

    def lookups(self, request, model_admin):
        return CustomerFilterSet.base_filters[self.parameter_name].extra["choices"]


class OrderCountFilter(RendersFilterSet, admin.SimpleListFilter):
    """Quick buckets of the order count; the conditions form has the range."""

    title = _("number of orders")
    parameter_name = "orders"

    def lookups(self, request, model_admin):
        return CustomerFilterSet.base_filters[self.parameter_name].extra["choices"]


class ErasureRequestedFilter(RendersFilterSet, admin.SimpleListFilter):
    title = _("erasure requested")
    parameter_name = "erasure"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]


class PossibleDuplicatesFilter(RendersFilterSet, admin.SimpleListFilter):
    """Customers who share an email, a phone or a postal address with another listed customer."""

    title = _("possible duplicates")
    parameter_name = "duplicates"

    def lookups(self, request, model_admin):
        return [("yes", _("Has possible duplicates"))]


class RelatedRenderer(RendersFilterSet, admin.RelatedFieldListFilter):
    pass


class BooleanRenderer(RendersFilterSet, admin.BooleanFieldListFilter):
    pass


class ChoicesRenderer(RendersFilterSet, admin.ChoicesFieldListFilter):
    pass


# Parameters the renderers above show (and consume); the conditions form shows the others.
RENDERED = frozenset(
    {
        SEARCH,
        "status",
        "tag",
        "previous_spent",
        "orders",
        "erasure",
        "duplicates",
        "group__id__exact",
        "group__isnull",
        "tax_exempt__exact",
        "email_consent__exact",
        "sms_consent__exact",
        "source__exact",
        "has_active_subscription__exact",
    }
)


class ConditionsFilter(RendersFilterSet, admin.ListFilter):
    """The range, date and text conditions as one small GET form that keeps the other params."""

    title = _("conditions")
    parameter_name = None  # many parameters, see expected_parameters
    describes_each = True  # filter_description gives each condition a line of its own
    template = "admin/customers/customer/conditions_filter.html"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for name in self.expected_parameters():
            if name in params:
                self.used_parameters[name] = params.pop(name)
        # The page's one FilterSet: the rows, this form and its words read the same conditions.
        self.filterset = request_filterset(request)
        self.form = self.filterset.form
        mine = set(self.expected_parameters())
        parameters = condition_parameters()
        shown = {filter_name for param, filter_name in parameters.items() if param in mine}
        self.fields = [self.form[name] for name in self.form.fields if name in shown]
        self.carried = carried_parameters(
            ((key, value) for key, values in request.GET.lists() for value in values), mine
        )
        self.used_filters = {parameters[key] for key in self.used_parameters}

    def expected_parameters(self):
        return [name for name in condition_parameters() if name not in RENDERED]

    def has_output(self):
        return True

    def choices(self, changelist):
        """The active conditions in words (the confirmation pages list them)."""
        for _name, phrase in filterset_phrases(self.filterset, self.used_filters):
            yield {"selected": True, "query_string": "", "display": phrase}
