"""Link rows deleted set-based: the condition goes straight into the DELETE (no self-join a
stale plan can turn into a nested loop), and a condition through a join still deletes exactly
the rows it names."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from customers.db.bulk import IdIn, delete_returning
from customers.models import Tag, TaggedCustomer
from customers.services.tagging import customers_add_tags, customers_remove_tags

pytestmark = pytest.mark.django_db


def test_removing_a_tag_deletes_its_links_in_one_plain_delete(make_customer):
    ada, bob, cy = (make_customer() for _ in range(3))
    customers_add_tags(actor="test", customers=[ada.pk, bob.pk, cy.pk], names=["VIP", "Gold"])
    with CaptureQueriesContext(connection) as ctx:
        result = customers_remove_tags(actor="test", customers=[ada.pk, bob.pk], names=["vip"])
    deletes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 1 and "SELECT" not in deletes[0]
    assert result.per_tag == {"VIP": 2}
    left = set(TaggedCustomer.objects.values_list("content_object_id", "tag__name"))
    assert left == {(ada.pk, "Gold"), (bob.pk, "Gold"), (cy.pk, "Gold"), (cy.pk, "VIP")}


def test_a_condition_through_a_join_deletes_only_the_rows_it_names(make_customer):
    ada, bob = make_customer(), make_customer()
    customers_add_tags(actor="test", customers=[ada.pk, bob.pk], names=["VIP", "Gold"])
    links = TaggedCustomer.objects.filter(IdIn(F("content_object_id"), [ada.pk]), tag__name="VIP")
    gone = delete_returning(links, returning=["content_object", "tag"])
    assert gone == [(ada.pk, Tag.objects.get(name="VIP").pk)]
    assert TaggedCustomer.objects.count() == 3
