"""The one django-tasks task: run a Job row's handler and record how it ended."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy
from django_tasks import task

from backoffice.jobs.models import Job, JobState
from backoffice.jobs.progress import Progress
from backoffice.jobs.registry import JobCancelled, get_job_kind
from backoffice.jobs.services import jobs_reap_stale

logger = logging.getLogger(__name__)

UNEXPECTED_ERROR = gettext_lazy(
    "The job stopped because of an unexpected error. Nothing after its last progress report "
    "was done; the administrators can read the details in the server log."
)


@task()
def run_job(job_pk: int) -> str:
    """Run job `job_pk` once: queued -> running -> done / failed / cancelled; return the state."""
    jobs_reap_stale()
    job = _claim(job_pk)
    if job is None:
        return "skipped"
    with translation.override(job.language or settings.LANGUAGE_CODE):
        return _run(job)


def _claim(job_pk: int) -> Job | None:
    """Mark the job running, unless it was cancelled while queued or another run took it."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_pk).first()
        if job is None or job.state != JobState.QUEUED:
            return None
        now = timezone.now()
        job.state = JobState.RUNNING
        job.started_at = now
        job.heartbeat_at = now
        job.save(update_fields=["state", "started_at", "heartbeat_at"])
    return job


def _run(job: Job) -> str:
    progress = Progress(job)
    try:
        summary = get_job_kind(job.kind).handler(job, progress)
    except JobCancelled as cancelled:
        return _finish(job, progress, JobState.CANCELLED, summary=cancelled.summary)
    except ValidationError as error:
        return _finish(job, progress, JobState.FAILED, error=" ".join(error.messages))
    except Exception:
        logger.exception("Job %s (%s) failed", job.pk, job.kind)
        return _finish(job, progress, JobState.FAILED, error=str(UNEXPECTED_ERROR))
    state = JobState.CANCELLED if progress.cancelled else JobState.DONE
    return _finish(job, progress, state, summary=summary)


def _finish(
    job: Job, progress: Progress, state: str, *, summary: dict | None = None, error: str = ""
) -> str:
    # The runner's word is final even if the reaper gave up on a slow heartbeat: it knows.
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        state=state,
        done=progress.done,
        total=progress.total,
        message=progress.message,
        result=summary or {},
        result_url=job.result_url,
        error_message=error,
        finished_at=now,
        heartbeat_at=now,
    )
    return str(state)
