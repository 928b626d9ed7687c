"""Named reads: the QuerySet's customer states and the merge-chain selector."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer, Status
from customers.selectors.matching import customer_survivor, customers_survivors

pytestmark = pytest.mark.django_db


def test_live_pending_requestable_and_exportable(make_customer):
    active = make_customer()
    archived = make_customer(status=Status.ARCHIVED)
    pending = make_customer(erasure_requested_at=timezone.now())
    redacted = make_customer(status=Status.REDACTED, email="")
    merged = make_customer(status=Status.MERGED, merged_into=active)
    ids = lambda qs: set(qs.values_list("pk", flat=True))  # noqa: E731
    assert ids(Customer.objects.live()) == {active.pk, archived.pk, pending.pk}
    assert ids(Customer.objects.exportable()) == {active.pk, archived.pk, pending.pk}
    assert ids(Customer.objects.erasure_pending()) == {pending.pk}
    assert ids(Customer.objects.erasure_requestable()) == {active.pk, archived.pk}
    assert [c.erasure_is_pending for c in (active, pending, redacted, merged)] == [
        False,
        True,
        False,
        False,
    ]


def _chain(make_customer, length: int) -> list[Customer]:
    """Customers merged one into the next; the last one is live."""
    records = [make_customer() for _ in range(length)]
    for record, target in zip(records, records[1:], strict=False):
        Customer.objects.filter(pk=record.pk).update(status=Status.MERGED, merged_into=target)
    return list(Customer.objects.filter(pk__in=[r.pk for r in records]).order_by("pk"))


def test_chains_are_followed_one_query_per_level_for_the_whole_batch(make_customer):
    chains = [_chain(make_customer, 4) for _ in range(5)]
    heads = [chain[0].pk for chain in chains]
    with CaptureQueriesContext(connection) as ctx:
        survivors = customers_survivors(ids=heads)
    assert {pk: s.pk for pk, s in survivors.items()} == {
        chain[0].pk: chain[-1].pk for chain in chains
    }
    # The merged heads, then one IN query per level of the chain: 1 + 3, not one per hop.
    assert len(ctx.captured_queries) == 4


def test_customer_survivor_ends_anywhere_even_at_an_erased_record(make_customer):
    first, middle, last = _chain(make_customer, 3)
    assert customer_survivor(first).pk == last.pk
    assert customer_survivor(last).pk == last.pk
    Customer.objects.filter(pk=last.pk).update(status=Status.REDACTED)
    assert customer_survivor(first).pk == last.pk
    assert customers_survivors(ids=[first.pk]) == {}
