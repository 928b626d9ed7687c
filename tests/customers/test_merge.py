"""Merging customers and undoing a merge, through the services."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import (
    Address,
    Customer,
    CustomerEvent,
    CustomerMerge,
    EventKind,
    Note,
    Order,
    Tag,
    TaggedCustomer,
)
from customers.services import merge as svc
from customers.services.merge import customer_unmerge, customers_merge
from customers.services.orders import orders_record
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db


def merge(actor, survivor, *absorbed, **kwargs):
    return customers_merge(
        actor=actor, survivor_id=survivor.pk, absorbed_ids=[c.pk for c in absorbed], **kwargs
    )


def codes(excinfo) -> list[str]:
    return [error.code for error in excinfo.value.error_list]


def test_merge_moves_everything_and_marks_the_absorbed(
    superuser, make_customer, make_order, make_address
):
    survivor = make_customer(email="ana@example.es", tags=["VIP", "web"])
    other = make_customer(email="ana.pos@example.es", phone="+34612345678", tags=["vip", "pos"])
    third = make_customer(phone="+34612345678", first_name="", last_name="")
    orders = [make_order(other), make_order(other), make_order(third)]
    home = make_address(survivor, address1="Calle Mayor 5", postal_code="28013", country_code="ES")
    same = make_address(other, address1="calle  mayor, 5.", postal_code="28013", country_code="ES")
    moved = make_address(third, address1="Gran Vía 1", postal_code="28013", country_code="ES")
    note = Note.objects.create(customer=other, body="Prefers phone calls")

    result = merge(superuser, survivor, other, third)

    assert result.orders == 3 and result.notes == 1 and result.addresses == 1
    assert result.addresses_folded == 1
    assert set(survivor.orders.all()) == set(orders)
    assert list(survivor.notes.all()) == [note]
    assert set(survivor.addresses.values_list("pk", flat=True)) >= {moved.pk}
    assert Address.objects.get(pk=same.pk).customer_id == other.pk  # folded, kept for the record
    assert sorted(survivor.tags.names(), key=str.lower) == ["pos", "VIP", "web"]
    for absorbed in (other, third):
        absorbed.refresh_from_db()
        assert absorbed.status == "merged" and absorbed.merged_into_id == survivor.pk
        assert absorbed.version == 2
    other.refresh_from_db()
    assert other.email == "ana.pos@example.es"  # keeps its own data
    survivor.refresh_from_db()
    assert survivor.version == 2
    assert survivor.phone == "+34612345678"  # the first non-empty value
    record = CustomerMerge.objects.get()
    assert record.moved[str(other.pk)]["addresses_folded"] == {str(same.pk): home.pk}


def test_merge_writes_events_on_survivor_and_each_absorbed(superuser, make_customer, make_order):
    survivor, a, b = make_customer(), make_customer(), make_customer()
    make_order(a)
    merge(superuser, survivor, a, b)
    merged = CustomerEvent.objects.get(customer=survivor, kind=EventKind.MERGED)
    assert merged.actor == superuser
    assert merged.data["absorbed"] == [a.pk, b.pk]
    assert merged.data["moved"][str(a.pk)]["orders"] == 1
    absorbed = CustomerEvent.objects.filter(kind=EventKind.ABSORBED)
    assert {e.customer_ref for e in absorbed} == {a.pk, b.pk}
    assert all(e.data["merged_into"] == survivor.pk for e in absorbed)


def test_field_choices_and_defaults(superuser, make_customer):
    survivor = make_customer(first_name="Jo", company="", email="jo@x.com")
    other = make_customer(first_name="Joanna", company="ACME", email="joanna@x.com")
    merge(superuser, survivor, other, field_choices={"first_name": other.pk, "email": other.pk})
    survivor.refresh_from_db()
    assert survivor.first_name == "Joanna"
    assert survivor.email == "joanna@x.com"  # the absorbed record left the unique constraint
    assert survivor.company == "ACME"


def test_a_choice_from_outside_the_selection_is_refused(superuser, make_customer):
    survivor, other, stranger = make_customer(), make_customer(), make_customer()
    with pytest.raises(ValidationError) as excinfo:
        merge(superuser, survivor, other, field_choices={"email": stranger.pk})
    assert codes(excinfo) == ["merge_bad_choice"]
    assert Customer.objects.get(pk=other.pk).status == "active"


def test_group_is_the_survivors_unless_it_has_none(superuser, make_customer):
    gold, silver = CustomerGroup.objects.create(name="Gold"), CustomerGroup.objects.create(name="S")
    survivor = make_customer(group=gold)
    merge(superuser, survivor, make_customer(group=silver))
    assert Customer.objects.get(pk=survivor.pk).group == gold
    bare = make_customer()
    merge(superuser, bare, make_customer(), make_customer(group=silver))
    assert Customer.objects.get(pk=bare.pk).group == silver


@pytest.mark.parametrize(
    "states, expected",
    [
        (("subscribed", "unsubscribed"), "unsubscribed"),
        (("unsubscribed", "subscribed"), "unsubscribed"),
        (("not_subscribed", "subscribed"), "not_subscribed"),
        (("subscribed", "subscribed"), "subscribed"),
    ],
)
def test_consent_is_never_upgraded(superuser, make_customer, states, expected):
    survivor = make_customer(email_consent=states[0], sms_consent=states[0])
    other = make_customer(email_consent=states[1], sms_consent=states[1])
    merge(superuser, survivor, other)
    survivor.refresh_from_db()
    assert survivor.email_consent == expected and survivor.sms_consent == expected
    if expected != states[0]:
        assert survivor.email_consent_source == "merge"
        assert survivor.email_consent_updated_at is not None


def test_default_addresses_one_per_customer(superuser, make_customer, make_address):
    survivor, other = make_customer(), make_customer()
    make_address(survivor, address1="1 A St", is_default=True)
    theirs = make_address(other, address1="2 B St", is_default=True)
    merge(superuser, survivor, other)
    assert survivor.addresses.filter(is_default=True).count() == 1
    assert not Address.objects.get(pk=theirs.pk).is_default
    bare, other2 = make_customer(), make_customer()
    kept = make_address(other2, address1="3 C St", is_default=True)
    merge(superuser, bare, other2)
    assert Address.objects.get(pk=kept.pk).is_default  # the survivor had no default


@pytest.mark.parametrize(
    "change, code",
    [
        (
            lambda c, s: Customer.objects.filter(pk=c.pk).update(
                erasure_requested_at=timezone.now()
            ),
            "merge_erasure_pending",
        ),
        (lambda c, s: Customer.objects.filter(pk=c.pk).update(status="redacted"), "merge_redacted"),
        (
            lambda c, s: Customer.objects.filter(pk=c.pk).update(status="merged", merged_into=s),
            "merge_already_merged",
        ),
    ],
)
def test_refusals(superuser, make_customer, make_order, change, code):
    survivor, other, bystander = make_customer(), make_customer(), make_customer()
    order = make_order(other)
    change(other, bystander)
    with pytest.raises(ValidationError) as excinfo:
        merge(superuser, survivor, other)
    assert codes(excinfo) == [code]
    assert Order.objects.get(pk=order.pk).customer_id == other.pk
    assert not CustomerMerge.objects.exists()
    message = str(excinfo.value.error_list[0].message % excinfo.value.error_list[0].params)
    assert str(Customer.objects.get(pk=other.pk)) in message


def test_selection_of_one_is_refused(superuser, make_customer):
    survivor = make_customer()
    with pytest.raises(ValidationError) as excinfo:
        customers_merge(actor=superuser, survivor_id=survivor.pk, absorbed_ids=[survivor.pk])
    assert codes(excinfo) == ["merge_needs_two"]
    assert excinfo.value.error_list[0].message == svc.MERGE_NEEDS_TWO


def test_stale_selection_is_refused(superuser, make_customer):
    survivor, other = make_customer(), make_customer()
    seen = {survivor.pk: survivor.version, other.pk: other.version}
    Customer.objects.filter(pk=other.pk).update(version=other.version + 1)
    with pytest.raises(ValidationError) as excinfo:
        merge(superuser, survivor, other, expected_versions=seen)
    assert codes(excinfo) == ["merge_stale"]
    assert Customer.objects.get(pk=other.pk).status == "active"


def test_merge_and_undo_cost_a_fixed_number_of_queries(
    superuser, make_customer, make_order, make_address
):
    def run(n_customers: int, n_orders: int) -> tuple[int, int]:
        customers = [make_customer(tags=["a", f"t{i}"]) for i in range(n_customers)]
        for i in range(n_orders):
            make_order(customers[i % n_customers])
        for c in customers:
            make_address(c, address1=f"{c.pk} Road")
            Note.objects.create(customer=c, body="n")
        with CaptureQueriesContext(connection) as merging:
            result = merge(superuser, customers[0], *customers[1:])
        with CaptureQueriesContext(connection) as undoing:
            customer_unmerge(actor=superuser, merge_id=result.merge.pk)
        return len(merging.captured_queries), len(undoing.captured_queries)

    assert run(3, 6) == run(10, 60)


def test_unmerge_restores_and_keeps_later_additions(
    superuser, make_customer, make_order, make_address
):
    survivor = make_customer(email="a@x.com", email_consent="subscribed", tags=["VIP"])
    other = make_customer(email="b@x.com", email_consent="unsubscribed", tags=["vip", "pos"])
    order = make_order(other)
    address = make_address(other, is_default=True)
    note = Note.objects.create(customer=other, body="n")
    result = merge(superuser, survivor, other, field_choices={"email": other.pk})
    later_order = make_order(survivor)
    later_note = Note.objects.create(customer=survivor, body="after")

    undo = customer_unmerge(actor=superuser, merge_id=result.merge.pk)

    assert undo.orders == 1 and undo.notes == 1 and undo.addresses == 1
    survivor.refresh_from_db()
    other.refresh_from_db()
    assert (survivor.email, survivor.email_consent) == ("a@x.com", "subscribed")
    assert (other.status, other.merged_into_id, other.email) == ("active", None, "b@x.com")
    assert other.email_consent == "unsubscribed"
    assert list(other.orders.all()) == [order]
    assert list(other.notes.all()) == [note]
    assert Address.objects.get(pk=address.pk).customer_id == other.pk
    assert Address.objects.get(pk=address.pk).is_default
    assert set(other.tags.names()) == {"pos", "VIP"}
    assert sorted(survivor.tags.names()) == ["VIP"]
    assert set(survivor.orders.all()) == {later_order}
    assert set(survivor.notes.all()) == {later_note}
    assert CustomerMerge.objects.get().undone_at is not None
    assert set(
        CustomerEvent.objects.filter(kind=EventKind.UNMERGED).values_list("customer_ref", flat=True)
    ) == {survivor.pk, other.pk}
    with pytest.raises(ValidationError) as excinfo:
        customer_unmerge(actor=superuser, merge_id=result.merge.pk)
    assert codes(excinfo) == ["unmerge_already_undone"]


def test_unmerge_keeps_a_field_staff_changed_since(superuser, make_customer):
    survivor = make_customer(company="")
    other = make_customer(company="ACME")
    result = merge(superuser, survivor, other)
    Customer.objects.filter(pk=survivor.pk).update(company="ACME Corp")
    customer_unmerge(actor=superuser, merge_id=result.merge.pk)
    assert Customer.objects.get(pk=survivor.pk).company == "ACME Corp"


def test_unmerge_refused_when_email_now_taken(superuser, make_customer, make_order):
    survivor, other = make_customer(), make_customer(email="b@x.com")
    order = make_order(other)
    result = merge(superuser, survivor, other)
    newcomer = make_customer(email="b@x.com")
    with pytest.raises(ValidationError) as excinfo:
        customer_unmerge(actor=superuser, merge_id=result.merge.pk)
    assert codes(excinfo) == ["unmerge_email_taken"]
    assert str(newcomer) in excinfo.value.messages[0]
    assert Order.objects.get(pk=order.pk).customer_id == survivor.pk  # nothing half-done
    assert Customer.objects.get(pk=other.pk).status == "merged"


def test_unmerge_refused_when_the_survivor_took_the_email_since(superuser, make_customer):
    survivor, other = make_customer(email="a@x.com"), make_customer(email="b@x.com")
    result = merge(superuser, survivor, other)
    Customer.objects.filter(pk=survivor.pk).update(email="b@x.com")
    with pytest.raises(ValidationError) as excinfo:
        customer_unmerge(actor=superuser, merge_id=result.merge.pk)
    assert codes(excinfo) == ["unmerge_email_taken"]


def test_unmerge_in_reverse_order_only(superuser, make_customer):
    survivor, a, b = make_customer(), make_customer(), make_customer()
    first = merge(superuser, survivor, a).merge
    second = merge(superuser, survivor, b).merge
    with pytest.raises(ValidationError) as excinfo:
        customer_unmerge(actor=superuser, merge_id=first.pk)
    assert codes(excinfo) == ["unmerge_later_merge"]
    customer_unmerge(actor=superuser, merge_id=second.pk)
    customer_unmerge(actor=superuser, merge_id=first.pk)
    assert set(Customer.objects.values_list("status", flat=True)) == {"active"}


def test_unmerge_refused_when_survivor_was_merged_since(superuser, make_customer):
    survivor, a, top = make_customer(), make_customer(), make_customer()
    first = merge(superuser, survivor, a).merge
    merge(superuser, top, survivor)
    with pytest.raises(ValidationError) as excinfo:
        customer_unmerge(actor=superuser, merge_id=first.pk)
    assert "unmerge_survivor_merged" in codes(excinfo)


def test_tags_dropped_as_duplicates_come_back(superuser, make_customer):
    survivor, other = make_customer(tags=["VIP"]), make_customer(tags=["vip"])
    result = merge(superuser, survivor, other)
    assert not TaggedCustomer.objects.filter(content_object=other).exists()
    customer_unmerge(actor=superuser, merge_id=result.merge.pk)
    assert list(Customer.objects.get(pk=other.pk).tags.all()) == [Tag.objects.get(name="VIP")]


def test_unmerge_refused_when_the_survivors_old_email_is_now_taken(superuser, make_customer):
    survivor, other = make_customer(email="a@x.com"), make_customer(email="b@x.com")
    result = merge(superuser, survivor, other, field_choices={"email": other.pk})
    newcomer = make_customer(email="a@x.com")  # the survivor's old email was free again
    with pytest.raises(ValidationError) as excinfo:
        customer_unmerge(actor=superuser, merge_id=result.merge.pk)
    assert codes(excinfo) == ["unmerge_email_taken"]
    assert str(newcomer) in excinfo.value.messages[0]
    assert Customer.objects.get(pk=other.pk).status == "merged"


def test_unmerge_turns_a_late_database_conflict_into_a_reason(
    superuser, make_customer, monkeypatch
):
    survivor, other = make_customer(email="a@x.com"), make_customer(email="b@x.com")
    result = merge(superuser, survivor, other)
    make_customer(email="b@x.com")  # created after the checks ran
    monkeypatch.setattr(svc, "merge_undo_blockers", lambda merge: [])
    with pytest.raises(ValidationError) as excinfo:
        customer_unmerge(actor=superuser, merge_id=result.merge.pk)
    assert codes(excinfo) == ["unmerge_conflict"]
    assert Customer.objects.get(pk=other.pk).status == "merged"
    assert CustomerMerge.objects.get().undone_at is None


def test_unmerge_refused_when_an_absorbed_record_was_deleted(superuser, make_customer):
    survivor, other = make_customer(), make_customer()
    result = merge(superuser, survivor, other)
    Customer.objects.filter(pk=other.pk).delete()  # e.g. a later guarded deletion
    with pytest.raises(ValidationError) as excinfo:
        customer_unmerge(actor=superuser, merge_id=result.merge.pk)
    assert codes(excinfo) == ["unmerge_absorbed_gone"]
    assert f"#{other.pk}" in excinfo.value.messages[0]


def test_a_channel_order_for_a_merged_record_follows_it_to_the_survivor(superuser, make_customer):
    survivor = make_customer(tags=["VIP"])
    middle, first = make_customer(tags=["POS"]), make_customer()
    merge(superuser, middle, first)
    merge(superuser, survivor, middle)  # first -> middle -> survivor
    orders_record(
        actor="shopify",
        orders=[
            Order(number="#W1", customer_id=first.pk, total="9.00", source="shopify"),
            Order(number="#W2", customer_id=survivor.pk, total="5.00", source="shopify"),
        ],
    )
    assert set(Order.objects.values_list("number", "customer_id")) == {
        ("#W1", survivor.pk),
        ("#W2", survivor.pk),
    }
    # The order carries the survivor's tags, which now include the absorbed record's.
    assert sorted(Order.objects.get(number="#W1").tags.names()) == ["POS", "VIP"]


def test_the_service_refuses_more_than_the_merge_cap(superuser, make_customer, monkeypatch):
    monkeypatch.setattr(svc, "MERGE_MAX", 3)
    survivor, *absorbed = [make_customer() for _ in range(4)]
    with pytest.raises(ValidationError) as excinfo:
        merge(superuser, survivor, *absorbed)
    assert codes(excinfo) == ["merge_too_many"]
    assert excinfo.value.error_list[0].params == {"count": 4, "max": 3}
    assert not Customer.objects.filter(status="merged").exists()
    assert merge(superuser, survivor, *absorbed[:2]).absorbed_count == 2


def test_the_merge_cap_is_a_hundred_records():
    assert svc.MERGE_MAX == 100
