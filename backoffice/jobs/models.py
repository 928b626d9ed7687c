"""The Job row: one per background run, the truth the pages and the progress endpoint read."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from backoffice.jobs.registry import kind_label


class JobState(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


UNFINISHED_STATES = (JobState.QUEUED, JobState.RUNNING)


class JobQuerySet(models.QuerySet):
    def visible_to(self, user) -> JobQuerySet:
        """Return the jobs `user` may see: their own, or every job with `jobs.view_all_jobs`."""
        if not (user.is_active and user.is_staff):
            return self.none()
        if user.has_perm("jobs.view_all_jobs"):
            return self
        return self.filter(owner=user)

    def unfinished(self) -> JobQuerySet:
        return self.filter(state__in=UNFINISHED_STATES)

    def stale(self, cutoff: datetime) -> JobQuerySet:
        """Return running jobs with no heartbeat since `cutoff`: their worker was killed or died."""
        return self.filter(state=JobState.RUNNING, heartbeat_at__lt=cutoff)


class Job(models.Model):
    kind = models.CharField(_("kind"), max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.PROTECT,
        related_name="jobs",
    )
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=JobState.choices, default=JobState.QUEUED
    )
    done = models.PositiveBigIntegerField(_("done"), default=0)
    total = models.PositiveBigIntegerField(_("total"), null=True, blank=True)
    message = models.CharField(_("message"), max_length=300, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    result_url = models.CharField(_("result link"), max_length=500, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    # The starter's language: the worker speaks it, so messages read as the page that started it.
    language = models.CharField(_("language"), max_length=10, blank=True)
    dedupe_key = models.CharField(_("deduplication key"), max_length=200, blank=True)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    task_id = models.CharField(_("task id"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        ordering = ["-created_at", "-pk"]
        default_permissions = ()
        permissions = [("view_all_jobs", _("Can view every user's jobs"))]
        constraints = [
            # A double-clicked "start" finds the job already queued or running: the database,
            # not a read-then-write in Python, guarantees there is only one.
            models.UniqueConstraint(
                fields=["kind", "dedupe_key"],
                condition=Q(state__in=["queued", "running"]) & ~Q(dedupe_key=""),
                name="jobs_one_unfinished_job_per_key",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "heartbeat_at"], name="jobs_state_heartbeat_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind_label} #{self.pk}"

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind)

    @property
    def is_finished(self) -> bool:
        return self.state not in UNFINISHED_STATES

    @property
    def percent(self) -> int | None:
        if not self.total:
            return 100 if self.state == JobState.DONE else None
        return min(100, self.done * 100 // self.total)
