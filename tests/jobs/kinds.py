"""A real job kind for the engine's tests: count to N, reporting progress, optionally slowly."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_tasks import task

from backoffice.jobs.registry import JobCancelled, register_job_kind
from backoffice.jobs.services import job_cancel

COUNT = "tests.count"


def count_to(job, progress) -> dict:
    """Count to params["n"]; params may ask to sleep, fail, cancel itself or link a result."""
    n = job.params["n"]
    counted = 0
    for _step in range(n):
        time.sleep(job.params.get("delay", 0))
        if job.params.get("fail_at") == counted:
            raise RuntimeError("division by zero in row 17 of /srv/secret/path.csv")
        if job.params.get("invalid_at") == counted:
            raise ValidationError("The file has no header row.", code="no_header")
        counted += 1
        if job.params.get("cancel_at") == counted:
            # What a click on "Cancel" does from another request while the job runs.
            job_cancel(actor=job.owner, job=job)
        try:
            progress(counted, total=n, message=f"Counted {counted}")
        except JobCancelled:
            if job.params.get("propagate_cancel"):
                raise JobCancelled(summary={"counted": counted, "how": "raised"}) from None
            return {"counted": counted}
    if job.params.get("result_url"):
        job.result_url = job.params["result_url"]
    return {"counted": counted}


register_job_kind(COUNT, count_to, _("Background jobs"))


@task()
def write_marker(path: str) -> None:
    """Prove that a worker runs tasks: write a file."""
    Path(path).write_text("ran", encoding="utf-8")
