"""The admin export above the threshold: a job writes the file, a link downloads it, it expires."""

from __future__ import annotations

import csv
import io
import os
import time

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client, TestCase
from django.urls import reverse

from backoffice.jobs.models import Job
from backoffice.jobs.services import job_cancel
from customers.admin import import_export
from customers.admin.import_export import EXPORT
from customers.uploads import export_path, exports_remove_expired

pytestmark = pytest.mark.django_db

EXPORT_URL = reverse("admin:customers_customer_export")


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path, monkeypatch):
    settings.PRIVATE_UPLOAD_ROOT = tmp_path / "private"
    settings.BACKOFFICE_EXPORT_JOB_THRESHOLD = 2
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    monkeypatch.setattr("backoffice.jobs.progress.PROGRESS_INTERVAL", 0)


@pytest.fixture
def exporter(client, make_staff):
    client.force_login(make_staff("view_customer", "export_customer"))
    return client


@pytest.fixture
def three(make_customer):
    return [make_customer(email=f"e{i}@example.com", first_name=f"E{i}") for i in range(3)]


def export(client, **fields):
    data = {"scope": "all", "columns": ["Email", "First Name"], "delimiter": ",", **fields}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(EXPORT_URL, data)


def rows_of(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_a_small_export_still_streams_at_once(exporter, three, settings):
    settings.BACKOFFICE_EXPORT_JOB_THRESHOLD = 3
    response = export(exporter)
    assert response.streaming and not Job.objects.exists()
    body = b"".join(response.streaming_content)
    assert [row[0] for row in rows_of(body)] == ["Email"] + [c.email for c in three]


def test_a_big_export_runs_as_a_job_and_its_owner_downloads_the_file(exporter, three):
    response = export(exporter)
    job = Job.objects.get(kind=EXPORT)
    assert response["Location"] == f"{EXPORT_URL}?job={job.pk}"
    assert (job.state, job.done, job.total) == ("done", 3, 3)
    assert job.result["rows"] == 3 and job.result_url == response["Location"]
    assert job.message == "3 customers written"
    page = exporter.get(response["Location"]).content.decode()
    link = f"{EXPORT_URL}?download={job.pk}"
    assert link in page and "The file is deleted 24 hours after the export." in page
    download = exporter.get(link)
    assert download["Content-Disposition"] == 'attachment; filename="customers.csv"'
    assert rows_of(b"".join(download.streaming_content)) == [
        ["Email", "First Name"],
        *[[c.email, c.first_name] for c in three],
    ]
    # Kept in private storage, never under a public URL.
    assert export_path(job.pk).is_relative_to(import_export.settings.PRIVATE_UPLOAD_ROOT)


def test_the_filtered_list_export_job_exports_what_the_list_shows(exporter, make_customer):
    kept = [make_customer(email=f"k{i}@example.com", first_name="Keep") for i in range(3)]
    make_customer(email="other@example.com", first_name="Other")
    export(exporter, scope="filtered", filters="q=Keep")
    job = Job.objects.get(kind=EXPORT)
    assert (job.params["filters"], job.total, job.result["rows"]) == ("q=Keep", 3, 3)
    body = b"".join(exporter.get(f"{EXPORT_URL}?download={job.pk}").streaming_content)
    assert [row[0] for row in rows_of(body)[1:]] == [c.email for c in kept]


def test_only_the_owner_or_a_view_all_jobs_holder_with_export_permission_downloads(
    exporter, three, make_staff
):
    export(exporter)
    job = Job.objects.get(kind=EXPORT)
    link = f"{EXPORT_URL}?download={job.pk}"
    colleague = Client()
    colleague.force_login(make_staff("view_customer", "export_customer"))
    assert colleague.get(link).status_code == 404
    assert colleague.get(f"{EXPORT_URL}?job={job.pk}").status_code == 404
    supervisor = make_staff("view_customer", "export_customer")
    supervisor.user_permissions.add(Permission.objects.get(codename="view_all_jobs"))
    colleague.force_login(supervisor)
    assert colleague.get(link).status_code == 200
    no_export = make_staff("view_customer")
    no_export.user_permissions.add(Permission.objects.get(codename="view_all_jobs"))
    colleague.force_login(no_export)
    assert colleague.get(link).status_code == 403
    assert exporter.get(f"{EXPORT_URL}?download=abc").status_code == 404


def test_the_file_is_deleted_after_the_retention_time(exporter, three, settings):
    export(exporter)
    job = Job.objects.get(kind=EXPORT)
    path = export_path(job.pk)
    assert exports_remove_expired() == []  # fresh
    old = time.time() - 25 * 3600
    os.utime(path.parent, (old, old))
    out = io.StringIO()
    call_command("remove_expired_files", stdout=out)
    assert not path.exists()
    assert f"exports: {job.pk}" in out.getvalue()
    assert exporter.get(f"{EXPORT_URL}?download={job.pk}").status_code == 404
    page = exporter.get(f"{EXPORT_URL}?job={job.pk}").content.decode()
    assert "This export file is not available" in page


def test_a_cancelled_export_leaves_no_half_file(exporter, make_customer, monkeypatch):
    for i in range(5):
        make_customer(email=f"c{i}@example.com")
    monkeypatch.setattr(import_export, "CHUNK_SIZE", 2)
    real_lines = import_export.customers_export_lines

    def cancel_while_writing(**kwargs):
        for number, line in enumerate(real_lines(**kwargs)):
            if number == 2:
                job = Job.objects.get(kind=EXPORT)
                job_cancel(actor=job.owner, job=job)
            yield line

    monkeypatch.setattr(import_export, "customers_export_lines", cancel_while_writing)
    export(exporter)
    job = Job.objects.get(kind=EXPORT)
    assert job.state == "cancelled"
    assert not export_path(job.pk).parent.exists()
    assert f"{EXPORT_URL}?download={job.pk}" not in exporter.get(job.result_url).content.decode()


def test_a_malformed_filter_is_a_400_above_the_threshold_too(exporter, three):
    response = export(exporter, scope="filtered", filters="created_at__gte=yesterday")
    assert response.status_code == 400
    assert str(import_export.BAD_FILTER) in response.content.decode()
    assert not Job.objects.exists()
