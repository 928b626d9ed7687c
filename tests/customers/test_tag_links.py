"""Tag links carry no database constraint: every way a tag or a customer goes takes its links."""

from __future__ import annotations

from customers.models import Tag, TaggedCustomer
from customers.services.deletion import customers_delete
from customers.services.tagging import customers_add_tags


def _links() -> list[tuple[str, str]]:
    rows = TaggedCustomer.objects.order_by("content_object__last_name", "tag__name")
    return list(rows.values_list("content_object__last_name", "tag__name"))


def test_deleting_a_tag_removes_its_links_and_only_them(make_customer, superuser):
    ada, bob = make_customer(last_name="Ada"), make_customer(last_name="Bob")
    customers_add_tags(actor=superuser, customers=[ada.pk, bob.pk], names=["VIP", "Newsletter"])
    Tag.objects.get(name="VIP").delete()
    assert _links() == [("Ada", "Newsletter"), ("Bob", "Newsletter")]


def test_deleting_customers_removes_their_links_and_only_theirs(make_customer, superuser):
    ada, bob, cy = (make_customer(last_name=name) for name in ("Ada", "Bob", "Cy"))
    customers_add_tags(actor=superuser, customers=[ada.pk, bob.pk, cy.pk], names=["VIP"])
    customers_delete(actor=superuser, customers=[ada.pk])
    cy.delete()
    assert _links() == [("Bob", "VIP")]
    assert TaggedCustomer.objects.count() == 1
