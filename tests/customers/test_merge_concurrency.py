"""Two overlapping merges at the same time (PostgreSQL row locks, two connections)."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.messages import get_messages
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from customers.models import Customer, Order
from customers.services import merge as merge_module

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

LIST_URL = reverse("admin:customers_customer_changelist")


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks across connections")


def test_overlapping_merges_one_wins_the_other_is_told_to_reload(
    monkeypatch, make_staff, make_customer, make_order
):
    user = make_staff("view_customer", "change_customer", "merge_customer")
    a, b, c = make_customer(), make_customer(), make_customer()
    orders = [make_order(customer) for customer in (a, b, c) for _ in range(3)]

    real_lock = merge_module.customers_lock

    def slow_lock(**kwargs):
        # Hold the row locks a while, so the other merge really waits on them.
        ids = real_lock(**kwargs)
        time.sleep(0.5)
        return ids

    monkeypatch.setattr(merge_module, "customers_lock", slow_lock)

    def form(selection, survivor):
        data = {
            "action": "merge_selected",
            "post": "yes",
            "_confirm": "1",
            "_selected_action": [x.pk for x in selection],
            "survivor": survivor.pk,
            "shown_survivor": survivor.pk,
        }
        for x in selection:
            data[f"version_{x.pk}"] = x.version  # what each clerk's page showed
        return data

    posts = [form([a, b], a), form([b, c], c)]
    barrier = threading.Barrier(len(posts))
    results: list[tuple[int, list[str]]] = [None] * len(posts)

    def run(index: int) -> None:
        try:
            client = Client()
            client.force_login(user)
            barrier.wait()
            response = client.post(LIST_URL, posts[index])
            results[index] = (
                response.status_code,
                [str(m) for m in get_messages(response.wsgi_request)],
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(posts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert all(status == 302 for status, _ in results), results  # no error page
    won = [msgs for _, msgs in results if any("Merged 1 customer" in m for m in msgs)]
    told = [msgs for _, msgs in results if any("reload" in m for m in msgs)]
    assert len(won) == 1 and len(told) == 1, results
    active = set(Customer.objects.exclude(status="merged").values_list("pk", flat=True))
    owners = dict(Order.objects.values_list("pk", "customer_id"))
    assert set(owners) == {o.pk for o in orders}
    assert set(owners.values()) <= active  # every order on exactly one active customer
    assert len(active) == 2
