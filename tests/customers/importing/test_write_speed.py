"""The write path's shortcuts keep every outcome: tag links of new customers, the collector."""

from __future__ import annotations

import gc

import pytest

from customers.models import Customer, TaggedCustomer
from customers.services.importing import GC_THRESHOLDS
from tests.customers.importing.helpers import run

pytestmark = pytest.mark.django_db


def test_a_new_customer_gets_one_link_for_two_spellings_of_one_tag():
    # Lower case keeps them apart, the store's tag matching folds case: one tag to link.
    result = run('Email,Tags\r\nann@example.com,"Straße, STRASSE, vip"\r\n')
    assert (result.created, result.errors) == (1, [])
    ann = Customer.objects.get(email="ann@example.com")
    names = list(
        TaggedCustomer.objects.filter(content_object=ann).values_list("tag__name", flat=True)
    )
    assert len(names) == 2 and "vip" in names
    assert {name.casefold() for name in names} == {"strasse", "vip"}


def test_a_stored_customer_gains_only_the_links_it_lacks():
    run("Email,Tags\r\nann@example.com,VIP\r\n")
    result = run('Email,Tags\r\nann@example.com,"vip, Straße, STRASSE"\r\n')
    assert (result.updated, result.errors) == (1, [])
    assert TaggedCustomer.objects.count() == 2


def test_the_collector_thresholds_are_relaxed_during_the_import_only():
    seen = []
    before = gc.get_threshold()
    run(
        "Email\r\nann@example.com\r\n",
        on_progress=lambda _position: seen.append(gc.get_threshold()),
    )
    assert seen and set(seen) == {GC_THRESHOLDS}
    assert gc.get_threshold() == before
