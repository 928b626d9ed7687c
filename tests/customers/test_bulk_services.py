"""The bulk services called directly, as imports and commands will: tags, groups, batches."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from customers.db import bulk
from customers.models import Customer, CustomerEvent, EventKind, Status, Tag, TaggedCustomer
from customers.services.archiving import customers_archive
from customers.services.grouping import customers_assign_group
from customers.services.tagging import (
    TAG_NAME_TOO_LONG,
    TAG_NAMES_EMPTY,
    customers_add_tags,
    customers_remove_tags,
    tags_resolve,
)
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db


def test_new_tag_whose_slug_is_taken_gets_a_free_slug(make_customer):
    Tag.objects.create(name="VIP")  # slug "vip"
    customer = make_customer()
    result = customers_add_tags(actor="test", customers=[customer.pk], names=["VIP!", "vip"])
    assert result.per_tag == {"VIP!": 1, "VIP": 1}
    assert dict(Tag.objects.values_list("name", "slug")) == {"VIP": "vip", "VIP!": "vip_1"}


def test_tags_match_case_insensitively_beyond_ascii(make_customer):
    etude = Tag.objects.create(name="Été 2026")
    tags, missing = tags_resolve(names=["ÉTÉ 2026", "été   2026"], create=True)
    assert tags == [etude] and missing == []
    assert Tag.objects.count() == 1


def test_tag_names_are_validated():
    with pytest.raises(ValidationError) as error:
        customers_add_tags(actor="test", customers=[], names=[" ", ""])
    assert error.value.messages == [str(TAG_NAMES_EMPTY)]
    with pytest.raises(ValidationError) as error:
        customers_add_tags(actor="test", customers=[], names=["x" * 101])
    assert error.value.messages == [TAG_NAME_TOO_LONG % {"max": 100, "name": "x" * 101}]
    assert not Tag.objects.exists()


def test_adding_a_tag_twice_changes_nothing_the_second_time(make_customer):
    customer = make_customer()
    customers_add_tags(actor="test", customers=[customer.pk], names=["A"])
    again = customers_add_tags(actor="test", customers=[customer.pk], names=["a"])
    assert (again.changed, again.per_tag) == (0, {"A": 0})
    assert TaggedCustomer.objects.count() == 1
    assert Customer.objects.get().version == 1  # a tag is a link row: the customer is not rewritten
    assert CustomerEvent.objects.filter(kind=EventKind.TAGS_ADDED).count() == 1


def test_services_walk_every_batch_of_ids(monkeypatch, django_assert_max_num_queries):
    """More customers than one statement takes: every batch is done, a few queries each."""
    monkeypatch.setattr(bulk, "ID_BATCH_SIZE", 7)
    n = 7 * 3 + 2
    Customer.objects.bulk_create(Customer(email=f"c{i}@example.com") for i in range(n))
    ids = list(Customer.objects.values_list("pk", flat=True))
    with django_assert_max_num_queries(40):
        result = customers_add_tags(actor="test", customers=ids, names=["Big"])
    assert result.per_tag == {"Big": n}
    assert Customer.objects.with_tag(Tag.objects.get().pk).count() == n
    assert set(Customer.objects.values_list("version", flat=True)) == {1}
    assert CustomerEvent.objects.filter(kind=EventKind.TAGS_ADDED).count() == n
    result = customers_remove_tags(actor="test", customers=Customer.objects.all(), names=["big"])
    assert result.per_tag == {"Big": n}
    assert not TaggedCustomer.objects.exists()


def test_assign_group_by_name_reuses_the_group_case_insensitively(make_customer):
    group = CustomerGroup.objects.create(name="Wholesale")
    customer = make_customer()
    result = customers_assign_group(
        actor="test", customers=[customer.pk], group_name="  WHOLESALE "
    )
    assert (result.group, result.group_created, result.changed) == (group, False, 1)


def test_assign_group_with_an_empty_name_is_refused(make_customer):
    customer = make_customer()
    with pytest.raises(ValidationError):
        customers_assign_group(actor="test", customers=[customer.pk], group_name=" ")
    assert Customer.objects.get().group is None


def test_archive_skips_merged_and_redacted(make_customer):
    target = make_customer(email="t@example.com")
    merged = make_customer(email="t@example.com", status=Status.MERGED, merged_into=target)
    redacted = make_customer(status=Status.REDACTED, email="", phone="")
    result = customers_archive(actor="test", customers=[target.pk, merged.pk, redacted.pk])
    assert (result.changed, result.skipped) == (1, 2)
    assert dict(Customer.objects.values_list("pk", "status")) == {
        target.pk: Status.ARCHIVED,
        merged.pk: Status.MERGED,
        redacted.pk: Status.REDACTED,
    }


def test_same_events_are_written_by_the_database_with_actor_and_time(make_customer, superuser):
    from django.utils import timezone

    from customers.audit.events import events_write_same

    a, b = make_customer(), make_customer()
    before = timezone.now()
    written = events_write_same(
        actor=superuser,
        kind=EventKind.DELETED,
        customer_ids=[a.pk, b.pk],
        data={"note": "é", "n": [1, None]},
        keep_link=False,
    )
    assert written == 2
    rows = list(CustomerEvent.objects.order_by("customer_ref"))
    assert [(e.customer_id, e.customer_ref) for e in rows] == [(None, a.pk), (None, b.pk)]
    assert {(e.actor_id, e.actor_label, e.kind) for e in rows} == {
        (superuser.pk, "boss", EventKind.DELETED)
    }
    assert rows[0].data == {"note": "é", "n": [1, None]}
    assert before <= rows[0].created_at <= timezone.now()


def test_ids_written_into_sql_must_be_integers(make_customer):
    customer = make_customer()
    assert list(bulk.customers_with_ids([str(customer.pk)])) == [customer]
    assert list(bulk.customers_with_ids([])) == []
    with pytest.raises(ValueError):
        bulk.customers_with_ids(["1) OR (1=1"])


def test_tags_create_gives_thousands_of_clashing_names_free_slugs_in_few_queries(
    django_assert_max_num_queries,
):
    from customers.services.tagging import tags_create

    Tag.objects.create(name="Sale")  # slug "sale"
    names = ["Sale!"] + [f"Sale {n}" for n in range(2000)] + ["SALE?", "sale."]
    # Read the slugs, insert (SQLite splits 2,000 rows into a few statements), read back.
    with django_assert_max_num_queries(12):
        created = tags_create(names=names)
    assert len(created) == len(names)
    slugs = dict(Tag.objects.values_list("name", "slug"))
    assert [slugs["Sale!"], slugs["SALE?"], slugs["sale."]] == ["sale_1", "sale_2", "sale_3"]
    assert slugs["Sale 7"] == "sale-7"
    assert len(set(slugs.values())) == len(slugs) == len(names) + 1


def test_tags_create_resolves_a_name_another_writer_created_in_another_case():
    from customers.services.tagging import tags_create

    theirs = Tag.objects.create(name="vip", slug="vip-theirs")
    created = tags_create(names=["VIP"])
    assert created["VIP"].pk == theirs.pk
    assert Tag.objects.count() == 1
