"""Carry a change-list selection through an action's confirmation page and back.

Django posts "select all N" as ``select_across=1`` plus the ids of the visible page only, to the
change list's own URL, whose query string holds the filters and the search. The confirmation
page posts back to that same URL with the same few fields, so on confirm Django's ChangeList
rebuilds the queryset from the filters (default status filter included): a 100,000-customer
selection is never sent as 100,000 fields (DATA_UPLOAD_MAX_NUMBER_FIELDS is 1,000). The
selection's size is posted too; if the list changed in between, the page is shown again.

Reusable by any action of any ModelAdmin (merge, erasure, ...)::

    selection = ActionSelection.from_request(modeladmin, request, queryset)
    if request.POST.get("post") and not selection.changed and form.is_valid(): act
    else: render a page with ``selection.hidden_inputs`` inside a form posting to
          ``selection.post_url``
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext as _

COUNT_FIELD = "_selection_count"
# The change list's pages are at most list_max_show_all (500) rows: a plain selection is small.
MAX_POSTED_IDS = 1000


@dataclass
class ActionSelection:
    """The rows an admin action was posted for, and how to post the same selection again."""

    queryset: QuerySet
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

    @property
    def changed(self) -> bool:
        """True when the confirmation was made for a different number of rows than now match."""
        return self.posted_count is not None and self.posted_count != self.count

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
        chosen = [str(c["display"]) for c in spec.choices(changelist) if c["selected"]]
        chosen = [display for display in chosen if display != every]
        if chosen:
            lines.append(format_html("{}: {}", capfirst(spec.title), ", ".join(chosen)))
    if changelist.query:
        lines.append(format_html("{}: “{}”", _("Search"), changelist.query))
    return lines
