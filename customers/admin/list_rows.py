"""The customer list's rows, drawn as Django's admin draws them, the per-column work done once.

Django's ``items_for_result`` works out again for every cell what its column is (a model field,
or an admin method found by catching ``FieldDoesNotExist``), and merges the list's query string
into each link's URL by resolving that URL, twice a row: about 0.7 ms a row, a 500-row page
spent 350 ms there. Here each column is looked at once per page; the cells are Django's, byte
for byte (tests/customers/admin/test_list_rows.py compares them).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.admin.templatetags.admin_list import (
    ResultList,
    _coerce_field_name,
    items_for_result,
    result_headers,
    result_hidden_fields,
)
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import (
    FieldIsAForeignKeyColumnName,
    _get_non_gfk_field,
    display_for_field,
    display_for_value,
    lookup_field,
    quote,
)
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class _Column:
    """One column of the page: how its value is read and how its cell is marked up."""

    classes: str  # the cell's class attribute, without "nowrap" for a method's date
    empty: str
    look_up: Callable  # obj -> (field, attr, value), as admin.utils.lookup_field returns
    field: models.Field | None
    attr: object
    boolean: bool
    tag: str | None  # "th" or "td" for the columns that link to the change page


def _column(cl, index: int, name, first_link: bool) -> _Column:
    admin = cl.model_admin
    field, attr = _model_field(cl, name), None
    if field is not None:

        def look_up(obj, name=name, field=field):
            return field, None, getattr(obj, name)

    elif isinstance(name, str) and name != "__str__" and callable(getattr(admin, name, None)):
        attr = getattr(admin, name)

        def look_up(obj, attr=attr):
            return None, attr, attr(obj)

    else:  # a model attribute or a callable: Django's own lookup, cell by cell

        def look_up(obj, name=name):
            return lookup_field(name, obj, admin)

    classes = [f"field-{_coerce_field_name(name, index)}"]
    if field is None or field.auto_created:
        if name == "action_checkbox":
            classes = ["action-checkbox"]
    elif isinstance(field, models.DateField | models.TimeField | models.ForeignKey):
        classes.append("nowrap")
    linked = _links(cl, name, first_link)
    return _Column(
        classes=" ".join(classes),
        empty=getattr(attr, "empty_value_display", admin.get_empty_value_display()),
        look_up=look_up,
        field=field,
        attr=attr,
        boolean=_boolean(attr),
        tag=("th" if first_link else "td") if linked else None,
    )


def _model_field(cl, name) -> models.Field | None:
    if not isinstance(name, str):
        return None
    try:
        return _get_non_gfk_field(cl.lookup_opts, name)
    except (FieldDoesNotExist, FieldIsAForeignKeyColumnName):
        return None


def _boolean(attr) -> bool:
    if isinstance(attr, property) and hasattr(attr, "fget"):
        return getattr(attr.fget, "boolean", False)
    return getattr(attr, "boolean", False)


def _links(cl, name, first: bool) -> bool:
    if cl.list_display_links is None:
        return False
    if first and not cl.list_display_links:
        return True
    return name in cl.list_display_links


def _columns(cl) -> list[_Column]:
    columns, first = [], True
    for index, name in enumerate(cl.list_display):
        column = _column(cl, index, name, first)
        first = first and column.tag is None
        columns.append(column)
    return columns


def _display(column: _Column, obj) -> tuple[object, str]:
    """The cell's text and class attribute: ``items_for_result``'s rules, for one value."""
    try:
        field, attr, value = column.look_up(obj)
    except ObjectDoesNotExist:
        return column.empty, column.classes
    if attr is column.attr:
        empty, boolean = column.empty, column.boolean
    else:  # a column Django looks up (lookup_field) cell by cell
        empty, boolean = getattr(attr, "empty_value_display", column.empty), _boolean(attr)
    if isinstance(value, str) and value.strip() == "":
        value = ""
    if field is None or field.auto_created:
        text = display_for_value(value, empty, boolean)
        if isinstance(value, datetime.date | datetime.time):
            return text, f"{column.classes} nowrap"
        return text, column.classes
    if isinstance(field.remote_field, models.ManyToOneRel):
        related = getattr(obj, field.name)
        return (empty if related is None else related), column.classes
    return display_for_field(value, field, empty, avoid_link=column.tag is not None), column.classes


class ChangeURLs:
    """Each row's change-page link with the list's filters kept, worked out once a page.

    A change URL differs from row to row by its primary key only, and ``add_preserved_filters``
    gives each the same query (it resolves the URL only to tell the change list's own from the
    others): the first row's link is built Django's way and the others follow its shape.
    """

    def __init__(self, cl):
        self.cl = cl
        self.shape: tuple[str, str] | None = None

    def __call__(self, obj) -> str | None:
        key = quote(obj.pk)
        if self.shape is not None:
            head, tail = self.shape
            return f"{head}{key}{tail}"
        try:
            url = self.cl.url_for_result(obj)
        except NoReverseMatch:
            return None
        context = {"preserved_filters": self.cl.preserved_filters, "opts": self.cl.opts}
        url = add_preserved_filters(context, url)
        head, found, tail = url.partition(f"/{key}/")
        if found and f"/{key}/" not in tail:
            self.shape = (f"{head}/", f"/{tail}")
        return url


def row_cells(cl, columns: list[_Column], urls: ChangeURLs, obj) -> SafeString:
    """One row's cells, as one piece of HTML."""
    cells, url = [], None
    for column in columns:
        text, classes = _display(column, obj)
        text = conditional_escape(text)
        tag = column.tag
        if tag is None:
            cells.append(f'<td class="{classes}">{text}</td>')
            continue
        if url is None:
            url = urls(obj) or ""
        if url:
            text = f'<a href="{conditional_escape(url)}">{text}</a>'
        cells.append(f'<{tag} class="{classes}">{text}</{tag}>')
    return mark_safe("".join(cells))


def result_rows(cl) -> list[ResultList]:
    """The rows of ``admin/change_list_results.html``: one item per row, its cells joined.

    A popup or an editable list (neither is the customer list's) is left to Django.
    """
    if cl.is_popup or cl.formset or cl.to_field:
        return [ResultList(None, items_for_result(cl, obj, None)) for obj in cl.result_list]
    columns, urls = _columns(cl), ChangeURLs(cl)
    return [ResultList(None, [row_cells(cl, columns, urls, obj)]) for obj in cl.result_list]


def result_list_context(cl) -> dict:
    """Django's ``result_list`` tag's context, the rows drawn by :func:`result_rows`."""
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": result_rows(cl),
    }
