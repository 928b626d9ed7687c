"""The segments admin: saved list queries with their live count, saved from the customer list.

A thin adapter: the form reads the list's query string (``conditions_from_query``), the
services in ``customers.services.segments`` validate and save, the selectors count. A segment
not shared is only seen (listed, opened, changed, deleted, used on the list) by its author and
superusers: ``Segment.objects.visible_to`` is that rule, and every page reads through it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.http import Http404, QueryDict
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers.admin.privacy import format_datetime
from customers.models import Segment
from customers.selectors.filtersets import (
    conditions_clean,
    conditions_from_query,
    conditions_sentence,
)
from customers.selectors.segments import (
    customers_total,
    segment_customers,
    segment_problems,
    segment_sentence,
)
from customers.services.segments import (
    segment_create,
    segment_delete,
    segment_update,
    segment_validate,
)

QUERY_PARAM = "query"


def conditions_query(conditions: dict) -> str:
    """The list's query string for ``conditions`` (what ``conditions_from_query`` reads back)."""
    return urlencode(conditions, doseq=True)


def list_url(segment: Segment) -> str:
    """The customer list filtered by ``segment``."""
    return reverse("admin:customers_customer_changelist") + "?" + urlencode({"segment": segment.pk})


def _any_of_text(groups: list[list[dict]]) -> str:
    # One alternative per line, groups apart by a blank line: the form's own notation.
    return "\n\n".join("\n".join(conditions_query(alt) for alt in group) for group in groups)


def _any_of_parse(text: str) -> list[list[dict]]:
    groups, current = [], []
    for line in [*text.splitlines(), ""]:
        line = line.strip()
        if line:
            current.append(conditions_from_query(QueryDict(line.partition("?")[2] or line)))
        elif current:
            groups.append(current)
            current = []
    return groups


class SegmentForm(forms.ModelForm):
    """Name, sharing and conditions (the list's query string) of a segment."""

    name = forms.CharField(label=capfirst(_("name")), max_length=100)
    query = forms.CharField(
        label=capfirst(_("list filters")),
        required=False,
        widget=forms.TextInput(attrs={"size": 80}),
        help_text=_("The customer list's query string: what the list showed when it was saved."),
    )
    any_of_text = forms.CharField(
        label=capfirst(_("any of")),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text=_(
            "Alternatives, one list query string per line: a customer must also match at least "
            "one line. A blank line starts another group."
        ),
    )

    class Meta:
        model = Segment
        # The name is checked by the service (case-insensitively), not by the model's constraint.
        fields = ["shared"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial.setdefault("name", self.instance.name)
            self.initial.setdefault("query", conditions_query(self.instance.conditions))
            self.initial.setdefault("any_of_text", _any_of_text(self.instance.any_of))

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.segment_data = segment_validate(
                name=cleaned["name"],
                conditions=conditions_from_query(cleaned["query"]),
                any_of=_any_of_parse(cleaned["any_of_text"]),
                segment_id=self.instance.pk,
            )
        except ValidationError as error:
            field = "name" if error.code in ("name_required", "name_taken") else None
            self.add_error(field, error)
        return cleaned


class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    change_form_template = "admin/customers/segment/change_form.html"
    list_display = ["segment_name", "sentence", "members", "made", "shared", "edit"]
    list_display_links = None
    list_filter = ["shared"]
    search_fields = ["name"]
    # Each row costs one COUNT of its segment's customers (about 1 s for a segment of a third
    # of 1,000,000 customers): a short page of segments.
    list_per_page = 10
    readonly_fields = ["sentence", "members", "made", "changed"]
    fieldsets = [
        (None, {"fields": ["name", "shared"]}),
        (_("Conditions"), {"fields": ["query", "any_of_text"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.append((_("Now"), {"fields": ["sentence", "members", "made", "changed"]}))
        return fieldsets

    def get_queryset(self, request):
        visible = Segment.objects.visible_to(request.user)
        return visible.select_related("created_by", "updated_by")

    def get_changeform_initial_data(self, request):
        # Paging, ordering and page size are not conditions: the field shows what is saved.
        query = conditions_query(conditions_from_query(request.GET.get(QUERY_PARAM, "")))
        initial = {"query": query}
        try:
            conditions = conditions_clean(conditions_from_query(query))
            sentence = conditions_sentence(conditions)
        except ValidationError:
            sentence = ""
        initial["name"] = sentence[:100]
        return initial

    # --- a segment someone else keeps to themselves does not exist for you ----------------------

    def _visible_or_404(self, request, object_id) -> None:
        if not self.has_view_or_change_permission(request):
            return  # the admin's own view refuses it (403)
        if self.get_object(request, object_id) is None:
            raise Http404(_("No such segment."))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._visible_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["segment_sentence"], context["segment_problems"] = _described(
            request, context["adminform"].form, obj
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- saving through the services (they write the audit entry) -----------------------------

    def save_model(self, request, obj, form, change):
        data = form.segment_data
        fields = {"name": data.name, "conditions": data.conditions, "any_of": data.any_of}
        shared = form.cleaned_data["shared"]
        if change:
            saved = segment_update(actor=request.user, segment=obj, shared=shared, **fields)
        else:
            saved = segment_create(actor=request.user, shared=shared, **fields)
        obj.pk, obj.name = saved.pk, saved.name

    def delete_model(self, request, obj):
        segment_delete(actor=request.user, segment=obj)

    def delete_queryset(self, request, queryset):
        for segment in queryset.order_by("pk"):
            segment_delete(actor=request.user, segment=segment)

    def log_addition(self, request, obj, message):
        pass

    def log_change(self, request, obj, message):
        pass

    def log_deletion(self, request, obj, object_repr):
        pass

    def log_deletions(self, request, queryset):
        pass

    # --- columns --------------------------------------------------------------------------------

    @admin.display(description=_("name"), ordering="name")
    def segment_name(self, obj):
        return format_html('<a href="{}">{}</a>', list_url(obj), obj.name)

    @admin.display(description=_("conditions"))
    def sentence(self, obj):
        problems = segment_problems(obj)
        if problems:
            return format_html(
                '<span class="errornote segment-problem">{}</span>', " ".join(problems)
            )
        return segment_sentence(obj)

    @admin.display(description=_("customers"))
    def members(self, obj):
        count = getattr(obj, "member_count", None)
        if count is None:  # the change page: one segment
            count = segment_customers(segment=obj).count()
        total = getattr(obj, "customers_total", None)
        total = customers_total() if total is None else total
        # number_format cuts digits off; the share is rounded (2 of 3 is 66.7 %).
        share = number_format(round(100 * count / total, 1) if total else 0, decimal_pos=1)
        return format_html(
            '<a href="{}">{}</a>',
            list_url(obj),
            ngettext(
                "%(count)s customer · %(share)s %%", "%(count)s customers · %(share)s %%", count
            )
            % {"count": number_format(count, force_grouping=True), "share": share},
        )

    @admin.display(description=_("created"), ordering="created_at")
    def made(self, obj):
        return _by_when(obj.created_by, obj.created_at)

    @admin.display(description=_("updated"), ordering="updated_at")
    def changed(self, obj):
        return _by_when(obj.updated_by, obj.updated_at)

    @admin.display(description="")
    def edit(self, obj):
        url = reverse("admin:customers_segment_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Edit"))

    def get_changelist(self, request, **kwargs):
        return SegmentChangeList


class SegmentChangeList(ChangeList):
    """The segment list: each row of the page gets its live count, the page the total once."""

    def get_results(self, request):
        super().get_results(request)
        self.result_list = list(self.result_list)  # keep the counts set on the rows below
        total = customers_total()
        for segment in self.result_list:
            segment.member_count = segment_customers(segment=segment).count()
            segment.customers_total = total


def _by_when(user, when) -> str:
    who = user.get_username() if user is not None else "—"
    return format_html("{} · {}", who, format_datetime(when))


def _described(request, form, obj) -> tuple[str, list[str]]:
    """The conditions the page shows in words, and what is wrong with them."""
    if obj is not None and not form.is_bound:
        return segment_sentence(obj), segment_problems(obj)
    query = form["query"].value() or ""
    try:
        conditions = conditions_clean(conditions_from_query(query))
    except ValidationError as error:
        return "", error.messages
    return conditions_sentence(conditions), []
