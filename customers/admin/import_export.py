"""The customer admin's CSV import (upload, preview, confirm, result) and export pages.

Thin adapters over customers/services/importing.py and exporting.py. django-import-export gives
the buttons on the list, the page frame and the upload storage; its per-row import path is not
used (one query per row, the whole file in memory): our batched service does the rows.
"""

from __future__ import annotations

import csv
import json
import re
import secrets
import shutil
from itertools import islice
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.tmp_storages import TempFolderStorage

from customers.admin.selection import ActionSelection
from customers.services.exporting import (
    ALL_HEADERS,
    DELIMITERS,
    SHOPIFY_HEADERS,
    cell_escape,
    customers_export_lines,
    customers_exportable,
)
from customers.services.importing import (
    CREATED,
    ERROR,
    FORMAT_LABELS,
    SKIPPED,
    UNCHANGED,
    UPDATED,
    ImportFileError,
    RowReport,
    customers_import,
    describe,
)
from customers.services.importing.files import IMPORT_RETENTION, imports_remove_expired  # noqa: F401

IMPORT_TEMPLATE = "admin/customers/customer/import.html"
IMPORT_PREVIEW_TEMPLATE = "admin/customers/customer/import_preview.html"
IMPORT_RESULT_TEMPLATE = "admin/customers/customer/import_result.html"
EXPORT_TEMPLATE = "admin/customers/customer/export.html"
PAGE_SIZE = 100
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,40}")
SAMPLE_NAME = "CustomerImportSample.csv"
SAMPLE_ROWS = [
    [
        "Marie",
        "Dupont",
        "marie.dupont@example.fr",
        "yes",
        "Atelier Dupont",
        "12 rue de la Paix",
        "",
        "Paris",
        "",
        "FR",
        "75002",
        "",
        "'+33 6 12 34 56 78",
        "no",
        "VIP, Paris",
        "Prefers email",
        "no",
    ],
    [
        "José",
        "García",
        "jose.garcia@example.com",
        "no",
        "",
        "PSC 1234 BOX 5678",
        "",
        "APO",
        "AE",
        "US",
        "09012",
        "",
        "(617) 555-0134",
        "yes",
        "Wholesale",
        "",
        "yes",
    ],
]
OUTCOMES = [
    (ERROR, _("Errors")),
    (UPDATED, _("Updates")),
    (CREATED, _("New")),
    (SKIPPED, _("Skipped")),
    (UNCHANGED, _("Unchanged")),
]
FILE_TOO_LARGE = _("The file is %(size)s MB; the largest file accepted is %(limit)s MB.")
IMPORT_EXPIRED = _("This import has expired or was already done; upload the file again.")


class PrivateImportStorage(TempFolderStorage):
    """django-import-export's temporary file storage, kept under PRIVATE_UPLOAD_ROOT.

    Never under MEDIA_ROOT or any public URL; one directory per upload, removed once imported.
    """

    def __init__(self, token: str, **kwargs):
        super().__init__(name="upload.csv", read_mode="rb", **kwargs)
        self.token = token

    @staticmethod
    def root() -> Path:
        return Path(settings.PRIVATE_UPLOAD_ROOT) / "imports"

    def folder(self) -> Path:
        return self.root() / self.token

    def get_full_path(self) -> str:
        return str(self.folder() / self.name)

    def save_upload(self, uploaded) -> None:
        self.folder().mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.get_full_path(), "wb") as out:
            for chunk in uploaded.chunks():
                out.write(chunk)

    def open(self):
        return open(self.get_full_path(), "rb")

    def exists(self) -> bool:
        return Path(self.get_full_path()).exists()

    def remove(self) -> None:
        Path(self.get_full_path()).unlink(missing_ok=True)

    def remove_all(self) -> None:
        shutil.rmtree(self.folder(), ignore_errors=True)


class CustomerImportForm(forms.Form):
    import_file = forms.FileField(label=_("CSV file"))
    all_or_nothing = forms.BooleanField(
        label=_("All or nothing"),
        required=False,
        help_text=_("Import nothing if any record has an error."),
    )

    def clean_import_file(self):
        uploaded = self.cleaned_data["import_file"]
        limit = settings.BACKOFFICE_IMPORT_MAX_BYTES
        if uploaded.size > limit:
            raise ValidationError(
                FILE_TOO_LARGE,
                code="too_large",
                params={
                    "size": number_format(uploaded.size / 2**20, 1),
                    "limit": number_format(limit / 2**20, 1),
                },
            )
        return uploaded


class CustomerExportForm(forms.Form):
    SCOPES = [
        ("all", _("All customers")),
        ("filtered", _("The filtered list")),
        ("selected", _("The selected customers")),
    ]
    scope = forms.ChoiceField(label=_("Customers"), choices=SCOPES, widget=forms.RadioSelect)
    columns = forms.MultipleChoiceField(
        label=_("Columns"),
        choices=[(name, name) for name in ALL_HEADERS],
        widget=forms.CheckboxSelectMultiple,
        initial=ALL_HEADERS,
    )
    delimiter = forms.ChoiceField(
        label=_("Delimiter"),
        choices=[(",", _("Comma (,)")), (";", _("Semicolon (;), for Excel in French or Spanish"))],
        initial=",",
    )
    filters = forms.CharField(required=False, widget=forms.HiddenInput)
    ids = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_delimiter(self):
        value = self.cleaned_data["delimiter"]
        if value not in DELIMITERS:
            raise ValidationError(_("Choose a comma or a semicolon."), code="delimiter")
        return value

    def clean_ids(self):
        raw = self.cleaned_data.get("ids") or ""
        return [int(part) for part in raw.split(",") if part.strip().isdigit()]


class _ReportWriter:
    """Writes each record's report to a JSON-lines file as it comes (memory stays flat)."""

    def __init__(self, target: Path):
        self.file = target.open("w", encoding="utf-8")

    def __call__(self, report: RowReport) -> None:
        self.file.write(json.dumps(report.__dict__, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.file.close()


def _read_reports(source: Path, outcome: str | None = None):
    if not source.exists():
        return
    with source.open(encoding="utf-8") as lines:
        for line in lines:
            report = json.loads(line)
            if outcome is None or report["outcome"] == outcome:
                yield report


# -- import
def _import_context(modeladmin, request, **extra):
    return {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": _("Import customers"),
        "formats": list(FORMAT_LABELS.values()),
        **extra,
    }


def _require_import(modeladmin, request) -> None:
    if not modeladmin.has_import_permission(request):
        raise PermissionDenied


def _storage(request, token: str) -> tuple[PrivateImportStorage, dict]:
    storage = PrivateImportStorage(token)
    meta_path = storage.folder() / "meta.json"
    if not TOKEN_RE.fullmatch(token) or not meta_path.exists():
        raise Http404(IMPORT_EXPIRED)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta["user"] != request.user.pk:
        raise Http404(IMPORT_EXPIRED)
    return storage, meta


def import_sample_view(modeladmin, request):
    _require_import(modeladmin, request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{SAMPLE_NAME}"'
    writer = csv.writer(response, lineterminator="\r\n")
    writer.writerow(SHOPIFY_HEADERS)
    writer.writerows(SAMPLE_ROWS)
    return response


def import_view(modeladmin, request):
    _require_import(modeladmin, request)
    form = CustomerImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        imports_remove_expired()
        token = secrets.token_urlsafe(18)
        storage = PrivateImportStorage(token)
        uploaded = form.cleaned_data["import_file"]
        storage.save_upload(uploaded)
        meta = {
            "user": request.user.pk,
            "name": Path(uploaded.name).name,
            "all_or_nothing": form.cleaned_data["all_or_nothing"],
        }
        writer = _ReportWriter(storage.folder() / "preview.jsonl")
        try:
            with storage.open() as source:
                result = customers_import(
                    actor=request.user,
                    source=source,
                    filename=meta["name"],
                    dry_run=True,
                    all_or_nothing=meta["all_or_nothing"],
                    on_row=writer,
                )
        except ImportFileError as exc:
            writer.close()
            storage.remove_all()
            form.add_error("import_file", exc)
        else:
            writer.close()
            meta["preview"] = _summary(result)
            (storage.folder() / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
            return _render_preview(modeladmin, request, token, storage, meta)
    context = _import_context(modeladmin, request, form=form)
    return TemplateResponse(request, IMPORT_TEMPLATE, context)


def import_preview_view(modeladmin, request, token: str):
    _require_import(modeladmin, request)
    storage, meta = _storage(request, token)
    if "result" in meta:
        return HttpResponseRedirect(reverse("admin:customers_customer_import_result", args=[token]))
    return _render_preview(modeladmin, request, token, storage, meta)


def _render_preview(modeladmin, request, token, storage, meta):
    summary = meta["preview"]
    context = _import_context(
        modeladmin,
        request,
        title=_("Check the import of %(name)s") % {"name": meta["name"]},
        token=token,
        meta=meta,
        summary=summary,
        **_page(request, storage.folder() / "preview.jsonl", summary),
    )
    return TemplateResponse(request, IMPORT_PREVIEW_TEMPLATE, context)


def _page(request, report_path: Path, summary: dict) -> dict:
    counts = {outcome: summary[outcome] for outcome, _label in OUTCOMES}
    default = next((o for o, _l in OUTCOMES if counts[o]), ERROR)
    outcome = request.GET.get("outcome", default)
    if outcome not in counts:
        outcome = default
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    pages = max(1, -(-counts[outcome] // PAGE_SIZE))
    page = min(page, pages)
    rows = list(
        islice(_read_reports(report_path, outcome), (page - 1) * PAGE_SIZE, page * PAGE_SIZE)
    )
    for row in rows:
        row["change_list"] = [
            _change_display(name, value) for name, value in row["changes"].items()
        ]
    return {
        "tabs": [(o, label, counts[o], o == outcome) for o, label in OUTCOMES],
        "outcome": outcome,
        "rows": rows,
        "page": page,
        "pages": pages,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page < pages else None,
    }


def import_confirm_view(modeladmin, request, token: str):
    _require_import(modeladmin, request)
    if request.method != "POST":
        return HttpResponseRedirect(
            reverse("admin:customers_customer_import_preview", args=[token])
        )
    storage, meta = _storage(request, token)
    if "result" in meta or not storage.exists():
        raise Http404(IMPORT_EXPIRED)
    writer = _ReportWriter(storage.folder() / "result.jsonl")
    try:
        with storage.open() as source:
            result = customers_import(
                actor=request.user,
                source=source,
                filename=meta["name"],
                all_or_nothing=meta["all_or_nothing"],
                on_row=writer,
            )
    except ImportFileError as exc:
        writer.close()
        storage.remove_all()
        modeladmin.message_user(request, " ".join(exc.messages), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:customers_customer_import"))
    finally:
        # The upload is gone once imported; the report stays for the result page.
        storage.remove()
    writer.close()
    meta["result"] = _summary(result)
    (storage.folder() / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    if result.committed:
        modeladmin.message_user(
            request,
            gettext("Imported %(name)s: %(totals)s")
            % {"name": meta["name"], "totals": describe(result)},
            messages.SUCCESS,
        )
    else:
        modeladmin.message_user(
            request,
            gettext("Nothing was imported: %(count)s record(s) had errors.")
            % {"count": len(result.errors)},
            messages.ERROR,
        )
    return HttpResponseRedirect(reverse("admin:customers_customer_import_result", args=[token]))


def import_result_view(modeladmin, request, token: str):
    _require_import(modeladmin, request)
    storage, meta = _storage(request, token)
    if "result" not in meta:
        raise Http404(IMPORT_EXPIRED)
    summary = meta["result"]
    context = _import_context(
        modeladmin,
        request,
        title=_("Import of %(name)s") % {"name": meta["name"]},
        token=token,
        meta=meta,
        summary=summary,
        **_page(request, storage.folder() / "result.jsonl", summary),
    )
    return TemplateResponse(request, IMPORT_RESULT_TEMPLATE, context)


def import_rejected_view(modeladmin, request, token: str):
    """The rejected records (errors and skipped) with their reasons, as CSV."""
    _require_import(modeladmin, request)
    storage, meta = _storage(request, token)
    stage = "result" if "result" in meta else "preview"
    header = meta[stage]["header"]
    report_path = storage.folder() / f"{stage}.jsonl"

    def lines():
        writer = csv.writer(_Echo(), lineterminator="\r\n")
        yield "\ufeff" + writer.writerow([gettext("Record"), gettext("Reason"), *header])
        for report in _read_reports(report_path):
            if report["outcome"] in (ERROR, SKIPPED):
                # The staff will open this in a spreadsheet: neutralise formulas here too.
                cells = [report["record"], report["message"], *(report["cells"] or [])]
                yield writer.writerow([cell_escape(str(cell)) for cell in cells])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stem = Path(meta["name"]).stem
    response["Content-Disposition"] = f'attachment; filename="{stem}-rejected.csv"'
    return response


# -- export
@admin.action(permissions=["export"], description=_("Export selected customers"))
def export_selected(modeladmin, request, queryset):
    """Admin action: open the export page for the selected customers."""
    if not modeladmin.has_export_permission(request):
        raise PermissionDenied
    selection = ActionSelection.from_request(modeladmin, request, queryset)
    if selection.select_across:
        # "Select all N": carry the list's filters, not N ids in a hidden field (a million
        # ids would pass Django's request size limit).
        form = CustomerExportForm(initial={"scope": "filtered", "filters": selection.list_query})
        return _render_export(modeladmin, request, form, selected=0)
    ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
    form = CustomerExportForm(initial={"scope": "selected", "ids": ids})
    return _render_export(modeladmin, request, form, selected=selection.count)


def export_view(modeladmin, request):
    if not modeladmin.has_export_permission(request):
        raise PermissionDenied
    if request.method == "POST" and "scope" in request.POST:
        form = CustomerExportForm(request.POST)
        if form.is_valid():
            return _export_response(modeladmin, request, form.cleaned_data)
        ids = [part for part in form.data.get("ids", "").split(",") if part]
        return _render_export(modeladmin, request, form, selected=len(ids))
    filters = request.GET.urlencode()
    form = CustomerExportForm(
        initial={"scope": "filtered" if filters else "all", "filters": filters}
    )
    return _render_export(modeladmin, request, form, selected=0)


def _render_export(modeladmin, request, form, selected: int):
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": _("Export customers"),
        "form": form,
        "selected": selected,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, EXPORT_TEMPLATE, context)


def _export_queryset(modeladmin, request, data):
    scope = data["scope"]
    if scope == "selected":
        return customers_exportable().filter(pk__in=data["ids"])
    if scope == "filtered":
        original = request.GET
        request.GET = QueryDict(data.get("filters") or "")
        try:
            changelist = modeladmin.get_changelist_instance(request)
            return changelist.get_queryset(request)
        finally:
            request.GET = original
    return customers_exportable()


def _export_response(modeladmin, request, data):
    lines = customers_export_lines(
        queryset=_export_queryset(modeladmin, request, data),
        columns=data["columns"],
        delimiter=data["delimiter"],
    )
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="customers.csv"'
    return response


def _change_display(name: str, value) -> dict:
    """One changed field for the template: old -> new, or what was added."""
    if isinstance(value, list) and len(value) == 2 and name != "tags_added":
        return {"name": name, "old": value[0], "new": value[1], "pair": True}
    if isinstance(value, list):
        value = ", ".join(str(item) for item in value)
    return {"name": name, "added": value, "pair": False}


class _Echo:
    def write(self, value: str) -> str:
        return value


def _summary(result) -> dict:
    return {
        "format": result.format,
        "format_label": str(FORMAT_LABELS.get(result.format, result.format)),
        CREATED: result.created,
        UPDATED: result.updated,
        UNCHANGED: result.unchanged,
        SKIPPED: result.skipped,
        ERROR: len(result.errors),
        "repeated": result.repeated_keys,
        "warnings": result.warnings,
        "committed": result.committed,
        "header": result.header,
    }
