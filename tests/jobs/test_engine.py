"""The job engine through its services, run by the immediate backend."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django_tasks_db.models import DBTaskResult

from backoffice.jobs import progress as progress_module
from backoffice.jobs import services
from backoffice.jobs.models import Job, JobState
from backoffice.jobs.progress import Progress
from backoffice.jobs.registry import JobCancelled, get_job_kind, kind_label
from backoffice.jobs.services import job_cancel, job_start, jobs_reap_stale
from backoffice.jobs.tasks import UNEXPECTED_ERROR
from tests.jobs.kinds import COUNT


def start(actor, run, **params):
    with run(execute=True):
        job = job_start(actor=actor, kind=COUNT, params=params, total=params["n"])
    job.refresh_from_db()
    return job


@pytest.mark.usefixtures("immediate_tasks")
def test_a_job_runs_to_done_with_its_progress_and_summary(
    staff, django_capture_on_commit_callbacks
):
    clerk = staff()
    job = start(clerk, django_capture_on_commit_callbacks, n=5)
    assert (job.state, job.done, job.total, job.result) == ("done", 5, 5, {"counted": 5})
    assert job.message == "Counted 5"
    assert job.owner == clerk and job.error_message == ""
    assert job.created_at <= job.started_at <= job.finished_at
    assert job.heartbeat_at >= job.started_at
    assert job.percent == 100


def test_the_task_is_enqueued_only_when_the_transaction_commits(
    staff, django_capture_on_commit_callbacks
):
    clerk = staff()
    with django_capture_on_commit_callbacks() as callbacks:
        job = job_start(actor=clerk, kind=COUNT, params={"n": 2})
        assert DBTaskResult.objects.count() == 0
    assert job.state == "queued" and len(callbacks) == 1
    callbacks[0]()
    queued = DBTaskResult.objects.get()
    assert queued.task_path == "backoffice.jobs.tasks.run_job"
    assert queued.args_kwargs == {"args": [job.pk], "kwargs": {}}
    job.refresh_from_db()
    assert job.task_id == str(queued.id)
    assert job.state == "queued"


def test_an_unregistered_kind_is_refused_before_anything_is_written(staff):
    with pytest.raises(LookupError):
        job_start(actor=staff(), kind="tests.nope", params={})
    assert not Job.objects.exists()


@pytest.mark.usefixtures("immediate_tasks")
def test_a_crashing_handler_fails_the_job_with_a_sentence_and_logs_the_traceback(
    staff, django_capture_on_commit_callbacks, caplog
):
    with caplog.at_level(logging.ERROR, logger="backoffice.jobs.tasks"):
        job = start(staff(), django_capture_on_commit_callbacks, n=5, fail_at=2)
    assert job.state == "failed"
    assert job.error_message == str(UNEXPECTED_ERROR)
    assert "secret" not in job.error_message
    assert job.done == 2 and job.finished_at is not None
    [record] = [r for r in caplog.records if r.name == "backoffice.jobs.tasks"]
    assert record.exc_info[0] is RuntimeError
    assert f"Job {job.pk} (tests.count) failed" in record.getMessage()


@pytest.mark.usefixtures("immediate_tasks")
def test_a_validation_error_fails_the_job_with_its_own_message(
    staff, django_capture_on_commit_callbacks
):
    job = start(staff(), django_capture_on_commit_callbacks, n=5, invalid_at=0)
    assert (job.state, job.error_message, job.done) == ("failed", "The file has no header row.", 0)


@pytest.mark.usefixtures("immediate_tasks")
def test_the_worker_speaks_the_language_of_the_request_that_started_the_job(
    staff, django_capture_on_commit_callbacks
):
    with translation.override("fr"):
        job = start(staff(), django_capture_on_commit_callbacks, n=3, fail_at=1)
    assert job.language == "fr"
    assert job.error_message.startswith("La tâche s’est arrêtée")


@pytest.mark.usefixtures("immediate_tasks")
@pytest.mark.parametrize(
    ("propagate", "summary"),
    [(False, {"counted": 3}), (True, {"counted": 3, "how": "raised"})],
)
def test_a_cancelled_running_job_stops_at_the_next_batch_and_reports_what_was_done(
    staff, django_capture_on_commit_callbacks, propagate, summary
):
    job = start(
        staff(), django_capture_on_commit_callbacks, n=10, cancel_at=3, propagate_cancel=propagate
    )
    assert (job.state, job.done, job.total, job.result) == ("cancelled", 3, 10, summary)
    assert job.cancel_requested is True and job.finished_at is not None


@pytest.mark.usefixtures("immediate_tasks")
def test_a_queued_job_cancelled_before_a_worker_takes_it_never_runs(
    staff, django_capture_on_commit_callbacks
):
    clerk = staff()
    with django_capture_on_commit_callbacks() as callbacks:
        job = job_start(actor=clerk, kind=COUNT, params={"n": 4})
    cancelled = job_cancel(actor=clerk, job=job)
    assert (cancelled.state, cancelled.cancel_requested) == ("cancelled", True)
    for callback in callbacks:  # the worker gets to it afterwards
        callback()
    job.refresh_from_db()
    assert (job.state, job.done, job.started_at, job.result) == ("cancelled", 0, None, {})


def test_only_the_owner_cancels_and_only_an_unfinished_job(staff, make_job):
    owner, other = staff(), staff(view_all=True)
    running = make_job(owner, state="running")
    with pytest.raises(ValidationError) as refused:
        job_cancel(actor=other, job=running)
    assert refused.value.code == "not_owner"
    assert refused.value.messages == [str(services.NOT_OWNER)]
    running.refresh_from_db()
    assert running.cancel_requested is False
    done = make_job(owner, state="done")
    with pytest.raises(ValidationError) as finished:
        job_cancel(actor=owner, job=done)
    assert finished.value.code == "finished"
    assert job_cancel(actor=owner, job=running).cancel_requested is True


def test_a_second_start_with_the_same_key_returns_the_unfinished_job(
    staff, django_capture_on_commit_callbacks
):
    clerk = staff()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = job_start(actor=clerk, kind=COUNT, params={"n": 1}, dedupe_key="upload:7")
        again = job_start(actor=staff(), kind=COUNT, params={"n": 2}, dedupe_key="upload:7")
        other = job_start(actor=clerk, kind=COUNT, params={"n": 1}, dedupe_key="upload:8")
        plain = [job_start(actor=clerk, kind=COUNT, params={"n": 1}) for _ in range(2)]
    assert again.pk == first.pk and again.params == {"n": 1}
    assert len({first.pk, other.pk, *(job.pk for job in plain)}) == 4
    assert len(callbacks) == 4 and DBTaskResult.objects.count() == 4
    Job.objects.filter(pk=first.pk).update(state=JobState.DONE)
    later = job_start(actor=clerk, kind=COUNT, params={"n": 1}, dedupe_key="upload:7")
    assert later.pk != first.pk and later.state == "queued"


def test_the_reaper_fails_running_jobs_without_a_recent_heartbeat(staff, make_job, settings):
    settings.BACKOFFICE_JOB_HEARTBEAT_TIMEOUT = 60
    clerk = staff()
    now = timezone.now()
    dead = make_job(clerk, state="running", heartbeat_at=now - timedelta(seconds=61), language="en")
    dead_fr = make_job(clerk, state="running", heartbeat_at=now - timedelta(hours=2), language="fr")
    alive = make_job(clerk, state="running", heartbeat_at=now - timedelta(seconds=30))
    queued = make_job(clerk, state="queued")
    assert jobs_reap_stale(now=now) == 2
    for job in (dead, dead_fr, alive, queued):
        job.refresh_from_db()
    assert (dead.state, dead.finished_at) == ("failed", now)
    assert dead.error_message == str(services.WORKER_LOST)
    assert dead.error_message.startswith("The worker running this job stopped answering")
    assert dead_fr.state == "failed"
    assert dead_fr.error_message.startswith("Le processus qui exécutait cette tâche")
    assert (alive.state, queued.state) == ("running", "queued")
    assert jobs_reap_stale(now=now) == 0


def test_kinds_are_registered_with_translatable_labels():
    assert get_job_kind(COUNT).handler.__name__ == "count_to"
    with translation.override("fr"):
        assert kind_label(COUNT) == "Tâches en arrière-plan"
    assert kind_label("tests.unknown") == "tests.unknown"


def test_progress_writes_the_heartbeat_at_most_once_a_second(staff, make_job, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    job = make_job(staff(), state="running")
    progress = Progress(job)
    with CaptureQueriesContext(connection) as quick:
        for done in range(1, 501):
            progress(done, total=500)
    assert len(quick) == 0 and progress.done == 500
    clock[0] += 1.0
    with CaptureQueriesContext(connection) as after_a_second:
        progress(501, message="Writing")
    assert len(after_a_second) == 2  # the progress write and the cancel check
    job.refresh_from_db()
    assert (job.done, job.total, job.message) == (501, 500, "Writing")
    assert job.heartbeat_at is not None
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    progress(502)  # within the second: not seen yet
    clock[0] += 1.5
    with pytest.raises(JobCancelled):
        progress(503)
    assert progress.cancelled is True
