"""The customer admin's CSV import (upload, preview, confirm, result) and export pages.

Thin adapters over customers/services/importing.py and exporting.py. django-import-export gives
the buttons on the list, the page frame and the upload storage; its per-row import path is not
used (one query per row, the whole file in memory): our batched service does the rows.
"""

from __future__ import annotations

import csv
import secrets
import shutil
import tempfile
from itertools import islice
from pathlib import Path
from types import SimpleNamespace

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import FieldError, PermissionDenied, ValidationError
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.test import RequestFactory
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from backoffice.jobs.models import Job, JobState
from backoffice.jobs.registry import JobCancelled
from backoffice.jobs.services import job_cancel, job_start
from customers.admin.selection import ActionSelection
from customers.audit.events import DESCRIBERS, display_value, field_label
from customers.jobs_import import IMPORT_CONFIRM, IMPORT_PREVIEW
from customers.models import Customer, EventKind
from customers.services.exporting import (
    ALL_HEADERS,
    CHUNK_SIZE,
    CSV,
    DELIMITERS,
    SHOPIFY_HEADERS,
    XLSX,
    cell_escape,
    customers_export_lines,
    customers_export_rows,
    customers_exportable,
    export_selection,
    xlsx_write,
)
from customers.services.importing import (
    BACKOFFICE,
    CREATED,
    ECWID,
    ERROR,
    FORMAT_LABELS,
    SHIPSTATION,
    SHOPIFY,
    SKIPPED,
    UNCHANGED,
    UPDATED,
    ImportFileError,
    describe,
)
from customers.uploads import (
    EXPORT_NAME,
    IMPORT_RETENTION,
    PrivateImportStorage,
    UploadSizeLimit,
    export_folder,
    export_path,
    exports_remove_expired,
    imports_remove_expired,
    reports_read,
)

__all__ = ["IMPORT_RETENTION", "export_job", "imports_remove_expired"]

IMPORT_TEMPLATE = "admin/customers/customer/import.html"
IMPORT_PREVIEW_TEMPLATE = "admin/customers/customer/import_preview.html"
IMPORT_PROGRESS_TEMPLATE = "admin/customers/customer/import_progress.html"
IMPORT_RESULT_TEMPLATE = "admin/customers/customer/import_result.html"
EXPORT_TEMPLATE = "admin/customers/customer/export.html"
EXPORT_JOB_TEMPLATE = "admin/customers/customer/export_job.html"
PREVIEW_URL = "admin:customers_customer_import_preview"
RESULT_URL = "admin:customers_customer_import_result"
EXPORT_URL = "admin:customers_customer_export"
EXPORT = "customers.export"
XLSX_NAME = "customers.xlsx"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE_SIZE = 100
# Keys of a record's changes that are no field's [old, new] pair.
SENTENCE_KEYS = ("tags_added", "tags_removed", "note_added")
# The sample customers of every template, by column of this back office's own export.
SAMPLE_CUSTOMERS = [
    {
        "First Name": "Marie",
        "Last Name": "Dupont",
        "Email": "marie.dupont@example.fr",
        "Accepts Email Marketing": "yes",
        "Default Address Company": "Atelier Dupont",
        "Default Address Address1": "12 rue de la Paix",
        "Default Address City": "Paris",
        "Default Address Country Code": "FR",
        "Default Address Zip": "75002",
        "Phone": "'+33 6 12 34 56 78",
        "Accepts SMS Marketing": "no",
        "Tags": "VIP, Paris",
        "Note": "Prefers email",
        "Tax Exempt": "no",
        "Company": "Atelier Dupont",
        "Username": "marie.dupont",
        "Date of Birth": "1985-04-12",
        "Status": "active",
        "Email Marketing Status": "subscribed",
        "SMS Marketing Status": "not_subscribed",
    },
    {
        "First Name": "José",
        "Last Name": "García",
        "Email": "jose.garcia@example.com",
        "Accepts Email Marketing": "no",
        "Default Address Address1": "PSC 1234 BOX 5678",
        "Default Address City": "APO",
        "Default Address Province Code": "AE",
        "Default Address Country Code": "US",
        "Default Address Zip": "09012",
        "Phone": "(617) 555-0134",
        "Accepts SMS Marketing": "yes",
        "Tags": "Wholesale",
        "Tax Exempt": "yes",
        "Username": "jgarcia",
        "Status": "active",
        "Email Marketing Status": "not_subscribed",
        "SMS Marketing Status": "subscribed",
    },
]
# A template per format the importer knows: its file name, its columns and where each column
# takes its sample value from (a column of SAMPLE_CUSTOMERS, or a function of the customer).
SAMPLES = {
    SHOPIFY: ("shopify_customer_template.csv", {name: name for name in SHOPIFY_HEADERS}),
    ECWID: (
        "ecwid_customer_template.csv",
        {"name": lambda c: f"{c['First Name']} {c['Last Name']}", "email": "Email"},
    ),
    # ShipStation's own name for its template.
    SHIPSTATION: (
        "CustomerImportSample.csv",
        {
            "Username": "Username",
            "Email": "Email",
            "First Name": "First Name",
            "Last Name": "Last Name",
            "Company Name": "Default Address Company",
            "Address Line 1": "Default Address Address1",
            "Address Line 2": "Default Address Address2",
            "City": "Default Address City",
            "State": lambda c: c.get("Default Address Province Code") or "IDF",
            "Postal Code": "Default Address Zip",
            "Country Code": "Default Address Country Code",
            "Phone": "Phone",
        },
    ),
    BACKOFFICE: ("backoffice_customer_template.csv", {name: name for name in ALL_HEADERS}),
}
OUTCOMES = [
    (ERROR, _("Errors")),
    (UPDATED, _("Updates")),
    (CREATED, _("New")),
    (SKIPPED, _("Skipped")),
    (UNCHANGED, _("Unchanged")),
]
FILE_TOO_LARGE = _("The file is %(size)s MB; the largest file accepted is %(limit)s MB.")
CHANGE_PAIR = _("%(field)s: %(old)s → %(new)s")
IMPORT_EXPIRED = _("This import has expired or was already done; upload the file again.")
BAD_FILTER = _(
    "The filter in this link is not valid (a wrong value or an unknown field); "
    "open the export again from the customer list."
)
EXPORT_EXPIRED = _("This export file is not available: it has expired or is not finished.")


class CustomerImportForm(forms.Form):
    import_file = forms.FileField(label=_("CSV file"))
    all_or_nothing = forms.BooleanField(
        label=_("All or nothing"),
        required=False,
        help_text=_("Import nothing if any record has an error."),
    )

    def clean_import_file(self):
        uploaded = self.cleaned_data["import_file"]
        if uploaded.size > settings.BACKOFFICE_IMPORT_MAX_BYTES:
            raise file_too_large(uploaded.size)
        return uploaded


def file_too_large(size: int) -> ValidationError:
    """The refusal of an upload of ``size`` bytes, over BACKOFFICE_IMPORT_MAX_BYTES."""
    return ValidationError(
        FILE_TOO_LARGE,
        code="too_large",
        params={
            "size": number_format(size / 2**20, 1),
            "limit": number_format(settings.BACKOFFICE_IMPORT_MAX_BYTES / 2**20, 1),
        },
    )


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
    file_format = forms.ChoiceField(
        label=_("File"),
        choices=[(CSV, _("CSV")), (XLSX, _("Excel (.xlsx)"))],
        initial=CSV,
        required=False,
    )
    delimiter = forms.ChoiceField(
        label=_("Delimiter"),
        choices=[(",", _("Comma (,)")), (";", _("Semicolon (;), for Excel in French or Spanish"))],
        initial=",",
        help_text=_("For CSV files only."),
    )
    filters = forms.CharField(required=False, widget=forms.HiddenInput)
    ids = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_delimiter(self):
        value = self.cleaned_data["delimiter"]
        if value not in DELIMITERS:
            raise ValidationError(_("Choose a comma or a semicolon."), code="delimiter")
        return value

    def clean_file_format(self):
        return self.cleaned_data.get("file_format") or CSV  # a form posted before xlsx existed

    def clean_ids(self):
        raw = self.cleaned_data.get("ids") or ""
        return [int(part) for part in raw.split(",") if part.strip().isdigit()]


# -- import
def _import_context(modeladmin, request, **extra):
    return {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": _("Import customers"),
        "formats": list(FORMAT_LABELS.values()),
        "samples": _samples(),
        "jobs_url": reverse("admin:jobs_job_changelist"),
        **extra,
    }


def _require_import(modeladmin, request) -> None:
    if not modeladmin.has_import_permission(request):
        raise PermissionDenied


def _storage(request, token: str) -> tuple[PrivateImportStorage, dict]:
    storage = PrivateImportStorage(token)
    meta = storage.meta()
    if meta is None or meta["user"] != request.user.pk:
        raise Http404(IMPORT_EXPIRED)
    return storage, meta


def _latest_job(kind: str, token: str) -> Job | None:
    return Job.objects.filter(kind=kind, dedupe_key=token).order_by("-pk").first()


def import_sample_view(modeladmin, request):
    """A template of the format in ?format= (Shopify's by default), with two sample customers."""
    _require_import(modeladmin, request)
    fmt = request.GET.get("format", SHOPIFY)
    if fmt not in SAMPLES:
        raise Http404
    name, columns = SAMPLES[fmt]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response, lineterminator="\r\n")
    writer.writerow(columns)
    for customer in SAMPLE_CUSTOMERS:
        writer.writerow(
            [
                source(customer) if callable(source) else customer.get(source, "")
                for source in columns.values()
            ]
        )
    return response


def _samples() -> list[tuple[str, str, str]]:
    """Each template the import page offers: its format's label, URL and file name."""
    url = reverse("admin:customers_customer_sample")
    return [
        (FORMAT_LABELS[fmt], f"{url}?format={fmt}", name) for fmt, (name, _c) in SAMPLES.items()
    ]


@csrf_exempt
def import_view(modeladmin, request):
    """Receive the upload within the size limit, then store and check it (:func:`_import_form`).

    The size limit works while the upload arrives, so its handler goes in before anything reads
    request.POST; the CSRF check reads it, hence csrf_exempt here and csrf_protect below.
    """
    _require_import(modeladmin, request)
    size_limit = UploadSizeLimit(request)
    request.upload_handlers.insert(0, size_limit)

    def form_page(request):
        return _import_form(modeladmin, request, size_limit)

    return csrf_protect(form_page)(request)


def _import_form(modeladmin, request, size_limit: UploadSizeLimit):
    """Store the upload, start its check as a job and go to the preview's own page."""
    form = CustomerImportForm(request.POST or None, request.FILES or None)
    if size_limit.refused:
        form = CustomerImportForm(request.POST, request.FILES)
        form.is_valid()
        # The file was dropped for its size: say that, not "this field is required".
        form.errors.pop("import_file", None)
        size = int(request.META.get("CONTENT_LENGTH") or 0) or size_limit.received
        form.add_error("import_file", file_too_large(size))
    elif request.method == "POST" and form.is_valid():
        imports_remove_expired()
        token = secrets.token_urlsafe(18)
        storage = PrivateImportStorage(token)
        uploaded = form.cleaned_data["import_file"]
        storage.save_upload(uploaded)
        # Later steps (the column mapping) add their keys to this dict; the jobs pass them on.
        meta = {
            "user": request.user.pk,
            "name": Path(uploaded.name).name,
            "all_or_nothing": form.cleaned_data["all_or_nothing"],
        }
        # The mapping page reads this module's upload helpers: imported here, not at the top.
        from customers.admin.import_mapping import MAPPING_URL, mapping_needed, upload_header

        try:
            with storage.open() as source:
                meta.update(upload_header(source))
        except ImportFileError as error:
            storage.remove_all()
            form.add_error("import_file", error)
        else:
            storage.meta_write(meta)
            if mapping_needed(meta):
                # A file of no known format: its columns are matched to our fields first.
                return HttpResponseRedirect(reverse(MAPPING_URL, args=[token]))
            return preview_start(request, token)
    context = _import_context(modeladmin, request, form=form)
    return TemplateResponse(request, IMPORT_TEMPLATE, context)


def preview_start(request, token: str) -> HttpResponseRedirect:
    """Start the upload's check as a job and go to the preview's own page."""
    job_start(actor=request.user, kind=IMPORT_PREVIEW, params={"token": token}, dedupe_key=token)
    # Redirect, so the preview is a page of its own: its tabs, Back and reload all work.
    return HttpResponseRedirect(reverse(PREVIEW_URL, args=[token]))


def import_preview_view(modeladmin, request, token: str):
    """The check's progress, then what the import will do (or why the file was refused)."""
    _require_import(modeladmin, request)
    storage, meta = _storage(request, token)
    if _latest_job(IMPORT_CONFIRM, token) is not None:
        return HttpResponseRedirect(reverse(RESULT_URL, args=[token]))
    job = _latest_job(IMPORT_PREVIEW, token)
    if job is None:
        raise Http404(IMPORT_EXPIRED)
    if request.method == "POST" and "cancel" in request.POST:
        return _cancel(modeladmin, request, job, reverse(PREVIEW_URL, args=[token]))
    if job.state == JobState.FAILED:
        # The file could not be read: the upload form again, with the reason on top.
        context = _import_context(
            modeladmin, request, form=CustomerImportForm(), file_error=job.error_message
        )
        return TemplateResponse(request, IMPORT_TEMPLATE, context)
    if job.state != JobState.DONE:
        return _render_progress(modeladmin, request, job, meta, _("Checking %(name)s"))
    summary = job.result
    context = _import_context(
        modeladmin,
        request,
        title=_("Check the import of %(name)s") % {"name": meta["name"]},
        token=token,
        meta=meta,
        summary=summary,
        **_page(request, storage.report_path("preview"), summary),
    )
    return TemplateResponse(request, IMPORT_PREVIEW_TEMPLATE, context)


def _render_progress(modeladmin, request, job: Job, meta: dict, title):
    context = _import_context(
        modeladmin,
        request,
        title=title % {"name": meta["name"]},
        job=job,
        can_cancel=not job.is_finished and job.owner_id == request.user.pk,
    )
    return TemplateResponse(request, IMPORT_PROGRESS_TEMPLATE, context)


def _cancel(modeladmin, request, job: Job, back: str):
    try:
        job_cancel(actor=request.user, job=job)
    except ValidationError as error:
        modeladmin.message_user(request, " ".join(error.messages), messages.ERROR)
    return HttpResponseRedirect(back)


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
        islice(reports_read(report_path, outcome), (page - 1) * PAGE_SIZE, page * PAGE_SIZE)
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
    """Start the import of a checked upload, once: a second click shows the same job."""
    _require_import(modeladmin, request)
    if request.method != "POST":
        return HttpResponseRedirect(reverse(PREVIEW_URL, args=[token]))
    _storage(request, token)
    result_url = reverse(RESULT_URL, args=[token])
    confirm = _latest_job(IMPORT_CONFIRM, token)
    if "cancel" in request.POST:
        if confirm is None:
            raise Http404(IMPORT_EXPIRED)
        return _cancel(modeladmin, request, confirm, result_url)
    preview = _latest_job(IMPORT_PREVIEW, token)
    if preview is None or preview.state != JobState.DONE:
        return HttpResponseRedirect(reverse(PREVIEW_URL, args=[token]))
    if confirm is None:
        # Two clicks at once both get here: the dedupe key (a unique index) gives them one job,
        # and the job takes the upload with an atomic rename, so it is imported once.
        job_start(
            actor=request.user, kind=IMPORT_CONFIRM, params={"token": token}, dedupe_key=token
        )
    return HttpResponseRedirect(result_url)


def import_result_view(modeladmin, request, token: str):
    """The import's progress, then its result: totals, every record, what was cancelled."""
    _require_import(modeladmin, request)
    storage, meta = _storage(request, token)
    job = _latest_job(IMPORT_CONFIRM, token)
    if job is None:
        raise Http404(IMPORT_EXPIRED)
    if job.state in (JobState.QUEUED, JobState.RUNNING, JobState.FAILED) or not job.result:
        return _render_progress(modeladmin, request, job, meta, _("Import of %(name)s"))
    summary = job.result
    context = _import_context(
        modeladmin,
        request,
        title=_("Import of %(name)s") % {"name": meta["name"]},
        token=token,
        meta=meta,
        summary=summary,
        headline=_headline(meta, summary),
        **_page(request, storage.report_path("result"), summary),
    )
    return TemplateResponse(request, IMPORT_RESULT_TEMPLATE, context)


def _headline(meta: dict, summary: dict) -> str:
    totals = SimpleNamespace(
        created=summary[CREATED],
        updated=summary[UPDATED],
        unchanged=summary[UNCHANGED],
        skipped=summary[SKIPPED],
        errors=range(summary[ERROR]),
    )
    if summary.get("cancelled"):
        if not summary["committed"]:
            return gettext("The import was cancelled: nothing was imported.")
        count = totals.created + totals.updated + totals.unchanged
        return ngettext(
            "The import was cancelled after %(count)s record was imported: %(totals)s "
            "The rest of the file was not imported.",
            "The import was cancelled after %(count)s records were imported: %(totals)s "
            "The rest of the file was not imported.",
            count,
        ) % {"count": count, "totals": describe(totals)}
    if summary["committed"]:
        return gettext("Imported %(name)s: %(totals)s") % {
            "name": meta["name"],
            "totals": describe(totals),
        }
    return ngettext(
        "Nothing was imported: %(count)s record had errors.",
        "Nothing was imported: %(count)s records had errors.",
        totals.errors.stop,
    ) % {"count": totals.errors.stop}


def import_rejected_view(modeladmin, request, token: str):
    """The rejected records (errors and skipped) with their reasons, as CSV."""
    _require_import(modeladmin, request)
    storage, meta = _storage(request, token)
    confirm = _latest_job(IMPORT_CONFIRM, token)
    job = confirm if confirm is not None and confirm.result else _latest_job(IMPORT_PREVIEW, token)
    if job is None or not job.result:
        raise Http404(IMPORT_EXPIRED)
    header = job.result["header"]
    report_path = storage.report_path("result" if job is confirm else "preview")

    def lines():
        # The staff open this in a spreadsheet: neutralise formulas, the file's header included.
        writer = csv.writer(_Echo(), lineterminator="\r\n")
        titles = [gettext("Record"), gettext("Reason"), *header]
        yield "\ufeff" + writer.writerow([cell_escape(str(title)) for title in titles])
        for report in reports_read(report_path):
            if report["outcome"] in (ERROR, SKIPPED):
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
    """The export form; a small export streams, a big one runs as a job with a download link."""
    if not modeladmin.has_export_permission(request):
        raise PermissionDenied
    if "download" in request.GET:
        return _export_download(request, request.GET["download"])
    if "job" in request.GET:
        return _render_export_job(modeladmin, request, request.GET["job"])
    if request.method == "POST" and "scope" in request.POST:
        form = CustomerExportForm(request.POST)
        if form.is_valid():
            return _export_start(modeladmin, request, form)
        ids = [part for part in form.data.get("ids", "").split(",") if part]
        return _render_export(modeladmin, request, form, selected=len(ids))
    filters = request.GET.urlencode()
    form = CustomerExportForm(
        initial={"scope": "filtered" if filters else "all", "filters": filters}
    )
    return _render_export(modeladmin, request, form, selected=0)


def _render_export(modeladmin, request, form, selected: int, status: int = 200):
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": _("Export customers"),
        "form": form,
        "selected": selected,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, EXPORT_TEMPLATE, context, status=status)


def _export_start(modeladmin, request, form):
    data = form.cleaned_data
    try:
        queryset = _export_queryset(modeladmin, request, data)
        count = queryset.count()
    except (IncorrectLookupParameters, ValidationError, FieldError, ValueError):
        # A hand-made or stale link (?group__id__exact=abc): say so instead of a server error.
        form.add_error(None, ValidationError(BAD_FILTER, code="bad_filter"))
        return _render_export(modeladmin, request, form, selected=0, status=400)
    if count <= settings.BACKOFFICE_EXPORT_JOB_THRESHOLD:
        return _export_response(queryset, data, request.user)
    exports_remove_expired()
    keys = ("scope", "columns", "delimiter", "file_format", "filters", "ids")
    params = {key: data[key] for key in keys}
    job = job_start(actor=request.user, kind=EXPORT, params=params, total=count)
    return HttpResponseRedirect(f"{reverse(EXPORT_URL)}?job={job.pk}")


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


def _export_record(data: dict) -> dict:
    """What the export's audit record says it covered: everything, the filtered list, or ids."""
    return export_selection(
        scope=data["scope"], filters=data.get("filters") or "", ids=data.get("ids") or ()
    )


def _export_response(queryset, data, actor):
    audit = {"actor": actor, "selection": _export_record(data)}
    if data["file_format"] == XLSX:
        # The workbook is written to a temporary file (a zip needs its end to start), then
        # sent; FileResponse closes it, so no context manager here.
        out = tempfile.TemporaryFile()  # noqa: SIM115
        xlsx_write(customers_export_rows(queryset=queryset, columns=data["columns"], **audit), out)
        out.seek(0)
        return FileResponse(
            out, as_attachment=True, filename=XLSX_NAME, content_type=XLSX_CONTENT_TYPE
        )
    lines = customers_export_lines(
        queryset=queryset, columns=data["columns"], delimiter=data["delimiter"], **audit
    )
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{EXPORT_NAME}"'
    return response


def _export_file(job: Job) -> tuple[Path, str, str]:
    """Where the job's file is, its download name and content type (old jobs are CSV)."""
    if job.params.get("file_format") == XLSX:
        return export_folder(job.pk) / XLSX_NAME, XLSX_NAME, XLSX_CONTENT_TYPE
    return export_path(job.pk), EXPORT_NAME, "text/csv"


def _visible_export_job(request, pk: str) -> Job:
    """The export job `pk` if this user may see it (theirs, or every job with the permission)."""
    if not pk.isdigit():
        raise Http404
    job = Job.objects.visible_to(request.user).filter(kind=EXPORT, pk=int(pk)).first()
    if job is None:
        raise Http404
    return job


def _render_export_job(modeladmin, request, pk: str):
    job = _visible_export_job(request, pk)
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": _("Export customers"),
        "job": job,
        "file_ready": job.state == JobState.DONE and _export_file(job)[0].exists(),
        "download_url": f"{reverse(EXPORT_URL)}?download={job.pk}",
        "retention_hours": settings.BACKOFFICE_EXPORT_RETENTION_HOURS,
        "jobs_url": reverse("admin:jobs_job_changelist"),
    }
    return TemplateResponse(request, EXPORT_JOB_TEMPLATE, context)


def _export_download(request, pk: str):
    job = _visible_export_job(request, pk)
    path, name, content_type = _export_file(job)
    if job.state != JobState.DONE or not path.exists():
        raise Http404(EXPORT_EXPIRED)
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=name, content_type=content_type
    )


def export_job(job, progress) -> dict:
    """Write the export the owner asked for to private storage, reporting every chunk of rows.

    The filtered list is rebuilt from the list's own filters, as the owner would see it now.
    """
    modeladmin = admin.site.get_model_admin(Customer)
    request = RequestFactory().get(reverse("admin:customers_customer_changelist"))
    request.user = job.owner
    queryset = _export_queryset(modeladmin, request, job.params)
    job.result_url = f"{reverse(EXPORT_URL)}?job={job.pk}"
    folder = export_folder(job.pk)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = _export_file(job)[0]
    columns, delimiter = job.params["columns"], job.params["delimiter"]
    audit = {"actor": job.owner, "selection": _export_record(job.params)}
    try:
        if job.params.get("file_format") == XLSX:
            rows = _Counting(
                customers_export_rows(queryset=queryset, columns=columns, **audit), progress
            )
            xlsx_write(rows, str(path))
        else:
            rows = _Counting(
                customers_export_lines(
                    queryset=queryset, columns=columns, delimiter=delimiter, **audit
                ),
                progress,
            )
            with path.open("w", encoding="utf-8", newline="") as out:
                out.writelines(rows)
    except JobCancelled:
        shutil.rmtree(folder, ignore_errors=True)  # half a file is no export
        raise
    progress(rows.rows, total=rows.rows, message=_exported(rows.rows))
    return {"rows": rows.rows, "bytes": path.stat().st_size}


class _Counting:
    """Pass the export's rows through, reporting progress every chunk of customers."""

    def __init__(self, rows, progress):
        self._rows = rows
        self._progress = progress
        self.rows = -1  # the header is no customer

    def __iter__(self):
        for row in self._rows:
            yield row
            self.rows += 1
            if self.rows and self.rows % CHUNK_SIZE == 0:
                self._progress(self.rows, message=_exported(self.rows))


def _exported(count: int) -> str:
    return ngettext("%(count)s customer written", "%(count)s customers written", count) % {
        "count": count
    }


def _change_display(name: str, value) -> str:
    """One changed field as the history reads it: its label, old -> new, or one sentence."""
    if isinstance(value, list) and len(value) == 2 and name not in SENTENCE_KEYS:
        return CHANGE_PAIR % {
            "field": field_label(name),
            "old": display_value(value[0], name),
            "new": display_value(value[1], name),
        }
    # Tags and notes added read as the customer's history writes them.
    return " ".join(DESCRIBERS[EventKind.UPDATED]({name: value}))


class _Echo:
    def write(self, value: str) -> str:
        return value
