"""Carry a change-list selection through an action's confirmation page and back.

Django posts "select all N" as ``select_across=1`` plus the ids of the visible page only, to the
change list's own URL, whose query string holds the filters and the search. The confirmation
page posts back to that same URL with the same few fields, so on confirm Django's ChangeList
rebuilds the queryset from the filters (default status filter included): a 100,000-customer
selection is never sent as 100,000 fields (DATA_UPLOAD_MAX_NUMBER_FIELDS is 1,000). The
selection's size is posted too; if the list changed in between, the page is shown again.

Every confirmation page of the customer list (bulk actions, delete, erasure, merge) goes
through ``confirmation_page`` or, for a page of its own shape (merge), renders
``selection.hidden_inputs`` inside a form posting to ``selection.post_url``::

    selection = ActionSelection.from_request(modeladmin, request, queryset)
    if request.POST.get("post") and not selection.changed and form.is_valid(): act
    else: render the page
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext as _

TEMPLATE_DIR = "admin/customers/customer"
COUNT_FIELD = "_selection_count"
# The change list's pages are at most list_max_show_all (500) rows: a plain selection is small.
MAX_POSTED_IDS = 1000


@dataclass
class ActionSelection:
    """The rows an admin action was posted for, and how to post the same selection again."""

    queryset: QuerySet | None
    select_across: bool
    ids: list[str]
    count: int
    post_url: str
    action: str
    posted_count: int | None = None
    modeladmin: admin.ModelAdmin | None = field(default=None, repr=False)
    request: HttpRequest | None = field(default=None, repr=False)

    @classmethod
    def from_request(
        cls, modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
    ) -> ActionSelection:
        """Read the selection Django's change list posted (or the confirmation page re-posted)."""
        post = request.POST
        select_across = post.get("select_across") == "1"
        ids = post.getlist(helpers.ACTION_CHECKBOX_NAME)[:MAX_POSTED_IDS]
        raw_count = post.get(COUNT_FIELD, "")
        return cls(
            queryset=queryset,
            select_across=select_across,
            ids=ids,
            count=queryset.count(),
            post_url=request.get_full_path(),
            action=post.get("action", ""),
            posted_count=int(raw_count) if raw_count.isdigit() else None,
            modeladmin=modeladmin,
            request=request,
        )

    @classmethod
    def of_ids(cls, *, ids: list[int], action: str, post_url: str) -> ActionSelection:
        """A ticked selection built outside the change list (a group of the duplicates page)."""
        return cls(
            queryset=None,
            select_across=False,
            ids=[str(pk) for pk in ids],
            count=len(ids),
            post_url=post_url,
            action=action,
        )

    @property
    def changed(self) -> bool:
        """True when the confirmation was made for a different number of rows than now match."""
        return self.posted_count is not None and self.posted_count != self.count

    @property
    def list_query(self) -> str:
        """The change list's filters and search, as the query string they were posted with."""
        return self.post_url.partition("?")[2]

    @property
    def hidden_inputs(self) -> SafeString:
        """The few fields that post this selection again (never one per selected row)."""
        fields = [
            ("action", self.action),
            ("select_across", "1" if self.select_across else "0"),
            (COUNT_FIELD, str(self.count)),
            *((helpers.ACTION_CHECKBOX_NAME, pk) for pk in self.ids),
        ]
        return format_html_join(
            "\n", '<input type="hidden" name="{}" value="{}">', ((n, v) for n, v in fields)
        )

    SAMPLE_SIZE = 50

    def sample(self) -> list:
        """The first selected rows, to show on the confirmation page."""
        return list(self.queryset[: self.SAMPLE_SIZE])

    def filter_lines(self) -> list[str]:
        """The list's filters and search in words ("Status: Archived"), for "select all"."""
        if not self.select_across or self.modeladmin is None:
            return []
        return filter_description(self.modeladmin, self.request)


def filter_description(modeladmin: admin.ModelAdmin, request: HttpRequest) -> list[str]:
    """Describe the filters (default ones included) and the search of a change list request.

    Builds the same ChangeList the list page does, so it reads as the list's sidebar does.
    """
    changelist = modeladmin.get_changelist_instance(request)
    every = _("All")
    lines = []
    for spec in changelist.filter_specs:
        if getattr(spec, "describes_each", False):
            # The conditions form: one line per condition ("Total spent at least 100").
            lines += [capfirst(c["display"]) for c in spec.choices(changelist)]
            continue
        chosen = [str(c["display"]) for c in spec.choices(changelist) if c["selected"]]
        chosen = [display for display in chosen if display != every]
        if chosen:
            lines.append(format_html("{}: {}", capfirst(spec.title), ", ".join(chosen)))
    if changelist.query:
        lines.append(format_html("{}: “{}”", _("Search"), changelist.query))
    return lines


def bound_form(form_class, request: HttpRequest, **kwargs) -> forms.Form:
    """The page's form, bound only once the confirmation page itself was posted."""
    return form_class(request.POST if request.POST.get("post") else None, **kwargs)


def confirmation_page(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    title: str,
    submit: str,
    apply: Callable[[forms.Form, ActionSelection], None],
    form: forms.Form | None = None,
    template: str = "bulk_action.html",
    context: dict | Callable[[], dict] | None = None,
):
    """Show an action's confirmation page; on ``post=yes`` with a valid form and the same
    selection, run ``apply`` and return to the list (None makes Django redirect there)."""
    selection = ActionSelection.from_request(modeladmin, request, queryset)
    if form is None:  # nothing to type: the page only confirms
        form = forms.Form(request.POST if request.POST.get("post") else None)
    if request.POST.get("post") == "yes" and not selection.changed and form.is_valid():
        try:
            apply(form, selection)
            return None
        except ValidationError as error:
            # A service's error may name a model field the form does not have ("name").
            form.add_error(None, ValidationError(error.messages))
    ctx = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "submit_label": submit,
        "opts": modeladmin.model._meta,
        "selection": selection,
        "form": form,
        "media": modeladmin.media + form.media,
        # Built only when the page is shown: the delete plan reads the whole selection.
        **((context() if callable(context) else context) or {}),
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, f"{TEMPLATE_DIR}/{template}", ctx)
