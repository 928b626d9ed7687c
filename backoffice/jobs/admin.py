"""The Jobs page: read-only, your own jobs (every job with `jobs.view_all_jobs`), newest first."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backoffice.jobs.models import Job, JobState
from backoffice.jobs.services import job_cancel, jobs_reap_stale


def progress_payload(job: Job) -> dict:
    """Return what the progress endpoint and the progress include show of `job`."""
    return {
        "id": job.pk,
        "state": job.state,
        "state_label": str(job.get_state_display()),
        "finished": job.is_finished,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "message": job.error_message if job.state == JobState.FAILED else job.message,
        "result_url": job.result_url,
    }


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "owner",
        "state",
        "progress_bar",
        "created_at",
        "finished_at",
        "result_link",
    ]
    list_filter = ["state"]
    list_select_related = ["owner"]
    actions = None
    change_form_template = "admin/jobs/job/change_form.html"
    fields = [
        "kind",
        "owner",
        "state",
        "done",
        "total",
        "message",
        "result",
        "result_url",
        "error_message",
        "cancel_requested",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
    ]
    readonly_fields = fields

    # Every staff member sees the page (their own jobs); nobody edits a job by hand.
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and (
            obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return Job.objects.visible_to(request.user).select_related("owner")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/progress.json", view(self.progress_view), name="jobs_job_progress"),
            path("<int:pk>/cancel/", view(self.cancel_view), name="jobs_job_cancel"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        jobs_reap_stale()
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        jobs_reap_stale()
        job = self.get_object(request, object_id)
        if job is None:
            # Someone else's job, or none: the same answer, so ids reveal nothing.
            raise Http404(_("No such job."))
        context = {
            **(extra_context or {}),
            "job": job,
            "can_cancel": self._can_cancel(request, job),
        }
        return super().change_view(request, object_id, form_url, context)

    def progress_view(self, request, pk: int):
        jobs_reap_stale()
        job = get_object_or_404(self.get_queryset(request), pk=pk)
        return JsonResponse(progress_payload(job))

    def cancel_view(self, request, pk: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        job = get_object_or_404(self.get_queryset(request), pk=pk)
        try:
            job_cancel(actor=request.user, job=job)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
        else:
            self.message_user(request, _("Cancel requested for %(job)s.") % {"job": job})
        if request.POST.get("next") == "change":
            return HttpResponseRedirect(reverse("admin:jobs_job_change", args=[job.pk]))
        return HttpResponseRedirect(reverse("admin:jobs_job_changelist"))

    def _can_cancel(self, request, job: Job) -> bool:
        return not job.is_finished and job.owner_id == request.user.pk

    @admin.display(description=gettext_lazy("progress"))
    def progress_bar(self, job: Job):
        percent = job.percent
        if percent is None:
            return format_html("{}", job.done)
        return format_html(
            '<progress value="{}" max="100">{} %</progress> {} / {}',
            percent,
            percent,
            job.done,
            job.total if job.total is not None else job.done,
        )

    @admin.display(description=gettext_lazy("result"))
    def result_link(self, job: Job):
        if not job.result_url:
            return ""
        return format_html('<a href="{}">{}</a>', job.result_url, _("Open the result"))

    def get_list_display(self, request):
        # The cancel column depends on who is looking; a closure keeps the shared admin stateless.
        @admin.display(description=gettext_lazy("cancel"))
        def cancel_button(job: Job):
            if not self._can_cancel(request, job):
                return ""
            # A button of the change list's own form (it carries the CSRF token): forms cannot nest.
            return format_html(
                '<button type="submit" class="button" formaction="{}" formmethod="post">'
                "{}</button>",
                reverse("admin:jobs_job_cancel", args=[job.pk]),
                _("Cancel"),
            )

        return [*self.list_display, cancel_button]
