"""Two workers on one event at the same time (PostgreSQL row locks, two connections)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection, connections

from customers.models import ChannelEvent, Customer, CustomerEvent, EventKind
from customers.services import channel_events as inbox
from tests.channels.conftest import payload

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks across connections")


def test_two_workers_on_one_event_apply_it_once(shop, monkeypatch):
    stored = inbox.channel_event_store(
        connection_id=shop.pk,
        topic="customers/create",
        webhook_id="w-race",
        body=json.dumps(payload("customers_create")),
        headers={},
    )
    real_apply = inbox._apply

    def slow_apply(event, actor):
        result = real_apply(event, actor)
        time.sleep(0.5)  # hold the event's lock while the other worker arrives
        return result

    monkeypatch.setattr(inbox, "_apply", slow_apply)
    barrier = threading.Barrier(2)
    states: list = [None, None]

    def work(i):
        try:
            barrier.wait()
            states[i] = inbox.channel_event_process(event_id=stored.event.pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, states)) == ["None", "done"]
    assert Customer.objects.count() == 1
    assert CustomerEvent.objects.filter(kind=EventKind.CREATED).count() == 1
    assert ChannelEvent.objects.get().attempts == 1
