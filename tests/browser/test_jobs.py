"""The Jobs page: a real worker runs the staff's jobs; the page follows them and cancels one."""

from __future__ import annotations

import pytest

import tests.jobs.kinds  # noqa: F401 - registers the test job kind in the live server's process
from backoffice.jobs.models import Job
from backoffice.jobs.services import job_start
from tests.browser.pages import click_and_wait, messages
from tests.jobs.kinds import COUNT
from tests.jobs.worker import running_worker

# Room for the worker to start and a job to finish on a busy CI machine.
WORKER_TIMEOUT_MS = 60_000


def job_row(page, job: Job):
    return page.locator("#result_list tbody tr").filter(has_text=f"#{job.pk}")


@pytest.fixture
def jobs(demo_user):
    """A short job that will finish, and a long one to cancel, both queued by the staff user."""
    short = job_start(actor=demo_user, kind=COUNT, params={"n": 10, "delay": 0.1}, total=10)
    long = job_start(actor=demo_user, kind=COUNT, params={"n": 3000, "delay": 0.1}, total=3000)
    return short, long


def test_jobs_page_follows_a_job_to_done_and_cancels_another(demo, admin_url, jobs, tmp_path):
    short, long = jobs
    demo.goto(admin_url("/admin/"))
    click_and_wait(demo.locator("#content-main").get_by_role("link", name="Jobs", exact=True))
    assert demo.get_by_role("heading", name="Select job to view").is_visible()
    assert "Queued" in job_row(demo, short).inner_text().title()

    with running_worker(tmp_path):
        link = job_row(demo, short).get_by_role("link", name=f"Background jobs #{short.pk}")
        click_and_wait(link)
        # The page polls its progress and reloads when the job has finished.
        progress = demo.locator(f"#job-progress-{short.pk}")
        progress.locator(".job-progress-state", has_text="Done").wait_for(timeout=WORKER_TIMEOUT_MS)
        assert progress.locator(".job-progress-count").inner_text() == "10 / 10"
        assert progress.locator("progress").get_attribute("value") == "100"
        assert not demo.get_by_role("button", name="Cancel this job").count()

        demo.goto(admin_url(f"/admin/jobs/job/{long.pk}/change/"))
        demo.locator(f"#job-progress-{long.pk} .job-progress-state", has_text="Running").wait_for(
            timeout=WORKER_TIMEOUT_MS
        )
        click_and_wait(demo.get_by_role("button", name="Cancel this job"))
        assert f"Cancel requested for Background jobs #{long.pk}." in messages(demo)
        demo.locator(f"#job-progress-{long.pk} .job-progress-state", has_text="Cancelled").wait_for(
            timeout=WORKER_TIMEOUT_MS
        )

    demo.goto(admin_url("/admin/jobs/job/"))
    assert "Done" in job_row(demo, short).inner_text().title()
    assert "Cancelled" in job_row(demo, long).inner_text().title()
    assert not demo.locator("#result_list").get_by_role("button", name="Cancel").count()
