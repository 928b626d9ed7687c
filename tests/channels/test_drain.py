"""How the inbox reaches the workers: the lean webhook path, the kick, the drain, the sweep."""

from __future__ import annotations

import datetime
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from customers.channels import tasks
from customers.models import ChannelCustomerLink, ChannelEvent, Customer
from customers.services import channel_events as inbox
from customers.services.privacy import customers_process_erasure, customers_request_erasure
from tests.channels.conftest import payload
from tests.jobs.worker import running_worker

DB_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def _store(shop, n: int = 1) -> list[ChannelEvent]:
    events = []
    for i in range(n):
        body = dict(payload("customers_create"), id=7000 + i, email=f"drain{i}@example.com")
        events.append(
            inbox.channel_event_store(
                connection_id=shop.pk,
                topic="customers/create",
                webhook_id=f"w-drain-{i}",
                body=json.dumps(body),
                headers={},
            ).event
        )
    return events


def _drains():
    return DBTaskResult.objects.filter(task_path=tasks.channel_events_drain.module_path)


def test_a_webhook_costs_two_queries_and_no_session_or_sign_in(shop, deliver):
    with CaptureQueriesContext(connection) as queries:
        response = deliver(shop, "customers/create", payload("customers_create"))
    assert response.status_code == 200
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    assert not hasattr(response.wsgi_request, "user")  # the auth middleware never ran
    # Lookup, insert; then the drain the kick ran in-process (immediate backend in tests).
    sql = [q["sql"] for q in queries.captured_queries]
    store = [q for q in sql if not q.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))][:2]
    assert store[0].startswith('SELECT "customers_channelconnection"."id"')
    assert store[1].startswith('INSERT INTO "customers_channelevent"')
    assert ChannelEvent.objects.get().state == "done"


def test_the_connection_is_kept_a_few_seconds_then_read_again(shop, deliver, monkeypatch):
    from customers.channels import views

    clock = [1000.0]
    monkeypatch.setattr(views.time, "monotonic", lambda: clock[0])
    body = payload("customers_create")
    assert deliver(shop, "customers/create", body).status_code == 200
    shop.active = False
    shop.save()
    with CaptureQueriesContext(connection) as queries:
        assert deliver(shop, "customers/create", body).status_code == 200  # kept: no lookup
    assert not any("customers_channelconnection" in q["sql"] for q in queries.captured_queries[:2])
    clock[0] += views.CONNECTION_CACHE_SECONDS + 0.1
    assert deliver(shop, "customers/create", body).status_code == 401
    assert ChannelEvent.objects.count() == 2


def test_a_webhook_for_a_host_not_allowed_is_refused(shop, deliver, settings):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    assert deliver(shop, "customers/create", payload("customers_create")).status_code == 400
    assert not ChannelEvent.objects.exists()


def test_the_admin_still_goes_through_the_whole_stack(client):
    response = client.get("/admin/customers/channelevent/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_kick_queues_one_delayed_drain_per_period(
    shop, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.TASKS = DB_QUEUE
    settings.BACKOFFICE_CHANNEL_KICK_SECONDS = 1
    monkeypatch.setattr(tasks, "_next_kick", 0.0)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            tasks.channel_events_kick()
    drain = _drains().get()
    assert drain.status == "READY"
    assert before + datetime.timedelta(seconds=1) <= drain.run_after
    assert drain.run_after <= timezone.now() + datetime.timedelta(seconds=1)


def test_each_drain_keeps_one_sweep_queued(shop, settings):
    settings.TASKS = DB_QUEUE
    settings.BACKOFFICE_CHANNEL_SWEEP_SECONDS = 60
    _store(shop, 2)
    assert tasks.channel_events_drain.call() == {"processed": 2, "crashed": 0}
    sweep = _drains().get()
    assert sweep.run_after >= timezone.now() + datetime.timedelta(seconds=55)
    # A drain waiting already is the sweep: no second one.
    assert tasks.channel_events_drain.call() == {"processed": 0, "crashed": 0}
    assert _drains().count() == 1
    assert set(ChannelEvent.objects.values_list("state", flat=True)) == {"done"}


def test_a_drain_out_of_time_queues_the_next_one(shop, settings, monkeypatch):
    settings.TASKS = DB_QUEUE
    monkeypatch.setattr(tasks, "DRAIN_SECONDS", 0)
    _store(shop, 1)
    assert tasks.channel_events_drain.call() == {"processed": 0, "crashed": 0}
    # One to carry on now (a worker takes it at once), one sweep later.
    assert _drains().count() == 2 and _drains().ready().count() == 1


def test_a_crashing_event_stays_pending_counted_then_fails(shop, monkeypatch):
    first, second = _store(shop, 2)

    def crash_on_first(event, actor):
        if event.pk == first.pk:
            raise RuntimeError("database hiccup")
        return real_apply(event, actor)

    real_apply = inbox._apply
    monkeypatch.setattr(inbox, "_apply", crash_on_first)
    run = inbox.channel_events_process_pending()
    assert (run.processed, run.crashed) == (1, 1)
    first.refresh_from_db()
    assert (first.state, first.attempts, first.error) == (
        "pending",
        1,
        "RuntimeError: database hiccup",
    )
    assert Customer.objects.count() == 1  # the second one's; nothing of the first
    for _ in range(inbox.MAX_ATTEMPTS - 1):
        inbox.channel_events_process_pending()
    first.refresh_from_db()
    assert (first.state, first.attempts) == ("failed", inbox.MAX_ATTEMPTS)


def test_erasure_empties_the_customers_deliveries_and_channel_ids(shop, deliver, settings):
    settings.BACKOFFICE_ERASURE_HOLD_DAYS = 0
    deliver(shop, "customers/create", payload("customers_create"))
    customer = Customer.objects.get()
    customers_request_erasure(actor="test", queryset=Customer.objects.all())
    run = customers_process_erasure(
        actor="test", now=timezone.now() + datetime.timedelta(seconds=1)
    )
    assert run.erased == [customer.pk]
    event = ChannelEvent.objects.get(topic="customers/create")
    assert (event.body, event.customer_ref, event.state) == ("{}", customer.pk, "done")
    assert not ChannelCustomerLink.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_drains_what_the_webhooks_stored(shop, deliver, settings, tmp_path):
    from tests.jobs.test_worker import wait_for

    settings.TASKS = DB_QUEUE
    with running_worker(tmp_path) as worker:
        for i in range(3):
            body = dict(payload("customers_create"), id=8000 + i, email=f"real{i}@example.com")
            assert deliver(shop, "customers/create", body).status_code == 200
        wait_for(
            lambda: not ChannelEvent.objects.exclude(state="done").exists(),
            what="the worker to drain the inbox",
            process=worker,
        )
    assert Customer.objects.count() == 3
