"""The admin import as background jobs: the preview's own page, progress, cancel, double clicks,
a clerk saving during a preview, and the safety cases through the job path."""

from __future__ import annotations

import datetime
import multiprocessing
import os
import re
import signal
import threading
import time
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

import customers.jobs_import as jobs_import
import customers.services.importing as importing
from backoffice.jobs.models import Job
from backoffice.jobs.services import job_cancel
from backoffice.jobs.tasks import run_job
from customers.jobs_import import IMPORT_CONFIRM, IMPORT_PREVIEW, UPLOAD_GONE
from customers.models import Customer
from customers.services.editing import customer_save
from customers.services.importing import plan, write
from tests.customers.importing.helpers import shopify
from tests.jobs.worker import running_worker

IMPORT_URL = reverse("admin:customers_customer_import")
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
QUEUED = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    settings.PRIVATE_UPLOAD_ROOT = tmp_path / "private"
    return settings.PRIVATE_UPLOAD_ROOT


@pytest.fixture
def importer(client, make_staff):
    client.force_login(make_staff("view_customer", "change_customer", "import_customer"))
    return client


@pytest.fixture
def immediate(settings, monkeypatch):
    """Jobs run in the request's process when it commits, reporting progress on every call."""
    settings.TASKS = IMMEDIATE
    monkeypatch.setattr("backoffice.jobs.progress.PROGRESS_INTERVAL", 0)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def post_running_jobs(client, url, data=None):
    """POST; the jobs the request starts run when it commits (in a test's transaction too)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, data or {})


def upload(client, data: str, name: str = "customers.csv", **fields):
    file = SimpleUploadedFile(name, data.encode(), "text/csv")
    return post_running_jobs(client, IMPORT_URL, {"import_file": file, **fields})


def token_of(response) -> str:
    return response["Location"].rstrip("/").split("/")[-1]


def preview_url(token: str) -> str:
    return reverse("admin:customers_customer_import_preview", args=[token])


def confirm_url(token: str) -> str:
    return reverse("admin:customers_customer_import_confirm", args=[token])


def result_url(token: str) -> str:
    return reverse("admin:customers_customer_import_result", args=[token])


def job_of(kind: str) -> Job:
    return Job.objects.filter(kind=kind).latest("pk")


def rows(count: int, prefix: str = "n") -> list[str]:
    return [f"N{i},,{prefix}{i}@example.com,,,,,,,,,,,,,," for i in range(count)]


def wait_for(condition, *, timeout: float = 60, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def in_thread(target, *args) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def body():
        try:
            outcome["result"] = target(*args)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=body)
    thread.start()
    return thread, outcome


# -- the preview's own page (issue 14: the tabs threw the preview away)


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate")
def test_the_upload_redirects_to_a_preview_page_whose_tabs_and_reload_work(importer, make_customer):
    make_customer(email="n1@example.com", first_name="Old")
    response = upload(importer, shopify(*rows(3), "Bad,,not-an-email,,,,,,,,,,,,,,"))
    # Post/redirect/get: Back and reload land on a page, not on a re-posted form.
    assert response.status_code == 302
    token = token_of(response)
    assert response["Location"] == preview_url(token)
    preview = importer.get(response["Location"])
    page = text(preview)
    assert "Errors (1)" in page and "Updates (1)" in page and "New (2)" in page
    # The tabs are relative links: on the preview's own URL they open the tab of this preview.
    assert 'href="?outcome=updated"' in page
    updates = importer.get(preview_url(token) + "?outcome=updated")
    assert updates.status_code == 200
    assert [row["record"] for row in updates.context["rows"]] == [2]
    assert "Old → N1" in text(updates)
    new = importer.get(preview_url(token) + "?outcome=created")
    assert [row["record"] for row in new.context["rows"]] == [1, 3]
    assert Customer.objects.count() == 1  # the preview wrote nothing


@pytest.mark.django_db
def test_while_the_check_runs_the_page_shows_its_progress_and_the_jobs_page_links_back(
    importer, settings
):
    settings.TASKS = QUEUED  # no worker in this test: the job waits in the queue
    response = upload(importer, shopify(*rows(3)))
    token = token_of(response)
    waiting = importer.get(preview_url(token))
    page = waiting.content.decode()
    job = job_of(IMPORT_PREVIEW)
    assert job.state == "queued" and job.dedupe_key == token and job.params == {"token": token}
    assert reverse("admin:jobs_job_progress", args=[job.pk]) in page
    assert '<meta http-equiv="refresh" content="2">' in page  # without JavaScript
    assert 'name="cancel"' in page and reverse("admin:jobs_job_changelist") in page
    run_job.call(job.pk)
    job.refresh_from_db()
    assert (job.state, job.result_url) == ("done", preview_url(token))
    assert job.result["created"] == 3
    assert importer.get(preview_url(token)).context["summary"]["created"] == 3
    jobs_page = importer.get(reverse("admin:jobs_job_changelist")).content.decode()
    assert preview_url(token) in jobs_page


@pytest.mark.django_db
def test_a_cancelled_check_says_so_and_cannot_be_confirmed(importer, settings):
    settings.TASKS = QUEUED
    token = token_of(upload(importer, shopify(*rows(3))))
    assert importer.post(preview_url(token), {"cancel": "1"}).status_code == 302
    assert job_of(IMPORT_PREVIEW).state == "cancelled"
    assert "This job was cancelled." in text(importer.get(preview_url(token)))
    assert importer.post(confirm_url(token))["Location"] == preview_url(token)
    assert not Job.objects.filter(kind=IMPORT_CONFIRM).exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate")
def test_cancel_stops_the_import_at_the_next_batch_and_reports_what_was_imported(
    importer, monkeypatch
):
    monkeypatch.setattr(jobs_import, "BATCH_SIZE", 20)
    token = token_of(upload(importer, shopify(*rows(70))))
    real_apply = importing.batch_apply
    applied = []

    def cancel_after_the_first_batch(batch, run, report):
        real_apply(batch, run, report)
        applied.append(batch)
        if len(applied) == 1:
            # What a click on Cancel does from another request while the job runs.
            job_cancel(actor=run.actor, job=job_of(IMPORT_CONFIRM))

    monkeypatch.setattr(importing, "batch_apply", cancel_after_the_first_batch)
    response = post_running_jobs(importer, confirm_url(token))
    assert response["Location"] == result_url(token)
    job = job_of(IMPORT_CONFIRM)
    assert job.state == "cancelled" and job.result["cancelled"] is True
    assert Customer.objects.count() == 20 and len(applied) == 1
    page = text(importer.get(result_url(token)))
    assert (
        "The import was cancelled after 20 records were imported: 20 created, 0 updated, "
        "0 unchanged, 0 skipped, 0 records rejected. The rest of the file was not imported." in page
    )
    assert job.message == "20 records imported"


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate")
def test_a_second_run_of_the_confirm_job_finds_the_upload_taken(importer):
    token = token_of(upload(importer, shopify(*rows(3))))
    post_running_jobs(importer, confirm_url(token))
    job = job_of(IMPORT_CONFIRM)
    assert job.state == "done" and Customer.objects.count() == 3
    # Even a job started around the page (a replayed task) cannot import the upload again.
    with pytest.raises(Exception) as exc:
        jobs_import.import_confirm_job(job, progress=lambda *a, **k: None)
    assert exc.value.messages == [str(UPLOAD_GONE)]
    assert Customer.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate")
def test_another_user_sees_neither_the_preview_nor_the_result(importer, make_staff):
    token = token_of(upload(importer, shopify(*rows(2))))
    other = Client()
    other.force_login(make_staff("view_customer", "import_customer"))
    for url in (preview_url(token), result_url(token)):
        assert other.get(url).status_code == 404
    assert other.post(confirm_url(token)).status_code == 404
    assert not Job.objects.filter(kind=IMPORT_CONFIRM).exists()


# -- a dead pool worker, through the job path


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate")
def test_a_killed_pool_worker_fails_the_import_job_with_what_was_committed(
    importer, monkeypatch, settings
):
    settings.BACKOFFICE_IMPORT_WORKERS = 2
    monkeypatch.setattr(jobs_import, "BATCH_SIZE", 20)
    token = token_of(upload(importer, shopify(*rows(2000, "k"))))
    real_moved = jobs_import._Tracker.moved
    killed = []

    def kill_one_worker(self, position):
        real_moved(self, position)
        alive = [p for p in multiprocessing.active_children() if p.is_alive()]
        if not killed and alive:
            os.kill(alive[0].pid, signal.SIGKILL)
            killed.append(alive[0].pid)

    monkeypatch.setattr(jobs_import._Tracker, "moved", kill_one_worker)
    started = time.monotonic()
    post_running_jobs(importer, confirm_url(token))
    assert killed and time.monotonic() - started < 30
    job = job_of(IMPORT_CONFIRM)
    assert job.state == "failed"
    committed = Customer.objects.count()
    assert 0 < committed < 2000 and committed % 20 == 0
    assert job.error_message.startswith("The import stopped at record ")
    assert job.error_message.endswith(f"{committed} records had been imported before it stopped.")
    page = importer.get(result_url(token))
    assert page.status_code == 200 and job.error_message in text(page)


# -- a clerk saves while a preview runs (SQLite and PostgreSQL)


@pytest.mark.django_db(transaction=True)
def test_a_clerk_saves_a_customer_of_the_file_at_once_while_its_preview_runs(
    importer, make_customer, make_staff, monkeypatch, settings
):
    ann = make_customer(email="n5@example.com", first_name="Ann")
    monkeypatch.setattr(jobs_import, "BATCH_SIZE", 20)
    real_plan = importing.batch_plan

    def slow_batch(batch, run):
        time.sleep(0.05)  # inside the batch's transaction: the worst moment for the clerk
        return real_plan(batch, run)

    monkeypatch.setattr(importing, "batch_plan", slow_batch)
    monkeypatch.setattr("backoffice.jobs.progress.PROGRESS_INTERVAL", 0.1)
    settings.TASKS = QUEUED
    token = token_of(upload(importer, shopify(*rows(1000))))
    job = job_of(IMPORT_PREVIEW)
    thread, outcome = in_thread(run_job.call, job.pk)
    try:
        wait_for(lambda: Job.objects.get(pk=job.pk).done > 0, what="the preview's progress")
        ann.first_name = "Annie"
        started = time.monotonic()
        customer_save(actor=make_staff("change_customer"), customer=ann, expected_version=1)
        took = time.monotonic() - started
        still_running = Job.objects.get(pk=job.pk).state == "running"
    finally:
        thread.join(120)
    assert "error" not in outcome, outcome.get("error")
    assert still_running, "the preview ended before the clerk saved: nothing was proven"
    assert took < 1.0, f"the clerk waited {took:.1f} s"
    assert Customer.objects.get(pk=ann.pk).first_name == "Annie"
    assert Job.objects.get(pk=job.pk).state == "done"
    assert importer.get(preview_url(token)).context["summary"]["created"] == 999


# -- PostgreSQL: concurrency


def _postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (concurrent requests, row locks)")


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_double_clicked_confirm_makes_one_job_and_one_import(importer, settings, monkeypatch):
    _postgres()
    settings.TASKS = IMMEDIATE
    phones = [f"P{i},,,,,,,,,,,,(617) 555-{i:04d},,,," for i in range(300)]  # phone-keyed
    token = token_of(upload(importer, shopify(*phones)))
    assert job_of(IMPORT_PREVIEW).result["created"] == 300
    settings.TASKS = QUEUED
    import customers.admin.import_export as pages

    real_start = pages.job_start
    barrier = threading.Barrier(2)

    def both_clicks_start_together(**kwargs):
        barrier.wait(10)
        return real_start(**kwargs)

    monkeypatch.setattr(pages, "job_start", both_clicks_start_together)
    clicks = []
    for _click in range(2):
        client = Client()
        client.cookies = importer.cookies
        clicks.append(in_thread(client.post, confirm_url(token)))
    for thread, _outcome in clicks:
        thread.join(30)
    responses = [outcome["result"] for _thread, outcome in clicks]
    assert [r["Location"] for r in responses] == [result_url(token)] * 2
    job = Job.objects.get(kind=IMPORT_CONFIRM)  # exactly one
    waiting = text(importer.get(result_url(token)))
    assert reverse("admin:jobs_job_progress", args=[job.pk]) in waiting
    run_job.call(job.pk)
    assert Job.objects.get(pk=job.pk).state == "done"
    assert Customer.objects.count() == 300
    assert Customer.objects.values("phone").distinct().count() == 300


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_customer_created_meanwhile_is_a_conflict_on_the_result_page_not_a_500(
    importer, settings, monkeypatch
):
    _postgres()
    settings.TASKS = IMMEDIATE
    token = token_of(upload(importer, shopify("Ann,,ann@example.com,,,,,,,,,,,,,,", *rows(2, "b"))))
    real_insert = write.customers_insert

    def clerk_creates_ann_first(new, run):
        # A clerk saves ann@ after the job looked her up and before its COPY.
        thread, outcome = in_thread(lambda: Customer.objects.create(email="ann@example.com"))
        thread.join(10)
        assert "error" not in outcome
        real_insert(new, run)

    monkeypatch.setattr(write, "customers_insert", clerk_creates_ann_first)
    response = importer.post(confirm_url(token), follow=True)
    assert response.status_code == 200
    assert job_of(IMPORT_CONFIRM).state == "done"
    conflict = importing.sentence(str(importing.CONFLICT))
    errors = importer.get(result_url(token) + "?outcome=error")
    assert [row["message"] for row in errors.context["rows"]] == [conflict] * 3
    assert list(Customer.objects.values_list("email", flat=True)) == ["ann@example.com"]


@pytest.mark.postgres_only
@pytest.mark.django_db
@pytest.mark.usefixtures("immediate")
@pytest.mark.parametrize("all_or_nothing", [False, True], ids=["batch-by-batch", "all-or-nothing"])
def test_the_preview_and_confirm_jobs_lock_in_primary_key_order(
    importer, make_customer, monkeypatch, all_or_nothing
):
    _postgres()
    monkeypatch.setattr(jobs_import, "BATCH_SIZE", 2)
    stored = [make_customer(email=f"c{i}@example.com") for i in range(6)]
    # The file names the customers newest first: file order is the reverse of key order.
    data = shopify(*[f"New{c.pk},,{c.email},,,,,,,,,,,,,," for c in reversed(stored)])
    locked: list[list[int]] = []
    real_lock = plan.selection_lock

    def recording_lock(ids):
        got = real_lock(ids)
        locked.append(got)
        return got

    monkeypatch.setattr(plan, "selection_lock", recording_lock)
    fields = {"all_or_nothing": "on"} if all_or_nothing else {}
    token = token_of(upload(importer, data, **fields))
    ids = sorted(c.pk for c in stored)
    # The preview holds each batch's locks for that batch only, each in key order.
    assert locked == [ids[4:6], ids[2:4], ids[0:2]]
    locked.clear()
    post_running_jobs(importer, confirm_url(token))
    assert job_of(IMPORT_CONFIRM).result["updated"] == 6
    # One transaction locks everything up front in key order; batches lock their own.
    assert locked == ([ids] if all_or_nothing else [ids[4:6], ids[2:4], ids[0:2]])


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_an_import_in_one_transaction_keeps_its_heartbeat_from_a_second_connection(
    make_staff, monkeypatch
):
    _postgres()
    monkeypatch.setattr(jobs_import, "PROGRESS_INTERVAL", 0.05)
    before = timezone.now() - datetime.timedelta(minutes=5)
    job = Job.objects.create(
        kind=IMPORT_CONFIRM, owner=make_staff(), state="running", heartbeat_at=before
    )
    tracker = SimpleNamespace(done=40, message="800 records imported")
    with jobs_import._heartbeat(job, tracker), transaction.atomic():
        # The import's long transaction: the job row is never written from in here.
        Customer.objects.create(email="inside@example.com")
        wait_for(lambda: Job.objects.get(pk=job.pk).heartbeat_at > before, what="a fresh heartbeat")
    beat = Job.objects.get(pk=job.pk)
    assert (beat.done, beat.total, beat.message) == (40, 100, "800 records imported")
    assert not [t for t in threading.enumerate() if t.name == f"job-{job.pk}-heartbeat"]


# -- a real worker process


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("all_or_nothing", [False, True], ids=["batch-by-batch", "all-or-nothing"])
def test_upload_preview_confirm_and_result_through_a_real_worker(
    importer, tmp_path, settings, all_or_nothing
):
    root = settings.PRIVATE_UPLOAD_ROOT
    fields = {"all_or_nothing": "on"} if all_or_nothing else {}
    data = shopify(*rows(30), *([] if all_or_nothing else ["Bad,,not-an-email,,,,,,,,,,,,,,"]))
    with running_worker(tmp_path, BACKOFFICE_PRIVATE_ROOT=str(root)) as worker:
        token = token_of(upload(importer, data, **fields))
        waiting = importer.get(preview_url(token))
        assert waiting.status_code == 200
        job = wait_for(
            lambda: Job.objects.filter(kind=IMPORT_PREVIEW, state="done").first(),
            what="the preview job",
        )
        assert worker.poll() is None
        preview = importer.get(preview_url(token))
        summary = preview.context["summary"]
        assert (summary["created"], summary["error"]) == (30, 0 if all_or_nothing else 1)
        assert not Customer.objects.exists()
        progress = importer.get(reverse("admin:jobs_job_progress", args=[job.pk])).json()
        assert progress["finished"] and progress["result_url"] == preview_url(token)
        assert importer.post(confirm_url(token))["Location"] == result_url(token)
        wait_for(
            lambda: Job.objects.filter(kind=IMPORT_CONFIRM, state="done").exists(),
            what="the import job",
        )
    result = importer.get(result_url(token))
    rejected = "0 records rejected." if all_or_nothing else "1 record rejected."
    assert (
        f"Imported customers.csv: 30 created, 0 updated, 0 unchanged, 0 skipped, {rejected}"
        in text(result)
    )
    assert Customer.objects.count() == 30
    assert not (root / "imports" / token / "upload.csv").exists()
