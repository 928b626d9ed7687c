"""The Jobs page, a job's page, its JSON progress and its cancel button, as staff see them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice.jobs import services
from backoffice.jobs.models import Job

CHANGELIST = reverse("admin:jobs_job_changelist")


def progress_url(job: Job) -> str:
    return reverse("admin:jobs_job_progress", args=[job.pk])


def change_url(job: Job) -> str:
    return reverse("admin:jobs_job_change", args=[job.pk])


def cancel_url(job: Job) -> str:
    return reverse("admin:jobs_job_cancel", args=[job.pk])


def listed(response) -> list[int]:
    return [job.pk for job in response.context["cl"].result_list]


def test_staff_see_their_own_jobs_newest_first_and_the_permission_shows_all(
    client, staff, make_job
):
    clerk, colleague, manager = staff(), staff(), staff(view_all=True)
    old = make_job(clerk, state="done", done=3, total=3)
    mine = make_job(clerk, state="running", done=1, total=4)
    theirs = make_job(colleague)
    client.force_login(clerk)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert listed(response) == [mine.pk, old.pk]
    html = response.content.decode()
    assert '<progress value="25" max="100">25 %</progress> 1 / 4' in html
    assert html.count(">Cancel</button>") == 1 and cancel_url(mine) in html
    client.force_login(manager)
    assert listed(client.get(CHANGELIST)) == [theirs.pk, mine.pk, old.pk]
    # Seeing a colleague's job is not owning it: no cancel button.
    assert ">Cancel</button>" not in client.get(CHANGELIST).content.decode()


def test_the_jobs_page_is_for_staff_only(client, make_job):
    user = User.objects.create_user("shopper", password="pw")
    job = make_job(user)
    client.force_login(user)
    for url in (CHANGELIST, progress_url(job), change_url(job)):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_progress_endpoint_reports_the_job_and_hides_other_users_jobs(client, staff, make_job):
    clerk, colleague = staff(), staff()
    job = make_job(clerk, state="running", done=30, total=120, message="Reading rows")
    client.force_login(clerk)
    assert client.get(progress_url(job)).json() == {
        "id": job.pk,
        "state": "running",
        "state_label": "running",
        "finished": False,
        "done": 30,
        "total": 120,
        "percent": 25,
        "message": "Reading rows",
        "result_url": "",
    }
    failed = make_job(clerk, state="failed", error_message="The file has no header row.")
    assert client.get(progress_url(failed)).json()["message"] == "The file has no header row."
    # A forged request for someone else's job: the same answer as for a job that does not exist.
    client.force_login(colleague)
    assert client.get(progress_url(job)).status_code == 404
    assert client.get(change_url(job)).status_code == 404
    assert client.get(reverse("admin:jobs_job_progress", args=[99999])).status_code == 404


def test_the_progress_endpoint_speaks_the_browser_language(client, staff, make_job):
    clerk = staff()
    job = make_job(clerk, state="cancelled")
    client.force_login(clerk)
    data = client.get(progress_url(job), HTTP_ACCEPT_LANGUAGE="fr").json()
    assert (data["state_label"], data["finished"], data["percent"]) == ("annulée", True, None)


def test_a_running_job_page_shows_a_progress_bar_that_polls_and_refreshes_without_js(
    client, staff, make_job
):
    clerk = staff()
    job = make_job(clerk, state="running", done=2, total=8, message="Counted 2")
    client.force_login(clerk)
    html = client.get(change_url(job)).content.decode()
    assert f'data-url="{progress_url(job)}"' in html
    assert '<progress class="job-progress-bar" max="100" value="25">25 %</progress>' in html
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in html
    assert "window.setTimeout(poll, 1000)" in html
    assert "Counted 2" in html and "Cancel this job" in html


def test_a_finished_job_page_stops_refreshing_and_links_its_result(client, staff, make_job):
    clerk = staff()
    job = make_job(clerk, state="done", done=8, total=8, result_url="/admin/customers/customer/")
    client.force_login(clerk)
    html = client.get(change_url(job)).content.decode()
    assert "http-equiv" not in html and "poll" not in html
    assert 'href="/admin/customers/customer/">Open the result</a>' in html
    assert "Cancel this job" not in html
    listing = client.get(CHANGELIST).content.decode()
    assert '<a href="/admin/customers/customer/">Open the result</a>' in listing


def test_the_owner_cancels_from_the_list_or_the_job_page(client, staff, make_job):
    clerk = staff()
    running = make_job(clerk, state="running")
    queued = make_job(clerk, state="queued")
    client.force_login(clerk)
    response = client.post(cancel_url(running))
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    response = client.post(cancel_url(queued), {"next": "change"}, follow=True)
    assert response.redirect_chain[-1][0] == change_url(queued)
    assert f"Cancel requested for {queued}." in response.content.decode()
    running.refresh_from_db()
    queued.refresh_from_db()
    assert (running.state, running.cancel_requested) == ("running", True)
    assert (queued.state, queued.cancel_requested) == ("cancelled", True)
    assert client.get(cancel_url(running)).status_code == 405


def test_nobody_cancels_another_users_job(client, staff, make_job):
    clerk, colleague, manager = staff(), staff(), staff(view_all=True)
    job = make_job(clerk, state="running")
    client.force_login(colleague)
    assert client.post(cancel_url(job)).status_code == 404
    client.force_login(manager)
    response = client.post(cancel_url(job), follow=True)
    assert str(services.NOT_OWNER) in response.content.decode()
    job.refresh_from_db()
    assert job.cancel_requested is False


def test_reading_the_jobs_page_or_the_progress_fails_jobs_of_dead_workers(
    client, staff, make_job, settings
):
    settings.BACKOFFICE_JOB_HEARTBEAT_TIMEOUT = 60
    clerk = staff()
    stale = timezone.now() - timedelta(seconds=90)
    listed_job = make_job(clerk, state="running", heartbeat_at=stale)
    polled_job = make_job(clerk, state="running", heartbeat_at=stale)
    client.force_login(clerk)
    Job.objects.filter(pk=polled_job.pk).update(heartbeat_at=timezone.now())
    client.get(CHANGELIST)
    listed_job.refresh_from_db()
    assert listed_job.state == "failed"
    Job.objects.filter(pk=polled_job.pk).update(heartbeat_at=stale)
    data = client.get(progress_url(polled_job)).json()
    assert (data["state"], data["finished"]) == ("failed", True)
    assert data["message"] == str(services.WORKER_LOST)


@pytest.mark.parametrize("rows", [2, 40])
def test_the_jobs_page_costs_the_same_queries_whatever_the_rows(client, staff, make_job, rows):
    clerk = staff()
    for n in range(rows):
        make_job(clerk, state="running" if n % 2 else "done", done=n, total=rows)
    client.force_login(clerk)
    client.get(CHANGELIST)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST)
    assert len(listed(response)) == rows
    # Session (read, and saved for the idle timeout), user, the two-factor device, the reaper's
    # read, permissions, counts, the page of jobs with their owners: the same for 2 rows and 40.
    assert len(queries) == 12, [q["sql"] for q in queries.captured_queries]
