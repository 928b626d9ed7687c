"""Segments: saved list conditions, validated on save, evaluated afresh, seen by whom they may."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.core.exceptions import ValidationError

from customers.models import Customer, Segment, Status
from customers.selectors.segments import (
    customers_total,
    segment_customers,
    segment_problems,
    segment_sentence,
    segments_counts,
)
from customers.services.segments import (
    NAME_TAKEN,
    NESTED_SEGMENT,
    segment_create,
    segment_delete,
    segment_update,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def author(make_staff):
    return make_staff("view_segment", "add_segment", "change_segment", username="ann")


@pytest.fixture
def shoppers(make_customer):
    return {
        "ann": make_customer(first_name="Ann", last_name="Smith", tags=["VIP"]),
        "bob": make_customer(first_name="Bob", last_name="Smith"),
        "cy": make_customer(first_name="Cy", last_name="Jones", tags=["VIP"]),
        "dee": make_customer(first_name="Dee", last_name="Smith", status=Status.ARCHIVED),
    }


def first_names(queryset) -> set[str]:
    return set(queryset.values_list("first_name", flat=True))


def log_entries(segment_pk: int) -> list[tuple[int, str]]:
    rows = LogEntry.objects.filter(object_id=str(segment_pk)).order_by("pk")
    return [(row.action_flag, row.get_change_message()) for row in rows]


# --- create and validate --------------------------------------------------------------------


def test_create_stores_the_cleaned_conditions_who_and_when_and_logs_it(author, shoppers):
    segment = segment_create(
        actor=author, name="  Smith VIPs ", conditions={"q": "smith", "tag": "VIP"}, shared=False
    )
    segment.refresh_from_db()
    assert segment.name == "Smith VIPs"
    assert segment.conditions == {"q": "smith", "tag": "VIP"}
    assert segment.any_of == []
    assert not segment.shared
    assert segment.created_by == segment.updated_by == author
    assert segment.created_at == segment.updated_at
    assert log_entries(segment.pk) == [(ADDITION, "Added.")]
    assert LogEntry.objects.get().user == author


def test_a_name_is_taken_whatever_its_case(author):
    segment_create(actor=author, name="VIP", conditions={})
    with pytest.raises(ValidationError) as caught:
        segment_create(actor=author, name="vip", conditions={"q": "smith"})
    assert caught.value.code == "name_taken"
    assert caught.value.messages == [NAME_TAKEN % {"name": "vip"}]
    assert Segment.objects.count() == 1


def test_an_unknown_condition_is_refused_naming_it(author):
    with pytest.raises(ValidationError) as caught:
        segment_create(actor=author, name="Odd", conditions={"shoe_size": "42"})
    assert caught.value.code == "unknown_condition"
    assert "shoe_size" in caught.value.messages[0]
    assert not Segment.objects.exists()


def test_an_invalid_value_is_refused_naming_the_condition(author):
    with pytest.raises(ValidationError) as caught:
        segment_create(actor=author, name="Odd", conditions={"total_spent_min": "lots"})
    assert caught.value.code == "invalid_condition"
    assert caught.value.messages == ["Total spent: Enter a number."]
    assert caught.value.params["field"] == "total_spent"


def test_a_condition_of_an_any_of_group_is_validated_too(author):
    with pytest.raises(ValidationError) as caught:
        segment_create(
            actor=author, name="Odd", conditions={}, any_of=[[{"tag": "VIP"}, {"colour": "red"}]]
        )
    assert caught.value.code == "unknown_condition"


def test_a_segment_is_not_built_on_another(author):
    base = segment_create(actor=author, name="VIP", conditions={"tag": "VIP"})
    with pytest.raises(ValidationError) as caught:
        segment_create(actor=author, name="Nested", conditions={"segment": str(base.pk)})
    assert caught.value.code == "nested_segment"
    assert caught.value.messages == [str(NESTED_SEGMENT)]


# --- evaluate -------------------------------------------------------------------------------


def test_the_segment_is_evaluated_again_every_time(author, shoppers, make_customer):
    segment = segment_create(actor=author, name="Smiths", conditions={"q": "smith"})
    members = segment_customers(segment=segment)
    # The list's default conditions apply: the archived Smith is not in the segment.
    assert first_names(members) == {"Ann", "Bob"}
    make_customer(first_name="Eve", last_name="Smith")
    Customer.objects.filter(first_name="Ann").update(status=Status.ARCHIVED)
    assert first_names(segment_customers(segment=segment)) == {"Bob", "Eve"}
    assert segments_counts([segment]) == {segment.pk: 2}
    assert customers_total() == 3  # Bob, Cy, Eve: the list as it opens


def test_any_of_groups_are_or_ed_inside_and_and_ed_together(author, shoppers, make_customer):
    make_customer(first_name="Fay", last_name="Brown", tags=["VIP"])
    segment = segment_create(
        actor=author,
        name="VIP Smiths or Joneses",
        conditions={"tag": "VIP"},
        any_of=[[{"q": "smith"}, {"q": "jones"}]],
    )
    assert first_names(segment_customers(segment=segment)) == {"Ann", "Cy"}
    two_groups = [[{"q": "smith"}, {"q": "brown"}], [{"q": "jones"}, {"q": "brown"}]]
    segment_update(actor=author, segment=segment, any_of=two_groups)
    segment.refresh_from_db()
    assert first_names(segment_customers(segment=segment)) == {"Fay"}


def test_the_sentence_joins_the_conditions_and_the_alternatives(author):
    plain = segment_create(
        actor=author, name="Big VIPs", conditions={"total_spent_min": "100", "tag": "VIP"}
    )
    assert segment_sentence(plain) == "Total spent at least 100 and tagged VIP"
    grouped = segment_create(
        actor=author,
        name="S",
        conditions={"tag": "VIP"},
        any_of=[[{"q": "a"}, {"q": "b", "no_phone": "yes"}]],
    )
    assert segment_sentence(grouped) == (
        "Tagged VIP and (matching “a” or has no phone and matching “b”)"
    )


def test_a_stored_condition_on_a_removed_field_is_reported_and_matches_nobody(author, shoppers):
    segment = segment_create(actor=author, name="Old", conditions={"q": "smith"})
    # As a field removed from the list after the segment was saved leaves it in the database.
    Segment.objects.filter(pk=segment.pk).update(conditions={"q": "smith", "loyalty_tier": "gold"})
    segment.refresh_from_db()
    assert len(segment_problems(segment)) == 1
    assert "loyalty_tier" in segment_problems(segment)[0]
    assert list(segment_customers(segment=segment)) == []
    assert segment_sentence(segment) == ""


# --- update and delete ----------------------------------------------------------------------


def test_update_changes_what_is_given_and_logs_the_fields(author, make_staff):
    segment = segment_create(actor=author, name="VIP", conditions={"tag": "VIP"})
    editor = make_staff("view_segment", "change_segment", username="bob")
    saved = segment_update(actor=editor, segment=segment, name="VIP+", conditions={"q": "smith"})
    assert (saved.name, saved.conditions, saved.shared) == ("VIP+", {"q": "smith"}, True)
    assert saved.created_by == author and saved.updated_by == editor
    assert saved.updated_at > saved.created_at
    assert log_entries(segment.pk)[-1] == (CHANGE, "Changed name and conditions.")


def test_an_update_that_changes_nothing_writes_nothing(author):
    segment = segment_create(actor=author, name="VIP", conditions={"tag": "VIP"})
    segment_update(actor=author, segment=segment, name="VIP", conditions={"tag": "VIP"})
    assert [flag for flag, _message in log_entries(segment.pk)] == [ADDITION]


def test_update_refuses_the_name_of_another_segment(author):
    segment_create(actor=author, name="VIP", conditions={})
    other = segment_create(actor=author, name="Smiths", conditions={"q": "smith"})
    with pytest.raises(ValidationError) as caught:
        segment_update(actor=author, segment=other, name="Vip")
    assert caught.value.code == "name_taken"
    other.refresh_from_db()
    assert other.name == "Smiths"


def test_delete_removes_the_segment_and_no_customer(author, shoppers):
    segment = segment_create(actor=author, name="Smiths", conditions={"q": "smith"})
    assert segment_delete(actor=author, segment=segment) == "Smiths"
    assert not Segment.objects.exists()
    assert Customer.objects.count() == 4
    entry = LogEntry.objects.filter(object_id=str(segment.pk)).latest("pk")
    assert (entry.action_flag, entry.object_repr, json.loads(entry.change_message or "[]")) == (
        DELETION,
        "Smiths",
        [],
    )


# --- who sees which segment -----------------------------------------------------------------


def test_an_unshared_segment_is_seen_by_its_author_and_superusers_only(
    author, make_staff, superuser
):
    mine = segment_create(actor=author, name="Mine", conditions={}, shared=False)
    ours = segment_create(actor=author, name="Ours", conditions={})
    colleague = make_staff("view_segment", username="cy")
    stranger = make_staff("view_customer", username="dee")
    assert set(Segment.objects.visible_to(author)) == {mine, ours}
    assert set(Segment.objects.visible_to(colleague)) == {ours}
    assert set(Segment.objects.visible_to(superuser)) == {mine, ours}
    assert list(Segment.objects.visible_to(stranger)) == []
