"""Start, cancel and reap jobs: the only writes to the Job row outside the runner."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from backoffice.jobs.models import Job, JobState
from backoffice.jobs.registry import get_job_kind

NOT_OWNER = gettext_lazy("Only the person who started this job can cancel it.")
ALREADY_FINISHED = gettext_lazy("This job has already finished.")
WORKER_LOST = gettext_lazy(
    "The worker running this job stopped answering (it was stopped or ran out of memory). "
    "Nothing after its last progress report was done; start the job again."
)


def job_start(
    *, actor, kind: str, params: dict, total: int | None = None, dedupe_key: str | None = None
) -> Job:
    """Create a queued job and enqueue its run once the transaction commits.

    With a `dedupe_key`, a second start of the same kind while one is queued or running returns
    that job instead (a double click): a partial unique index decides, so concurrent starts agree.
    """
    get_job_kind(kind)  # fail in the request, not in the worker, on a typo
    with transaction.atomic():
        try:
            with transaction.atomic():
                job = Job.objects.create(
                    kind=kind,
                    owner=actor,
                    params=params,
                    total=total,
                    dedupe_key=dedupe_key or "",
                    language=translation.get_language() or settings.LANGUAGE_CODE,
                )
        except IntegrityError:
            if not dedupe_key:
                raise
            existing = Job.objects.unfinished().filter(kind=kind, dedupe_key=dedupe_key).first()
            if existing is None:  # it finished between our insert and this read
                return job_start(
                    actor=actor, kind=kind, params=params, total=total, dedupe_key=dedupe_key
                )
            return existing
        transaction.on_commit(partial(_enqueue, job.pk))
    return job


def _enqueue(job_pk: int) -> None:
    from backoffice.jobs.tasks import run_job

    result = run_job.enqueue(job_pk)
    # The immediate backend has already run the job (and written its row) by now.
    Job.objects.filter(pk=job_pk, task_id="").update(task_id=str(result.id))


def job_cancel(*, actor, job: Job) -> Job:
    """Cancel a queued job at once; ask a running one to stop at its next batch."""
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.owner_id != actor.pk:
            raise ValidationError(NOT_OWNER, code="not_owner")
        if locked.is_finished:
            raise ValidationError(ALREADY_FINISHED, code="finished")
        locked.cancel_requested = True
        fields = ["cancel_requested"]
        if locked.state == JobState.QUEUED:
            locked.state = JobState.CANCELLED
            locked.finished_at = timezone.now()
            fields += ["state", "finished_at"]
        locked.save(update_fields=fields)
    return locked


def jobs_reap_stale(*, now=None) -> int:
    """Mark failed every running job whose heartbeat is older than the timeout; return how many.

    Run at worker start, periodically by each worker, and when the jobs pages are read, so a killed
    worker's job never stays "running". One UPDATE per language of the reaped jobs (usually none).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.BACKOFFICE_JOB_HEARTBEAT_TIMEOUT)
    stale = Job.objects.stale(cutoff)
    reaped = 0
    for language in stale.order_by().values_list("language", flat=True).distinct():
        with translation.override(language or settings.LANGUAGE_CODE):
            message = str(WORKER_LOST)
        reaped += (
            Job.objects.stale(cutoff)
            .filter(language=language)
            .update(state=JobState.FAILED, finished_at=now, error_message=message)
        )
    return reaped
