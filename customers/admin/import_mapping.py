"""The import's column-mapping step, between the upload and the preview.

For a file of no known format (and, when asked, to adjust a known one) the page shows each
column with a few sample values and a select of target fields, pre-filled with the mapping saved
for this header or else the suggestions (services/importing/mapping.py). A valid POST stores the
mapping in the upload's metadata (``meta["mapping"]``), optionally saves it under a name, and
redirects to the preview, which imports through it (``customers_import(mapping=...)``).
"""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from customers.admin.import_export import IMPORT_EXPIRED, _storage
from customers.services.importing import FORMAT_LABELS, ImportFileError
from customers.services.importing.formats import format_known, mapping_check
from customers.services.importing.mapping import (
    import_mapping_save,
    mapping_saved_for,
    mapping_suggest,
    mapping_targets,
)
from customers.services.importing.reading import file_sample

MAPPING_TEMPLATE = "admin/customers/import_mapping.html"
SAMPLE_ROWS = 3


def upload_header(source) -> dict:
    """What the upload view keeps of a new file's header: its columns and known format.

    Raises ImportFileError for a file that cannot be read at all (empty, binary, ...).
    """
    names, _samples = file_sample(source, rows=1)
    return {"header": names, "known_format": format_known(names)}


def mapping_needed(meta: dict) -> bool:
    """True when the upload's header is no known format and no mapping was chosen yet."""
    return "mapping" not in meta and not meta.get("known_format")


class ColumnMappingForm(forms.Form):
    """One select per column of the file, and a name to save the mapping under."""

    save_as = forms.CharField(
        label=_("Save this mapping as"),
        required=False,
        max_length=100,
        help_text=_("Optional: a later file with the same columns gets this mapping."),
    )

    def __init__(self, *args, names: list[str], initial_mapping: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.names = names
        for index, name in enumerate(names):
            if name:
                self.fields[f"column_{index}"] = forms.ChoiceField(
                    label=name,
                    choices=mapping_targets(),
                    initial=initial_mapping.get(name, "ignore"),
                )

    def column_fields(self):
        return [self[f"column_{index}"] for index, name in enumerate(self.names) if name]

    def clean(self):
        data = super().clean()
        mapping = {
            name: data[f"column_{index}"]
            for index, name in enumerate(self.names)
            if name and f"column_{index}" in data
        }
        try:
            mapping_check(self.names, mapping)
        except ImportFileError as exc:
            raise forms.ValidationError(exc.messages) from exc
        data["mapping"] = mapping
        return data


def import_mapping_view(modeladmin, request, token: str):
    """Show the file's columns with samples and target fields; store the chosen mapping."""
    if not modeladmin.has_import_permission(request):
        raise PermissionDenied
    storage, meta = _storage(request, token)
    if "result" in meta or not storage.exists():
        raise Http404(IMPORT_EXPIRED)
    with storage.open() as source:
        try:
            names, samples = file_sample(source, rows=SAMPLE_ROWS)
        except ImportFileError as exc:
            raise Http404(" ".join(exc.messages)) from exc
    saved = mapping_saved_for(names)
    initial = meta.get("mapping") or (saved.columns if saved else mapping_suggest(names))
    form = ColumnMappingForm(
        request.POST if request.method == "POST" else None,
        names=names,
        initial_mapping=initial,
    )
    if request.method == "POST" and form.is_valid():
        mapping = form.cleaned_data["mapping"]
        if form.cleaned_data["save_as"]:
            import_mapping_save(
                actor=request.user, name=form.cleaned_data["save_as"], names=names, columns=mapping
            )
        meta["mapping"] = mapping
        meta.pop("preview", None)  # a preview made without this mapping no longer holds
        (storage.folder() / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        return HttpResponseRedirect(
            reverse("admin:customers_customer_import_preview", args=[token])
        )
    known = meta.get("known_format") or format_known(names)
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": _("Match the columns of %(name)s") % {"name": meta["name"]},
        "token": token,
        "meta": meta,
        "form": form,
        "saved": saved,
        "known_label": FORMAT_LABELS.get(known) if known else None,
        "columns": [
            (field, [row[index] if index < len(row) else "" for row in samples])
            for index, field in zip(
                [i for i, name in enumerate(names) if name], form.column_fields(), strict=True
            )
        ],
    }
    return TemplateResponse(request, MAPPING_TEMPLATE, context)
