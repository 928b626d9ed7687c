"""The bulk group, archive and tag services write the same rows on both databases, in a number
of statements that does not grow with the selection (on PostgreSQL the change and its events
are one statement)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.db import bulk
from customers.db.locks import selection_lock
from customers.models import Customer, CustomerEvent, EventKind, Status, Tag, TaggedCustomer
from customers.services.archiving import customers_archive, customers_unarchive
from customers.services.grouping import customers_assign_group, customers_remove_group
from customers.services.tagging import customers_add_tags, customers_remove_tags
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db


def _events(kind: str) -> list[tuple]:
    return list(
        CustomerEvent.objects.filter(kind=kind)
        .order_by("customer_ref")
        .values_list("customer_id", "customer_ref", "actor_id", "actor_label", "data")
    )


def _versions() -> dict[int, int]:
    return dict(Customer.objects.values_list("pk", "version"))


def test_the_lock_returns_the_columns_asked_for_in_key_order(make_customer, monkeypatch):
    monkeypatch.setattr(bulk, "ID_BATCH_SIZE", 2)
    group = CustomerGroup.objects.create(name="Retail")
    first, second, third = make_customer(group=group), make_customer(), make_customer(group=group)
    expected = [(first.pk, group.pk), (second.pk, None), (third.pk, group.pk)]
    ids = [third.pk, first.pk, second.pk, first.pk]
    assert selection_lock(ids, values=("group_id",)) == expected
    assert selection_lock(Customer.objects.order_by("-pk"), values=("group_id",)) == expected
    assert selection_lock(ids) == [first.pk, second.pk, third.pk]


def test_a_group_move_writes_one_event_per_moved_customer_naming_the_group_left(
    make_customer, superuser
):
    retail, wholesale = (CustomerGroup.objects.create(name=n) for n in ("Retail", "Wholesale"))
    target = CustomerGroup.objects.create(name="VIP")
    from_retail, from_wholesale = make_customer(group=retail), make_customer(group=wholesale)
    from_none, already = make_customer(), make_customer(group=target)
    everyone = [from_retail, from_wholesale, from_none, already]

    result = customers_assign_group(
        actor=superuser, customers=[c.pk for c in everyone], group=target
    )

    assert (result.selected, result.changed) == (4, 3)
    assert _events(EventKind.GROUP_CHANGED) == [
        (c.pk, c.pk, superuser.pk, "boss", {"from": old, "to": "VIP"})
        for c, old in ((from_retail, "Retail"), (from_wholesale, "Wholesale"), (from_none, None))
    ]
    assert set(Customer.objects.values_list("group_id", flat=True)) == {target.pk}
    assert _versions() == {from_retail.pk: 2, from_wholesale.pk: 2, from_none.pk: 2, already.pk: 1}

    removed = customers_remove_group(actor="nightly", customers=Customer.objects.all())
    assert removed.changed == 4
    assert _events(EventKind.GROUP_CHANGED)[-1] == (
        already.pk,
        already.pk,
        None,
        "nightly",
        {"from": "VIP", "to": None},
    )
    assert CustomerEvent.objects.filter(actor_label="nightly").count() == 4
    again = customers_remove_group(actor="nightly", customers=Customer.objects.all())
    assert again.changed == 0 and CustomerEvent.objects.count() == 7


def test_archive_writes_events_only_for_the_customers_it_changed(make_customer, superuser):
    active, archived = make_customer(), make_customer(status=Status.ARCHIVED)
    redacted = make_customer(status=Status.REDACTED, email="", phone="")

    result = customers_archive(actor=superuser, customers=Customer.objects.all())

    assert (result.selected, result.changed, result.skipped) == (3, 1, 2)
    assert _events(EventKind.ARCHIVED) == [
        (active.pk, active.pk, superuser.pk, "boss", {"status": ["active", "archived"]})
    ]
    assert _versions() == {active.pk: 2, archived.pk: 1, redacted.pk: 1}
    back = customers_unarchive(actor="test", customers=[active.pk, archived.pk, redacted.pk])
    assert back.changed == 2
    assert [data for *_rest, data in _events(EventKind.UNARCHIVED)] == [
        {"status": ["archived", "active"]}
    ] * 2
    assert Customer.objects.filter(status=Status.ACTIVE).count() == 2


def test_tag_changes_name_each_customers_own_tags_in_the_order_given(make_customer, superuser):
    gift = Tag.objects.create(name="Gift", slug="gift")
    plain, gifted = make_customer(), make_customer(tags=[gift])

    added = customers_add_tags(
        actor=superuser, customers=[plain.pk, gifted.pk], names=["Newsletter", "gift"]
    )

    assert (added.selected, added.changed, added.changed_ids) == (2, 2, [plain.pk, gifted.pk])
    assert added.per_tag == {"Newsletter": 2, "Gift": 1}
    assert _events(EventKind.TAGS_ADDED) == [
        (plain.pk, plain.pk, superuser.pk, "boss", {"tags": ["Newsletter", "Gift"]}),
        (gifted.pk, gifted.pk, superuser.pk, "boss", {"tags": ["Newsletter"]}),
    ]
    assert TaggedCustomer.objects.count() == 4

    TaggedCustomer.objects.filter(content_object=plain, tag=gift).delete()
    removed = customers_remove_tags(
        actor="test", customers=Customer.objects.all(), names=["gift", "newsletter", "Nope"]
    )
    assert (removed.changed, removed.changed_ids) == (2, [plain.pk, gifted.pk])
    assert removed.per_tag == {"Gift": 1, "Newsletter": 2, "Nope": 0}
    assert [data for *_rest, data in _events(EventKind.TAGS_REMOVED)] == [
        {"tags": ["Newsletter"]},
        {"tags": ["Gift", "Newsletter"]},
    ]
    assert not TaggedCustomer.objects.exists()
    assert set(_versions().values()) == {1}  # a tag is a link row: no customer rewritten


def _statements(work) -> int:
    with CaptureQueriesContext(connection) as ctx:
        work()
    return len(ctx)


def _action_statements(customers, group) -> list[int]:
    return [
        _statements(lambda: customers_add_tags(actor="t", customers=customers, names=["A", "B"])),
        _statements(lambda: customers_remove_tags(actor="t", customers=customers, names=["a"])),
        _statements(lambda: customers_assign_group(actor="t", customers=customers, group=group)),
        _statements(lambda: customers_remove_group(actor="t", customers=customers)),
        _statements(lambda: customers_archive(actor="t", customers=customers)),
        _statements(lambda: customers_unarchive(actor="t", customers=customers)),
    ]


def test_each_action_takes_the_same_statements_whatever_the_selection():
    group = CustomerGroup.objects.create(name="Retail")
    Tag.objects.bulk_create([Tag(name="A", slug="a"), Tag(name="B", slug="b")])
    Customer.objects.bulk_create(Customer(email=f"c{i}@example.com") for i in range(43))
    ids = sorted(Customer.objects.values_list("pk", flat=True))
    few = _action_statements(Customer.objects.filter(pk__in=ids[:3]), group)
    many = _action_statements(Customer.objects.filter(pk__in=ids[3:]), group)
    assert few == many
    assert CustomerEvent.objects.count() == 6 * 43
    if connection.vendor == "postgresql":
        # Group and status: a savepoint, the lock, one statement writing the change and its
        # events, the release.
        assert many[2:] == [4, 4, 4, 4]
