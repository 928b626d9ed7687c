"""A mailing above BACKOFFICE_EMAIL_JOB_THRESHOLD is sent by a job: in batches, at a rate, with
what was delivered, skipped and failed; and a worker killed mid-mailing sends nobody twice."""

from __future__ import annotations

import email
import os
import signal
import smtplib
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.urls import reverse
from django.utils import timezone

from backoffice.jobs.models import Job
from backoffice.jobs.services import jobs_reap_stale
from customers.models import CustomerEvent, EventKind, Status
from tests.customers.admin.browser_form import submit
from tests.customers.bulk_helpers import LIST_URL, start
from tests.jobs.worker import running_worker

pytestmark = pytest.mark.django_db

LIST = LIST_URL + "?status=all"
FIRST_NAMES = ["Ann", "Bob", "Cy", "Dee", "Eve"]
MAIL = {"subject": "Hello {first_name}", "body": "Dear {first_name}, our shop opens at 9."}


class RefusingBackend(LocmemBackend):
    """A mail server that refuses one address, as SMTP does (the others go through)."""

    def send_messages(self, messages):
        for message in messages:
            if "cy@example.com" in message.to:
                raise smtplib.SMTPRecipientsRefused({"cy@example.com": (550, b"No such user")})
        return super().send_messages(messages)


class WorkerKilled(BaseException):
    """What kill -9 does to a worker: it stops where it is, nothing of it runs any more."""


class CrashingBackend(LocmemBackend):
    """Delivers three messages, then the worker dies while handing over the fourth."""

    def send_messages(self, messages):
        if len(mail.outbox) == 3:
            raise WorkerKilled()
        return super().send_messages(messages)


@pytest.fixture
def audience(make_customer):
    """Five customers who get the mailing, in this order, then one archived and one unreachable."""
    people = [make_customer(first_name=n, email=f"{n.lower()}@example.com") for n in FIRST_NAMES]
    make_customer(first_name="Old", email="old@example.com", status=Status.ARCHIVED)
    make_customer(first_name="Nomail", email="", phone="+16175550123")
    return people


@pytest.fixture
def clerk(client, make_staff):
    client.force_login(make_staff("view_customer", "email_customer"))
    return client


@pytest.fixture
def mailing_job(settings, monkeypatch):
    """Seven selected customers are a mailing job, sent in batches of two, with no pause."""
    settings.BACKOFFICE_EMAIL_JOB_THRESHOLD = 2
    settings.BACKOFFICE_EMAIL_BATCH = 2
    settings.BACKOFFICE_EMAIL_RATE = 0
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    monkeypatch.setattr("backoffice.jobs.progress.PROGRESS_INTERVAL", 0)


def confirmation(client, audience):
    page = start(client, "send_email", url=LIST, select_across=True, ids=[audience[0].pk])
    assert page.status_code == 200
    assert "It will be sent to 5 customers" in page.content.decode()
    return page


def emailed_names() -> list[str]:
    events = CustomerEvent.objects.filter(kind=EventKind.EMAILED)
    return sorted(events.values_list("customer__first_name", flat=True))


def recipients(outbox) -> list[str]:
    return sorted(message.to[0] for message in outbox)


def test_a_big_mailing_is_sent_by_a_job_and_its_result_says_what_happened(
    clerk, audience, mailing_job, mailoutbox, django_capture_on_commit_callbacks, settings
):
    page = confirmation(clerk, audience)
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(clerk, page, follow=False, **MAIL)
        assert mailoutbox == [], "sent in the request"
    job = Job.objects.get()
    assert response["Location"] == reverse("admin:jobs_job_change", args=[job.pk])
    assert (job.kind, job.state, job.done, job.total) == ("customers.mailing", "done", 7, 7)
    assert recipients(mailoutbox) == [f"{n.lower()}@example.com" for n in sorted(FIRST_NAMES)]
    to_ann = next(m for m in mailoutbox if m.to == ["ann@example.com"])
    sent = email.message_from_bytes(to_ann.message().as_bytes())
    assert (sent["To"], sent["From"], sent["Subject"]) == (
        "ann@example.com",
        settings.DEFAULT_FROM_EMAIL,
        "Hello Ann",
    )
    assert sent.get_payload(decode=True).decode() == "Dear Ann, our shop opens at 9."
    assert job.message == (
        "Email sent to 5 customers. 2 customers skipped (archived: 1; no email address: 1)."
    )
    assert {key: job.result[key] for key in ("sent", "skipped", "failed", "complete")} == {
        "sent": 5,
        "skipped": {"archived": 1, "no_email": 1},
        "failed": {},
        "complete": True,
    }
    assert emailed_names() == sorted(FIRST_NAMES)
    event = CustomerEvent.objects.filter(kind=EventKind.EMAILED).first()
    assert event.data == {"subject": "Hello {first_name}", "marketing": False}
    page = clerk.get(response["Location"])
    assert job.message in page.content.decode()


def test_a_refused_address_fails_alone_counted_with_its_reason_and_has_no_event(
    clerk, audience, mailing_job, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    mail.outbox = []
    page = confirmation(clerk, audience)
    with django_capture_on_commit_callbacks(execute=True):
        submit(clerk, page, follow=False, **MAIL)
    job = Job.objects.get()
    assert job.state == "done"
    assert recipients(mail.outbox) == ["ann@example.com", "bob@example.com", "dee@example.com",
                                       "eve@example.com"]  # fmt: skip
    assert (job.result["sent"], job.result["failed"]) == (4, {"SMTPRecipientsRefused": 1})
    assert job.message == (
        "Email sent to 4 customers. 2 customers skipped (archived: 1; no email address: 1). "
        "1 email could not be delivered (SMTPRecipientsRefused: 1)."
    )
    assert emailed_names() == ["Ann", "Bob", "Dee", "Eve"]


def test_a_worker_killed_mid_mailing_then_the_mailing_confirmed_again_sends_nobody_twice(
    clerk, audience, mailing_job, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.CrashingBackend"
    mail.outbox = []
    page = confirmation(clerk, audience)
    with django_capture_on_commit_callbacks(execute=True):
        submit(clerk, page, follow=False, **MAIL)
    killed = Job.objects.get()
    # Batch 1 (Ann, Bob) confirmed; batch 2 (Cy, Dee) claimed, Cy's message out, then death.
    assert killed.state == "running"
    assert recipients(mail.outbox) == ["ann@example.com", "bob@example.com", "cy@example.com"]
    assert killed.result["sent"] == 2 and len(killed.result["pending"]) == 2
    # The heartbeat stops; the Jobs page (or a worker) marks the job failed.
    Job.objects.filter(pk=killed.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert jobs_reap_stale() == 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        submit(clerk, page, follow=False, **MAIL)  # the clerk starts it again
    resumed = Job.objects.exclude(pk=killed.pk).get()
    assert resumed.state == "done" and resumed.result["resumed_from"] == killed.pk
    # Dee's message may or may not have left: it is not sent again, and not hidden.
    assert recipients(mail.outbox) == [
        "ann@example.com",
        "bob@example.com",
        "cy@example.com",
        "eve@example.com",
    ]
    assert resumed.message == (
        "Email sent to 3 customers. 2 customers skipped (archived: 1; no email address: 1). "
        "2 emails could not be delivered (delivery not confirmed when the worker stopped; "
        "not sent again: 2)."
    )
    assert emailed_names() == ["Ann", "Bob", "Eve"]
    # Once finished, the same mailing confirmed again is a new mailing (sent on purpose).
    with django_capture_on_commit_callbacks(execute=True):
        submit(clerk, page, follow=False, **MAIL)
    assert len(mail.outbox) == 4 + 5


def test_a_double_click_starts_one_mailing(clerk, audience, settings, mailoutbox):
    settings.BACKOFFICE_EMAIL_JOB_THRESHOLD = 2  # the database queue: nothing runs here
    page = confirmation(clerk, audience)
    first = submit(clerk, page, follow=False, **MAIL)
    second = submit(clerk, page, follow=False, **MAIL)
    job = Job.objects.get()
    assert first["Location"] == second["Location"]
    assert (job.state, job.total, job.params["subject"]) == ("queued", 7, "Hello {first_name}")
    assert mailoutbox == []


def test_the_service_checks_the_mailing_in_the_request_before_any_job(
    clerk, audience, mailing_job, mailoutbox
):
    page = confirmation(clerk, audience)
    response = submit(clerk, page, follow=False, subject="Hi {firstname}", body="x")
    assert response.status_code == 200
    assert "Unknown placeholder {firstname}" in response.content.decode()
    assert not Job.objects.exists()


def test_the_job_keeps_to_the_rate(
    clerk, audience, mailing_job, settings, mailoutbox, django_capture_on_commit_callbacks
):
    # One message every 50 ms: the four gaps between five messages take at least 200 ms.
    settings.BACKOFFICE_EMAIL_RATE = 20
    page = confirmation(clerk, audience)
    began = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        submit(clerk, page, follow=False, **MAIL)
    assert time.monotonic() - began >= 0.19
    assert len(mailoutbox) == 5


def test_at_the_threshold_the_email_is_sent_in_the_request_as_before(
    clerk, audience, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.BACKOFFICE_EMAIL_JOB_THRESHOLD = 7
    page = confirmation(clerk, audience)
    with django_capture_on_commit_callbacks(execute=True):
        submit(clerk, page, **MAIL)
    assert not Job.objects.exists()
    assert len(mailoutbox) == 5


def console_recipients(log) -> list[str]:
    return [line[4:] for line in log.read_text().splitlines() if line.startswith("To: ")]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_killed_mid_mailing_and_a_second_one_send_each_message_once(
    clerk, make_customer, settings, tmp_path
):
    """Through real `db_worker` processes and the console backend (what they print is sent)."""
    settings.BACKOFFICE_EMAIL_JOB_THRESHOLD = 2
    people = [make_customer(first_name=f"P{i}", email=f"p{i}@example.com") for i in range(12)]
    page = start(clerk, "send_email", url=LIST, select_across=True, ids=[people[0].pk])
    submit(clerk, page, follow=False, **MAIL)
    job = Job.objects.get()
    slow = {
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "BACKOFFICE_EMAIL_RATE": "4",
        "BACKOFFICE_EMAIL_BATCH": "2",
    }
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    with running_worker(tmp_path / "first", **slow) as worker:
        deadline = time.monotonic() + 60
        while (Job.objects.get(pk=job.pk).result or {}).get("sent", 0) < 2:
            assert time.monotonic() < deadline and worker.poll() is None, "no batch confirmed"
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    assert Job.objects.get(pk=job.pk).state == "running"
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    jobs_reap_stale()
    submit(clerk, page, follow=False, **MAIL)
    resumed = Job.objects.exclude(pk=job.pk).get()
    with running_worker(tmp_path / "second", **slow) as worker:
        deadline = time.monotonic() + 60
        while Job.objects.get(pk=resumed.pk).state != "done":
            assert time.monotonic() < deadline and worker.poll() is None, "not finished"
            time.sleep(0.05)
    resumed.refresh_from_db()
    printed = console_recipients(tmp_path / "first" / "worker.log") + console_recipients(
        tmp_path / "second" / "worker.log"
    )
    assert len(printed) == len(set(printed)), "someone got the mailing twice"
    unconfirmed = resumed.result["failed"].get("not_confirmed", 0)
    assert resumed.result["sent"] + unconfirmed == 12
    assert len(printed) >= resumed.result["sent"]  # plus, perhaps, some unconfirmed ones
    assert len(emailed_names()) == resumed.result["sent"]


class ReapedMeanwhileBackend(LocmemBackend):
    """While the first message goes out, the reaper gives up on the job (a missed heartbeat)."""

    def send_messages(self, messages):
        Job.objects.update(state="failed")
        return super().send_messages(messages)


def test_a_run_whose_job_was_reaped_claims_no_further_batch(
    clerk, audience, mailing_job, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.ReapedMeanwhileBackend"
    mail.outbox = []
    page = confirmation(clerk, audience)
    with django_capture_on_commit_callbacks(execute=True):
        submit(clerk, page, follow=False, **MAIL)
    # Its batch (already claimed) is finished and recorded; then it stops.
    assert recipients(mail.outbox) == ["ann@example.com", "bob@example.com"]
    assert emailed_names() == ["Ann", "Bob"]
    assert Job.objects.get().state == "failed"


def test_cancel_stops_the_mailing_between_batches(
    clerk, audience, mailing_job, mailoutbox, django_capture_on_commit_callbacks
):
    page = confirmation(clerk, audience)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submit(clerk, page, follow=False, **MAIL)
        # The click on Cancel lands as the worker takes the job.
        Job.objects.update(cancel_requested=True)
    assert callbacks
    job = Job.objects.get()
    assert job.state == "cancelled"
    assert recipients(mailoutbox) == ["ann@example.com", "bob@example.com"]
    assert job.message == "Email sent to 2 customers."
    assert (job.result["sent"], job.result["complete"]) == (2, False)
