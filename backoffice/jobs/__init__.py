"""Background jobs: long work runs in a worker process, with progress, cancel and a Jobs page.

A generic engine over django-tasks and its database queue (`django_tasks_db`): it knows no
business app; each app registers its job kinds. `manage.py db_worker` runs the jobs.

Register a kind (in `<your app>/job_kinds.py`, imported at start-up by `JobsConfig.ready`)::

    from django.utils.translation import gettext_lazy as _
    from backoffice.jobs.registry import JobCancelled, register_job_kind

    def send_mailing(job, progress):
        sent = 0
        for batch in batches(job.params["ids"]):
            sent += send(batch)          # each batch commits on its own
            try:
                progress(sent, total=len(job.params["ids"]), message=_("Sending"))
            except JobCancelled:
                return {"sent": sent}    # what was committed so far
        job.result_url = reverse(...)    # optional link shown on the Jobs page
        return {"sent": sent}            # the result summary (JSON)

    register_job_kind("customers.mailing", send_mailing, _("Mailing"))

Start and cancel (services, keyword-only, the acting user required)::

    from backoffice.jobs.services import job_start, job_cancel
    job = job_start(actor=request.user, kind="customers.mailing", params={"ids": ids},
                    total=len(ids), dedupe_key=f"mailing:{draft.pk}")
    job_cancel(actor=request.user, job=job)

- `job_start` creates the `Job` row (state queued) and enqueues `backoffice.jobs.tasks.run_job`
  when the transaction commits. With a `dedupe_key`, starting a kind again while a job with that key
  is queued or running returns that job (a partial unique index decides, even under concurrency).
- The handler `handler(job, progress)` reads `job.params` and returns a summary dict. It calls
  `progress(done, total=None, message=None)` between batches, outside its own transactions: at most
  once a second that writes the progress and the heartbeat and checks the cancel flag, raising
  `JobCancelled` once cancel was requested. Let it propagate (or `raise JobCancelled(summary=...)`)
  or catch it and return the partial summary: the job ends "cancelled" with that summary.
- A `ValidationError` from the handler fails the job with its message; any other exception fails it
  with a plain sentence for the user while the traceback goes to the log. The worker speaks the
  language of the request that started the job.
- A job whose heartbeat is older than `BACKOFFICE_JOB_HEARTBEAT_TIMEOUT` seconds (default 60) is
  marked failed by `jobs_reap_stale()`: at worker start, periodically in every worker, and when the
  Jobs page or a progress endpoint is read. A handler must report progress within that time.

Pages: the admin "Jobs" list (`admin:jobs_job_changelist`, own jobs; every job with the permission
`jobs.view_all_jobs`), a job's page (`admin:jobs_job_change`), its JSON progress
(`admin:jobs_job_progress`: state, state_label, finished, done, total, percent, message,
result_url) and cancel (`admin:jobs_job_cancel`, POST, the owner only). Other pages show a job with
`{% include "jobs/progress.html" with job=job %}` (optional `redirect_url=`): a progress bar that
polls the endpoint every second and reloads (or goes to the result) when the job has finished.
"""
