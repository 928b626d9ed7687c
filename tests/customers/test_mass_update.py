"""The mass update service ("Edit selected customers") called directly: each change, their
combinations, the consent rule, the audit trail, bounded queries and idempotence."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import (
    Consent,
    ConsentSource,
    Customer,
    CustomerEvent,
    EventKind,
    Note,
    Status,
    Tag,
)
from customers.selectors.audit import consent_history
from customers.services.editing import customer_save
from customers.services.mass_update import (
    MASS_CONSENT_UPGRADE,
    MASS_FIELD_NOT_ALLOWED,
    MASS_NOTHING_TO_CHANGE,
    MASS_TAGS_BOTH,
    MassUpdate,
    customers_mass_update,
    mass_update_fields_allowed,
)
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db


def update(customers, actor="test", **changes):
    return customers_mass_update(
        actor=actor, customers=[c.pk for c in customers], changes=MassUpdate(**changes)
    )


def fresh(customer) -> Customer:
    return Customer.objects.get(pk=customer.pk)


def kinds_of(customer) -> list[str]:
    return sorted(CustomerEvent.objects.filter(customer=customer).values_list("kind", flat=True))


# Each change alone


def test_group_is_set_by_object_or_by_name_and_cleared(make_customer):
    retail = CustomerGroup.objects.create(name="Retail")
    ann, bob = make_customer(), make_customer(group=retail)
    result = update([ann, bob], group=retail)
    assert (result.selected, result.changed, result.counts) == (2, 1, {"group": 1})
    assert result.group == "Retail" and not result.group_created
    assert fresh(ann).group == retail and fresh(ann).version == 2
    assert fresh(bob).version == 1

    result = update([ann, bob], group_name="wholesale")
    wholesale = CustomerGroup.objects.get(name="wholesale")
    assert result.group_created and result.counts == {"group": 2}
    assert {fresh(ann).group, fresh(bob).group} == {wholesale}

    result = update([ann, bob], clear_group=True)
    assert result.counts == {"group": 2} and result.group == ""
    assert fresh(ann).group is None and fresh(bob).group is None
    moves = CustomerEvent.objects.filter(customer=ann, kind=EventKind.GROUP_CHANGED)
    assert list(moves.order_by("pk").values_list("data", flat=True)) == [
        {"from": None, "to": "Retail"},
        {"from": "Retail", "to": "wholesale"},
        {"from": "wholesale", "to": None},
    ]


def test_tax_exempt_and_active_subscription_are_set_with_an_updated_event(make_customer):
    ann = make_customer()
    bob = make_customer(tax_exempt=True)
    cy = make_customer(has_active_subscription=True)
    result = update([ann, bob, cy], tax_exempt=True, has_active_subscription=False)
    assert result.counts == {"tax_exempt": 2, "has_active_subscription": 1}
    assert result.changed == 2  # Bob already had both values
    assert [(fresh(c).tax_exempt, fresh(c).has_active_subscription) for c in (ann, bob, cy)] == [
        (True, False),
        (True, False),
        (True, False),
    ]
    data = {e.customer_ref: e.data for e in CustomerEvent.objects.filter(kind=EventKind.UPDATED)}
    assert data == {
        ann.pk: {"changes": {"tax_exempt": [False, True]}},
        cy.pk: {"changes": {"tax_exempt": [False, True], "has_active_subscription": [True, False]}},
    }


def test_email_consent_is_only_lowered_and_recorded_in_the_consent_history(make_customer):
    subscribed = make_customer(email_consent=Consent.SUBSCRIBED)
    never = make_customer(email_consent=Consent.NOT_SUBSCRIBED)
    gone = make_customer(email_consent=Consent.UNSUBSCRIBED)
    result = update([subscribed, never, gone], email_consent=Consent.NOT_SUBSCRIBED)
    assert result.counts == {"email_consent": 1} and result.changed == 1
    # An unsubscribe stays an unsubscribe: "not subscribed" would be an upgrade for it.
    assert [fresh(c).email_consent for c in (subscribed, never, gone)] == [
        Consent.NOT_SUBSCRIBED,
        Consent.NOT_SUBSCRIBED,
        Consent.UNSUBSCRIBED,
    ]
    stored = fresh(subscribed)
    assert stored.email_consent_source == ConsentSource.ADMIN
    assert stored.email_consent_updated_at is not None
    assert fresh(gone).email_consent_updated_at is None
    history = consent_history(customer_ids=[subscribed.pk, never.pk, gone.pk])
    assert [(h["channel"], h["old"], h["new"], h["source"]) for h in history] == [
        ("email", Consent.SUBSCRIBED, Consent.NOT_SUBSCRIBED, ConsentSource.ADMIN)
    ]


def test_sms_consent_is_withdrawn_from_everyone_subscribed_or_not(make_customer):
    subscribed = make_customer(sms_consent=Consent.SUBSCRIBED)
    never = make_customer()
    result = update([subscribed, never], sms_consent=Consent.UNSUBSCRIBED)
    assert result.counts == {"sms_consent": 2}
    assert {fresh(c).sms_consent for c in (subscribed, never)} == {Consent.UNSUBSCRIBED}
    events = CustomerEvent.objects.filter(kind=EventKind.CONSENT_CHANGED).order_by("customer_ref")
    assert [e.data for e in events] == [
        {"channel": "sms", "old": "subscribed", "new": "unsubscribed", "source": "admin"},
        {"channel": "sms", "old": "not_subscribed", "new": "unsubscribed", "source": "admin"},
    ]
    assert fresh(subscribed).email_consent == Consent.NOT_SUBSCRIBED


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_a_consent_upgrade_is_refused_and_nothing_is_half_saved(make_customer, channel):
    retail = CustomerGroup.objects.create(name="Retail")
    ann = make_customer(**{f"{channel}_consent": Consent.UNSUBSCRIBED})
    with pytest.raises(ValidationError) as error:
        update(
            [ann],
            group=retail,
            add_tags=("VIP",),
            note="Called",
            tax_exempt=True,
            **{f"{channel}_consent": Consent.SUBSCRIBED},
        )
    assert error.value.code == "consent_upgrade"
    assert error.value.messages == [str(MASS_CONSENT_UPGRADE)]
    stored = fresh(ann)
    assert (stored.group, stored.tax_exempt, stored.version) == (None, False, 1)
    assert getattr(stored, f"{channel}_consent") == Consent.UNSUBSCRIBED
    assert not Tag.objects.exists() and not Note.objects.exists()
    assert not CustomerEvent.objects.exists()


def test_a_state_that_is_no_consent_state_is_refused(make_customer):
    with pytest.raises(ValidationError) as error:
        update([make_customer()], sms_consent="maybe")
    assert error.value.code == "consent_upgrade"


def test_tags_are_added_and_removed_in_one_call(make_customer):
    ann = make_customer(tags=["Old", "Keep"])
    bob = make_customer(tags=["VIP"])
    result = update([ann, bob], add_tags=("vip", "Gift card buyer"), remove_tags=("old",))
    assert result.tags_added == {"VIP": 1, "Gift card buyer": 2}
    assert result.tags_removed == {"Old": 1}
    assert result.counts == {"add_tags": 2, "remove_tags": 1}
    assert set(fresh(ann).tags.names()) == {"Keep", "VIP", "Gift card buyer"}
    assert set(fresh(bob).tags.names()) == {"VIP", "Gift card buyer"}
    # Two changes for Ann: one event carrying both; one for Bob: the tag action's own event.
    assert kinds_of(ann) == [EventKind.MASS_UPDATED]
    assert CustomerEvent.objects.get(customer=ann).data == {
        "tags_added": ["VIP", "Gift card buyer"],
        "tags_removed": ["Old"],
    }
    assert kinds_of(bob) == [EventKind.TAGS_ADDED]
    assert CustomerEvent.objects.get(customer=bob).data == {"tags": ["Gift card buyer"]}


def test_a_tag_both_added_and_removed_is_refused(make_customer):
    ann = make_customer(tags=["VIP"])
    with pytest.raises(ValidationError) as error:
        update([ann], add_tags=("VIP",), remove_tags=("vip",))
    assert error.value.code == "tags_add_and_remove"
    assert error.value.messages == [str(MASS_TAGS_BOTH) % {"tags": "VIP"}]
    assert set(fresh(ann).tags.names()) == {"VIP"}


def test_a_note_is_added_to_each_customer_by_its_author(make_customer, superuser):
    ann, bob = make_customer(), make_customer()
    result = update([ann, bob], actor=superuser, note="  Asked for a catalogue.  ")
    assert result.counts == {"note": 2}
    notes = Note.objects.order_by("customer_id")
    assert [(n.customer_id, n.author, n.body) for n in notes] == [
        (ann.pk, superuser, "Asked for a catalogue."),
        (bob.pk, superuser, "Asked for a catalogue."),
    ]
    events = CustomerEvent.objects.filter(kind=EventKind.NOTE_ADDED).order_by("customer_ref")
    assert [(e.customer_ref, e.actor, e.data) for e in events] == [
        (n.customer_id, superuser, {"id": n.pk, "body": "Asked for a catalogue."}) for n in notes
    ]
    assert fresh(ann).version == 2


def test_nothing_to_change_is_refused(make_customer):
    with pytest.raises(ValidationError) as error:
        update([make_customer()], add_tags=(), note="   ")
    assert error.value.code == "nothing_to_change"
    assert error.value.messages == [str(MASS_NOTHING_TO_CHANGE)]


def test_two_ways_of_changing_the_group_are_refused(make_customer):
    retail = CustomerGroup.objects.create(name="Retail")
    with pytest.raises(ValidationError) as error:
        update([make_customer()], group=retail, clear_group=True)
    assert error.value.code == "group_choose_one"


# Combinations, skipped customers, audit


def test_every_change_at_once_writes_each_customers_events(make_customer, superuser):
    retail = CustomerGroup.objects.create(name="Retail")
    ann = make_customer(
        tags=["Old"], email_consent=Consent.SUBSCRIBED, sms_consent=Consent.SUBSCRIBED
    )
    bob = make_customer(group=retail, tax_exempt=True, sms_consent=Consent.UNSUBSCRIBED)
    result = update(
        [ann, bob],
        actor=superuser,
        group=retail,
        tax_exempt=True,
        email_consent=Consent.UNSUBSCRIBED,
        sms_consent=Consent.UNSUBSCRIBED,
        has_active_subscription=True,
        add_tags=("VIP",),
        remove_tags=("Old",),
        note="Summer sale",
    )
    assert result.counts == {
        "group": 1,
        "tax_exempt": 1,
        "email_consent": 2,  # Bob was "not subscribed"
        "sms_consent": 1,
        "has_active_subscription": 2,
        "add_tags": 2,
        "remove_tags": 1,
        "note": 2,
    }
    assert (result.selected, result.changed, result.skipped) == (2, 2, 0)
    stored = fresh(ann)
    assert (stored.group, stored.tax_exempt, stored.has_active_subscription) == (
        retail,
        True,
        True,
    )
    assert (stored.email_consent, stored.sms_consent) == (Consent.UNSUBSCRIBED,) * 2
    assert set(stored.tags.names()) == {"VIP"}
    # One event per customer, carrying every change made to it.
    assert kinds_of(ann) == kinds_of(bob) == [EventKind.MASS_UPDATED]
    assert CustomerEvent.objects.get(customer=ann).data == {
        "group": {"from": None, "to": "Retail"},
        "tags_added": ["VIP"],
        "tags_removed": ["Old"],
        "changes": {
            "tax_exempt": [False, True],
            "has_active_subscription": [False, True],
            "email_consent": [Consent.SUBSCRIBED, Consent.UNSUBSCRIBED],
            "sms_consent": [Consent.SUBSCRIBED, Consent.UNSUBSCRIBED],
            "note_added": "Summer sale",
        },
    }
    assert CustomerEvent.objects.get(customer=bob).data == {
        "tags_added": ["VIP"],
        "changes": {
            "has_active_subscription": [False, True],
            "email_consent": [Consent.NOT_SUBSCRIBED, Consent.UNSUBSCRIBED],
            "note_added": "Summer sale",
        },
    }
    assert set(CustomerEvent.objects.values_list("actor", flat=True)) == {superuser.pk}


def test_merged_and_erased_customers_are_skipped(make_customer):
    survivor = make_customer()
    merged = make_customer(status=Status.MERGED, merged_into=survivor)
    erased = make_customer(status=Status.REDACTED)
    archived = make_customer(status=Status.ARCHIVED)
    result = update([survivor, merged, erased, archived], tax_exempt=True, note="Hi")
    assert (result.selected, result.skipped, result.changed) == (4, 2, 2)
    assert result.counts == {"tax_exempt": 2, "note": 2}
    assert [fresh(c).tax_exempt for c in (survivor, merged, erased, archived)] == [
        True,
        False,
        False,
        True,
    ]
    assert set(Note.objects.values_list("customer_id", flat=True)) == {survivor.pk, archived.pk}
    assert not CustomerEvent.objects.filter(customer__in=[merged, erased]).exists()


def test_a_queryset_selection_is_taken_as_it_stands(make_customer):
    retail = CustomerGroup.objects.create(name="Retail")
    inside = [make_customer(group=retail) for _ in range(3)]
    outside = make_customer()
    result = customers_mass_update(
        actor="test",
        customers=Customer.objects.filter(group=retail),
        changes=MassUpdate(add_tags=("Retail",)),
    )
    assert result.tags_added == {"Retail": 3}
    assert {c.pk for c in Customer.objects.filter(tags__name="Retail")} == {c.pk for c in inside}
    assert fresh(outside).version == 1


# Permissions


def test_each_change_needs_the_permission_of_its_single_field_action(make_staff, make_customer):
    tagger = make_staff("view_customer", "tag_customer")
    assert mass_update_fields_allowed(tagger) == ["add_tags", "remove_tags"]
    editor = make_staff("view_customer", "change_customer", "add_note", "group_customer")
    assert mass_update_fields_allowed(editor) == [
        "group",
        "tax_exempt",
        "email_consent",
        "sms_consent",
        "has_active_subscription",
        "note",
    ]
    ann = make_customer()
    with pytest.raises(ValidationError) as error:
        update([ann], actor=tagger, add_tags=("VIP",), tax_exempt=True)
    assert error.value.code == "field_not_allowed"
    assert error.value.messages == [str(MASS_FIELD_NOT_ALLOWED) % {"field": "Tax exempt"}]
    assert not Tag.objects.exists() and fresh(ann).version == 1
    # A command (no user) may make every change.
    assert len(mass_update_fields_allowed("a command")) == 8


# Queries, concurrency, idempotence


def test_queries_are_the_same_for_10_and_200_customers(make_customer, superuser):
    CustomerGroup.objects.create(name="Retail")

    def queries(n: int) -> int:
        customers = [make_customer(tags=["Old"], sms_consent=Consent.SUBSCRIBED) for _ in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            result = update(
                customers,
                actor=superuser,
                group_name="Retail",
                tax_exempt=True,
                email_consent=Consent.UNSUBSCRIBED,
                sms_consent=Consent.NOT_SUBSCRIBED,
                has_active_subscription=True,
                add_tags=("VIP", f"Batch {n}"),
                remove_tags=("Old",),
                note=f"Note {n}",
            )
        assert result.changed == n and result.counts["note"] == n
        return len(ctx.captured_queries)

    assert queries(10) == queries(200)


def test_the_same_mass_update_twice_changes_nothing_the_second_time(make_customer, superuser):
    retail = CustomerGroup.objects.create(name="Retail")
    customers = [make_customer(tags=["Old"], sms_consent=Consent.SUBSCRIBED) for _ in range(3)]
    changes = dict(
        actor=superuser,
        group=retail,
        tax_exempt=True,
        sms_consent=Consent.UNSUBSCRIBED,
        add_tags=("VIP",),
        remove_tags=("Old",),
        note="Called about the order",
    )
    first = update(customers, **changes)
    assert first.changed == 3
    events, notes = CustomerEvent.objects.count(), Note.objects.count()
    versions = [fresh(c).version for c in customers]
    second = update(customers, **changes)
    assert second.changed == 0
    assert second.counts == {
        "group": 0,
        "tax_exempt": 0,
        "sms_consent": 0,
        "add_tags": 0,
        "remove_tags": 0,
        "note": 0,
    }
    assert (CustomerEvent.objects.count(), Note.objects.count()) == (events, notes)
    assert [fresh(c).version for c in customers] == versions


def test_a_change_form_opened_before_the_mass_update_is_refused(make_customer, superuser):
    ann = make_customer(first_name="Ann")
    opened = fresh(ann)  # the change form loads version 1
    update([ann], actor=superuser, tax_exempt=True)
    opened.first_name = "Anne"
    with pytest.raises(ValidationError) as error:
        customer_save(actor=superuser, customer=opened, expected_version=1)
    assert error.value.code == "stale_version"
    stored = fresh(ann)
    assert (stored.first_name, stored.tax_exempt) == ("Ann", True)


def test_changes_travel_to_a_job_as_json_and_back(make_customer):
    retail = CustomerGroup.objects.create(name="Retail")
    changes = MassUpdate(group=retail, sms_consent=Consent.UNSUBSCRIBED, add_tags=("VIP",))
    data = changes.as_data()
    assert data["group"] == retail.pk and data["add_tags"] == ["VIP"]
    assert MassUpdate.from_data(data) == changes


# One pass, one row write


def customer_writes(queries) -> list[str]:
    """The UPDATEs of the customer table among captured queries."""
    table = connection.ops.quote_name(Customer._meta.db_table)
    return [q["sql"] for q in queries if q["sql"].startswith(f"UPDATE {table}")]


def test_every_row_change_is_one_write_and_one_version_step(make_customer, superuser):
    retail = CustomerGroup.objects.create(name="Retail")
    ann = make_customer(sms_consent=Consent.SUBSCRIBED, tags=["Old"])
    bob = make_customer(group=retail, tax_exempt=True, sms_consent=Consent.UNSUBSCRIBED)
    before = {c.pk: fresh(c).updated_at for c in (ann, bob)}
    with CaptureQueriesContext(connection) as ctx:
        result = update(
            [ann, bob],
            actor=superuser,
            group=retail,
            tax_exempt=True,
            sms_consent=Consent.UNSUBSCRIBED,
            add_tags=("VIP",),
            remove_tags=("Old",),
            note="Called",
        )
    assert result.changed == 2
    assert len(customer_writes(ctx.captured_queries)) == 1
    stored = {c.pk: fresh(c) for c in (ann, bob)}
    # Group, tax exemption, consent and the note: one step of the version, not one per change.
    assert [stored[c.pk].version for c in (ann, bob)] == [2, 2]
    assert all(stored[pk].updated_at > before[pk] for pk in before)
    assert (stored[ann.pk].group, stored[ann.pk].tax_exempt) == (retail, True)
    assert stored[ann.pk].sms_consent == Consent.UNSUBSCRIBED
    assert stored[ann.pk].sms_consent_source == ConsentSource.ADMIN
    # Bob was already unsubscribed: his consent and its date stay as they were.
    assert (stored[bob.pk].sms_consent, stored[bob.pk].sms_consent_updated_at) == (
        Consent.UNSUBSCRIBED,
        None,
    )
    assert set(stored[ann.pk].tags.names()) == {"VIP"}


def test_a_tag_only_change_leaves_the_customer_rows_alone(make_customer):
    ann = make_customer(tags=["Old"])
    with CaptureQueriesContext(connection) as ctx:
        result = update([ann], add_tags=("VIP",), remove_tags=("Old",))
    assert result.changed == 1 and result.counts == {"add_tags": 1, "remove_tags": 1}
    assert customer_writes(ctx.captured_queries) == []
    assert fresh(ann).version == 1 and set(fresh(ann).tags.names()) == {"VIP"}


def test_the_selection_is_locked_and_written_once_per_batch(make_customer, monkeypatch):
    monkeypatch.setattr("customers.db.bulk.ID_BATCH_SIZE", 4)
    retail = CustomerGroup.objects.create(name="Retail")
    customers = [make_customer(sms_consent=Consent.SUBSCRIBED) for _ in range(10)]
    with CaptureQueriesContext(connection) as ctx:
        result = update(
            customers, group=retail, tax_exempt=True, sms_consent=Consent.UNSUBSCRIBED, note="Hi"
        )
    assert result.changed == 10
    sql = [q["sql"] for q in ctx.captured_queries]
    assert len(customer_writes(ctx.captured_queries)) == 3  # 10 customers, batches of 4
    if connection.features.has_select_for_update:
        assert sum("FOR UPDATE" in statement for statement in sql) == 3
    assert {fresh(c).version for c in customers} == {2}
    assert CustomerEvent.objects.filter(kind=EventKind.MASS_UPDATED).count() == 10
    assert CustomerEvent.objects.count() == 10


def test_tag_names_that_clean_to_nothing_are_refused(make_customer):
    ann = make_customer(tags=["VIP"])
    for changes in ({"add_tags": ("  ",)}, {"remove_tags": (" ",)}):
        with pytest.raises(ValidationError) as error:
            update([ann], **changes)
        assert error.value.code == "tags_empty"
    assert set(fresh(ann).tags.names()) == {"VIP"} and fresh(ann).version == 1


def test_a_customer_whose_only_change_is_the_note_gets_the_note_event(make_customer, superuser):
    ann = make_customer(tax_exempt=True)
    bob = make_customer()
    update([ann, bob], actor=superuser, tax_exempt=True, note="Catalogue sent")
    note = Note.objects.get(customer=ann)
    assert kinds_of(ann) == [EventKind.NOTE_ADDED]
    assert CustomerEvent.objects.get(customer=ann).data == {"id": note.pk, "body": "Catalogue sent"}
    assert kinds_of(bob) == [EventKind.MASS_UPDATED]
    assert CustomerEvent.objects.get(customer=bob).data == {
        "changes": {"tax_exempt": [False, True], "note_added": "Catalogue sent"}
    }
