"""The admin import as shop staff use it: upload, preview, confirm, result, rejected rows."""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from backoffice.jobs.models import Job
from customers.admin.import_export import IMPORT_RETENTION, imports_remove_expired
from customers.jobs_import import IMPORT_CONFIRM
from customers.models import Customer, CustomerEvent, EventKind, Tag
from customers.services import importing

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
LIST_URL = reverse("admin:customers_customer_changelist")
IMPORT_URL = reverse("admin:customers_customer_import")
SAMPLE_URL = reverse("admin:customers_customer_sample")


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    settings.PRIVATE_UPLOAD_ROOT = tmp_path / "private"
    return settings.PRIVATE_UPLOAD_ROOT


@pytest.fixture(autouse=True)
def _jobs_run_at_once(settings):
    """The preview and confirm jobs run in the request's process when it commits."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def run_jobs(post, *args, **kwargs):
    """POST as the browser does; the jobs it starts run; follow the redirect like a browser."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = post(*args, **kwargs)
    while response.status_code == 302:
        response = post.__self__.get(response["Location"])
    return response


@pytest.fixture
def importer(client, make_staff):
    client.force_login(make_staff("view_customer", "import_customer"))
    return client


def upload(client, name: str, data: bytes | None = None, **fields):
    data = data if data is not None else (FIXTURES / name).read_bytes()
    return run_jobs(
        client.post,
        IMPORT_URL,
        {"import_file": SimpleUploadedFile(name, data, "text/csv"), **fields},
    )


def confirm(client, token: str):
    return run_jobs(client.post, confirm_url(token))


def confirm_url(token: str) -> str:
    return reverse("admin:customers_customer_import_confirm", args=[token])


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_list_offers_import_and_export_only_with_the_permissions(client, make_staff):
    client.force_login(make_staff("view_customer", "import_customer", "export_customer"))
    html = client.get(LIST_URL).content.decode()
    assert IMPORT_URL in html and reverse("admin:customers_customer_export") in html
    client.force_login(make_staff("view_customer"))
    html = client.get(LIST_URL).content.decode()
    assert IMPORT_URL not in html and reverse("admin:customers_customer_export") not in html


def test_staff_without_import_permission_can_neither_see_nor_post(client, make_staff, tmp_path):
    client.force_login(make_staff("view_customer", "change_customer"))
    assert client.get(IMPORT_URL).status_code == 403
    assert upload(client, "tabs.csv").status_code == 403
    assert client.get(SAMPLE_URL).status_code == 403
    assert not Customer.objects.exists()


def test_import_page_explains_the_formats_and_offers_the_template(importer):
    page = text(importer.get(IMPORT_URL))
    for name in ("Shopify", "Ecwid", "ShipStation", "CustomerImportSample.csv"):
        assert name in page
    response = importer.get(SAMPLE_URL)
    assert response["Content-Disposition"] == 'attachment; filename="shopify_customer_template.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == list(importing.SHOPIFY_COLUMNS) and len(rows) == 3
    # The template itself imports cleanly.
    preview = upload(importer, "shopify_customer_template.csv", response.content)
    assert preview.context["summary"]["created"] == 2 and preview.context["summary"]["error"] == 0


def test_preview_shows_every_outcome_and_writes_nothing(importer, make_customer):
    make_customer(email="sam@example.com", first_name="Samuel")
    response = upload(importer, "shopify_rules.csv")
    assert response.status_code == 200
    summary = response.context["summary"]
    assert (summary["created"], summary["updated"], summary["error"]) == (3, 2, 4)
    assert summary["repeated"] == 1
    page = text(response)
    # Errors are listed first, with their record number and reason.
    assert "bad email@example.com" in page and "12345 is not a valid phone number" in page
    assert [row["record"] for row in response.context["rows"]] == [4, 5, 6, 8]
    updates = text(
        importer.get(
            reverse("admin:customers_customer_import_preview", args=[response.context["token"]])
            + "?outcome=updated"
        )
    )
    assert "Samuel → Sam" in updates
    assert "Lefèvre → Lefèvre-Martin" in updates
    assert "key repeats an earlier record" in updates
    assert list(Customer.objects.values_list("email", flat=True)) == ["sam@example.com"]
    assert not Tag.objects.exists() and not CustomerEvent.objects.exists()


def test_confirm_imports_and_the_result_page_and_events_say_what_happened(importer, _private_root):
    token = upload(importer, "shopify_rules.csv").context["token"]
    assert (_private_root / "imports" / token / "upload.csv").exists()
    response = confirm(importer, token)
    assert response.status_code == 200
    assert Customer.objects.count() == 4
    page = text(response)
    assert (
        "Imported shopify_rules.csv: 4 created, 1 updated, 0 unchanged, 0 skipped, "
        "4 records rejected." in page
    )
    assert response.context["summary"]["error"] == 4
    assert CustomerEvent.objects.filter(kind=EventKind.IMPORTED).count() == 4
    assert CustomerEvent.objects.first().actor.has_perm("customers.import_customer")
    # The upload is removed once imported; confirming twice shows the same import again.
    assert not (_private_root / "imports" / token / "upload.csv").exists()
    again = confirm(importer, token)
    assert again.context["summary"] == response.context["summary"]
    assert Job.objects.filter(kind=IMPORT_CONFIRM).count() == 1
    assert Customer.objects.count() == 4


def test_rejected_records_download_with_reasons_and_no_password(importer):
    token = upload(importer, "ecwid.csv").context["token"]
    confirm(importer, token)
    response = importer.get(reverse("admin:customers_customer_import_rejected", args=[token]))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["Record", "Reason", "name", "email"]
    assert rows[1] == ["3", str(importing.NO_KEY), "No Email", ""]
    assert "pw" not in body and "s3cret" not in body


def test_all_or_nothing_with_errors_offers_no_confirm_and_a_forged_one_writes_nothing(importer):
    response = upload(importer, "shopify_rules.csv", all_or_nothing="on")
    assert "confirming would import nothing" in text(response)
    assert confirm_url(response.context["token"]) not in text(response)
    result = confirm(importer, response.context["token"])
    assert "Nothing was imported: 4 records had errors." in text(result)
    assert not Customer.objects.exists()


def test_too_large_upload_is_refused_with_a_clear_message(importer, settings, _private_root):
    settings.BACKOFFICE_IMPORT_MAX_BYTES = 100
    response = upload(importer, "shopify_rules.csv")
    assert response.status_code == 200
    assert "the largest file accepted is 0.0 MB" in text(response)
    assert not Customer.objects.exists()
    assert not list((_private_root).glob("imports/*"))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", "The submitted file is empty."),  # Django's FileField says it first
        ("header_only.csv", importing.FILE_NO_ROWS),
        ("duplicate_header.csv", str(importing.FILE_DUPLICATE_COLUMN) % {"column": "Email"}),
    ],
)
def test_unreadable_upload_is_refused_on_the_form(importer, name, message, _private_root):
    response = upload(importer, name)
    assert response.status_code == 200
    assert str(message) in response.content.decode()
    assert response.context["form"] is not None  # the upload form again
    assert not list((_private_root).glob("imports/*/upload.csv"))


def test_preview_is_paginated(importer):
    rows = "".join(f"N{i},n{i}@example.com\r\n" for i in range(250))
    response = upload(importer, "many.csv", ("First Name,Email\r\n" + rows).encode())
    assert response.context["summary"]["created"] == 250
    assert len(response.context["rows"]) == 100 and response.context["pages"] == 3
    url = reverse("admin:customers_customer_import_preview", args=[response.context["token"]])
    last = importer.get(url + "?outcome=created&page=3")
    assert [r["record"] for r in last.context["rows"]][-1] == 250


def test_another_user_cannot_open_someone_elses_import(importer, client, make_staff):
    token = upload(importer, "tabs.csv").context["token"]
    other = client.__class__()
    other.force_login(make_staff("view_customer", "import_customer"))
    url = reverse("admin:customers_customer_import_preview", args=[token])
    assert other.get(url).status_code == 404
    assert other.post(confirm_url(token)).status_code == 404
    assert not Customer.objects.exists()


def test_rejected_records_file_neutralises_formulas(importer):
    data = b'First Name,Email\r\n=HYPERLINK("x"),not-an-email\r\n'
    token = upload(importer, "f.csv", data).context["token"]
    response = importer.get(reverse("admin:customers_customer_import_rejected", args=[token]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1][2] == '\'=HYPERLINK("x")'


def _import_folder(root: Path, token: str, age_hours: float) -> Path:
    folder = root / "imports" / token
    folder.mkdir(parents=True)
    (folder / "upload.csv").write_bytes(b"Email\r\nann@example.com\r\n")
    stamp = time.time() - age_hours * 3600
    os.utime(folder, (stamp, stamp))
    return folder


def test_uploads_and_reports_older_than_the_retention_are_removed(_private_root):
    assert datetime.timedelta(hours=24) == IMPORT_RETENTION
    old = _import_folder(_private_root, "a" * 24, age_hours=24.5)
    recent = _import_folder(_private_root, "b" * 24, age_hours=23.5)
    assert imports_remove_expired() == ["a" * 24]
    assert not old.exists()
    assert sorted(p.name for p in recent.iterdir()) == ["upload.csv"]
    # A day later the recent one is old too.
    assert imports_remove_expired(now=time.time() + 3600) == ["b" * 24]
    assert list((_private_root / "imports").iterdir()) == []


def test_nothing_to_remove_before_the_first_upload(_private_root):
    assert imports_remove_expired() == []


def test_each_new_upload_removes_the_expired_imports(importer, _private_root):
    old = _import_folder(_private_root, "c" * 24, age_hours=25)
    response = upload(importer, "shopify_export.csv")
    assert response.status_code == 200
    assert not old.exists()
    folders = list((_private_root / "imports").iterdir())
    assert [f.name for f in folders] == [response.context["token"]]
