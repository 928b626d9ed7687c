"""The customer timeline: one stream of what happened to a customer, newest first."""

from __future__ import annotations

import datetime
import io

import pytest
from django.utils import timezone

from customers.audit.events import channel_customer_updated_event, customer_updated_event
from customers.models import Consent, Customer, CustomerEvent, Note, Order
from customers.selectors.timeline import TIMELINE_KINDS, customer_timeline
from customers.services.editing import RelatedEdits, customer_save
from customers.services.emailing import customers_email
from customers.services.importing import customers_import
from customers.services.merge import customers_merge
from customers.services.orders import orders_record
from customers.services.privacy import (
    customer_cancel_erasure,
    customer_export_personal_data,
    customer_request_erasure,
)

SHOPIFY_HEADER = (
    "First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,"
    "Default Address Address1,Default Address City,Default Address Country Code"
)


def _edit(actor, customer, **fields):
    customer = Customer.objects.get(pk=customer.pk)
    for name, value in fields.items():
        setattr(customer, name, value)
    customer_save(actor=actor, customer=customer, tags=None)


@pytest.fixture
def story(superuser, make_staff, make_customer):
    """A customer to whom one thing of every kind happened, in this order, by real services."""
    clerk = make_staff("view_customer", username="clerk")
    ada = make_customer(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    _edit(superuser, ada, company="Analytical Engines")
    note = Note(body="Prefers phone calls")
    customer_save(
        actor=clerk,
        customer=Customer.objects.get(pk=ada.pk),
        related=RelatedEdits(notes_added=[note]),
    )
    _edit(superuser, ada, email_consent=Consent.SUBSCRIBED)
    orders_record(
        actor="shopify-sync",
        orders=[Order(customer=ada, number="#1001", total="25.00", source="shopify")],
    )
    customers_email(
        actor=superuser, customers=[ada.pk], subject="Your order", body="Hi", marketing=False
    )
    csv = f"{SHOPIFY_HEADER}\r\nAda,Lovelace,ada@example.com,,,1 Main St,Boston,US\r\n"
    customers_import(actor=clerk, source=io.BytesIO(csv.encode()), filename="spring.csv")
    twin = make_customer(first_name="Ada", last_name="L.", email="ada.l@example.com")
    customer_save(
        actor=superuser,
        customer=Customer.objects.get(pk=twin.pk),
        related=RelatedEdits(notes_added=[Note(body="Met at the fair")]),
    )
    customers_merge(actor=superuser, survivor_id=ada.pk, absorbed_ids=[twin.pk])
    channel_customer_updated_event(
        actor="Shopify",
        customer=ada,
        connection="Main store",
        changes={"phone": ["", "+16175550100"]},
        tags_added=[],
        address={},
    )
    customer_request_erasure(actor=superuser, customer_id=ada.pk)
    customer_cancel_erasure(actor=superuser, customer_id=ada.pk)
    customer_export_personal_data(actor=superuser, customer_id=ada.pk)
    ada.twin = twin
    return ada


# What the story reads as, newest first: (event, by, sentences). The merged-in twin's own note
# shows on the survivor, before the merge.
STORY = [
    ("personal_data_exported", "boss", []),
    ("erasure_cancelled", "boss", []),
    ("erasure_requested", "boss", ["To be erased 180 days after the last order."]),
    (
        "updated",
        "Shopify",
        ["Through the sales channel Main store.", "Phone set to (617) 555-0100."],
    ),
    ("absorbed", "boss", ["Merged into customer #{ada}: 0 orders, 1 note and 0 addresses moved."]),
    (
        "merged",
        "boss",
        [
            "#{twin} merged into this customer: 0 orders, 1 note and 0 addresses moved.",
            "Email marketing changed from Subscribed to Not subscribed.",
        ],
    ),
    ("note_added", "boss", ["Note: “Met at the fair”."]),
    (
        "imported",
        "clerk",
        [
            "From the file “spring.csv” (Shopify customer CSV), record 1.",
            "Address line 1 of the address set to 1 Main St.",
            "City of the address set to Boston.",
            "Country code of the address set to US.",
        ],
    ),
    ("emailed", "boss", ["Email “Your order” sent."]),
    ("order_recorded", "shopify-sync", ["Order #1001 recorded: 25.00 USD"]),
    (
        "consent_changed",
        "boss",
        ["Email marketing changed from Not subscribed to Subscribed (source: Admin)."],
    ),
    ("note_added", "clerk", ["Note: “Prefers phone calls”."]),
    ("updated", "boss", ["Company set to Analytical Engines."]),
]
# The events each kind filter keeps, by their place in STORY.
KIND_ROWS = {
    "orders": [9],
    "emails": [8],
    "notes": [6, 11],
    "consent": [5, 10],
    "merges": [4, 5],
    "imports": [7],
    "edits": [3, 12],
    "channels": [3],
    "erasure": [1, 2],
    "exports": [0],
}


def expected(story, rows=None):
    ids = {"ada": story.pk, "twin": story.twin.pk}
    return [
        (kind, by, sorted(line.format(**ids) for line in lines))
        for i, (kind, by, lines) in enumerate(STORY)
        if rows is None or i in rows
    ]


def read(page):
    # PostgreSQL's jsonb keeps a payload's keys in its own order, which the describers follow:
    # an entry's sentences are compared as a set, the entries in their order.
    return [(entry.event.kind, entry.by, sorted(entry.lines)) for entry in page.entries]


def test_every_kind_reads_as_its_sentence_with_who_and_when_newest_first(story):
    page = customer_timeline(customer_id=story.pk)
    assert read(page) == expected(story)
    times = [entry.at for entry in page.entries]
    assert times == sorted(times, reverse=True)
    assert times[0] >= timezone.now() - datetime.timedelta(minutes=1)
    labels = [entry.label for entry in page.entries]
    assert labels[:3] == [
        "Personal data exported",
        "Erasure request cancelled",
        "Erasure requested",
    ]
    assert page.is_first and page.newer is None and page.older is None


def test_the_kinds_cover_the_whole_story():
    assert sorted(KIND_ROWS) == sorted(kind.code for kind in TIMELINE_KINDS)
    assert sorted({row for rows in KIND_ROWS.values() for row in rows}) == list(range(len(STORY)))


@pytest.mark.parametrize("kind", sorted(KIND_ROWS))
def test_a_kind_filter_keeps_only_its_entries(story, kind):
    page = customer_timeline(customer_id=story.pk, kind=kind)
    assert read(page) == expected(story, KIND_ROWS[kind])


def test_an_unknown_kind_or_cursor_reads_as_the_whole_first_page(story):
    page = customer_timeline(customer_id=story.pk, kind="bogus", before="x_y", after="12")
    assert read(page) == expected(story)


def test_an_order_entry_links_its_order(story):
    (entry,) = customer_timeline(customer_id=story.pk, kind="orders").entries
    assert entry.order_id == Order.objects.get(number="#1001").pk


def test_hidden_kinds_leave_no_trace(story):
    page = customer_timeline(customer_id=story.pk, hidden={"orders", "notes"})
    kinds = [entry.event.kind for entry in page.entries]
    assert "order_recorded" not in kinds and "note_added" not in kinds
    assert len(kinds) == len(STORY) - 3
    assert customer_timeline(customer_id=story.pk, kind="notes", hidden={"notes"}).entries == []


def test_note_texts_inside_an_edit_are_dropped_when_notes_are_hidden(superuser, make_customer):
    customer = make_customer()
    customer_updated_event(
        actor=superuser,
        customer=customer,
        changes={"company": ["", "Acme"]},
        related={"notes_removed": [{"id": 1, "body": "Owes us money"}]},
    )
    (seen,) = customer_timeline(customer_id=customer.pk).entries
    assert seen.lines == ["Company set to Acme.", "Note removed: “Owes us money”."]
    (hidden,) = customer_timeline(customer_id=customer.pk, hidden={"notes"}).entries
    assert hidden.lines == ["Company set to Acme."]
    assert customer_timeline(customer_id=customer.pk, kind="notes").entries[0].event == seen.event


def _company_changes(customer, count, start=0):
    for i in range(start, start + count):
        customer_updated_event(
            actor="test", customer=customer, changes={"company": [f"C{i}", f"C{i + 1}"]}, related={}
        )


def test_pages_go_older_and_newer_by_cursor(make_customer):
    customer = make_customer()
    _company_changes(customer, 45)
    line = "Company changed from C{} to C{}."
    first = customer_timeline(customer_id=customer.pk)
    assert [e.lines[0] for e in first.entries] == [line.format(i, i + 1) for i in range(44, 24, -1)]
    assert first.is_first and first.newer is None and first.older
    second = customer_timeline(customer_id=customer.pk, before=first.older)
    assert [e.lines[0] for e in second.entries] == [line.format(i, i + 1) for i in range(24, 4, -1)]
    assert not second.is_first and second.newer and second.older
    last = customer_timeline(customer_id=customer.pk, before=second.older)
    assert [e.lines[0] for e in last.entries] == [line.format(i, i + 1) for i in range(4, -1, -1)]
    assert last.older is None and last.newer
    back = customer_timeline(customer_id=customer.pk, after=last.newer)
    assert read(back) == read(second) and back.older == second.older
    top = customer_timeline(customer_id=customer.pk, after=back.newer)
    assert read(top) == read(first) and top.is_first and top.newer is None


def test_events_at_the_same_moment_are_neither_lost_nor_repeated(make_customer):
    customer = make_customer()
    _company_changes(customer, 30)
    CustomerEvent.objects.filter(customer_ref=customer.pk).update(created_at=timezone.now())
    first = customer_timeline(customer_id=customer.pk, per_page=7)
    seen = [e.event.pk for e in first.entries]
    cursor = first.older
    while cursor:
        page = customer_timeline(customer_id=customer.pk, per_page=7, before=cursor)
        seen += [e.event.pk for e in page.entries]
        cursor = page.older
    all_ids = CustomerEvent.objects.filter(customer_ref=customer.pk).values_list("pk", flat=True)
    assert seen == sorted(all_ids, reverse=True)


@pytest.mark.parametrize("merged", [False, True])
def test_a_page_costs_the_same_queries_for_5_or_60_entries(
    django_assert_num_queries, superuser, make_customer, merged
):
    def page_queries(count):
        customer = make_customer()
        _company_changes(customer, count)
        if merged:
            twin = make_customer()
            customers_merge(actor=superuser, survivor_id=customer.pk, absorbed_ids=[twin.pk])
        # The records merged in (one query a level of the chain, and one finding no more), then
        # the page itself.
        with django_assert_num_queries(3 if merged else 2):
            page = customer_timeline(customer_id=customer.pk, before=None)
        return len(page.entries)

    assert page_queries(5) == 5 + 2 * merged
    assert page_queries(60) == 20


def test_a_chain_of_merges_shows_on_the_last_survivor(superuser, make_customer):
    first, second, third = make_customer(), make_customer(), make_customer()
    customers_merge(actor=superuser, survivor_id=second.pk, absorbed_ids=[first.pk])
    customers_merge(actor=superuser, survivor_id=third.pk, absorbed_ids=[second.pk])
    refs = {e.event.customer_ref for e in customer_timeline(customer_id=third.pk).entries}
    assert refs == {first.pk, second.pk, third.pk}


def test_an_undone_merge_takes_the_absorbed_history_away_again(superuser, make_customer):
    from customers.services.merge import customer_unmerge

    survivor, twin = make_customer(), make_customer()
    result = customers_merge(actor=superuser, survivor_id=survivor.pk, absorbed_ids=[twin.pk])
    customer_unmerge(actor=superuser, merge_id=result.merge.pk)
    page = customer_timeline(customer_id=survivor.pk)
    assert [e.event.kind for e in page.entries] == ["unmerged", "merged"]
    assert {e.event.customer_ref for e in page.entries} == {survivor.pk}


def _interleaved(customer, count, note_every):
    """``count`` events a second apart, every ``note_every``-th a note; return the note ids."""
    start = timezone.now() - datetime.timedelta(hours=1)
    notes = []
    for i in range(count):
        if i % note_every == 0:
            event = CustomerEvent.objects.create(
                customer=customer,
                customer_ref=customer.pk,
                kind="note_added",
                data={"id": i, "body": f"n{i}"},
                actor_label="test",
            )
            notes.append(event.pk)
        else:
            event = CustomerEvent.objects.create(
                customer=customer,
                customer_ref=customer.pk,
                kind="updated",
                data={"changes": {"company": ["a", "b"]}},
                actor_label="test",
            )
        CustomerEvent.objects.filter(pk=event.pk).update(
            created_at=start + datetime.timedelta(seconds=i)
        )
    return notes


def test_a_rare_kind_is_paged_through_a_bounded_scan_without_losing_an_entry(
    monkeypatch, make_customer
):
    monkeypatch.setattr("customers.selectors.timeline.TIMELINE_SCAN", 10)
    customer = make_customer()
    notes = _interleaved(customer, 60, note_every=13)  # events 0, 13, 26, 39, 52
    pages = [customer_timeline(customer_id=customer.pk, kind="notes", per_page=2)]
    while pages[-1].older:
        pages.append(
            customer_timeline(
                customer_id=customer.pk, kind="notes", per_page=2, before=pages[-1].older
            )
        )
    seen = [e.event.pk for page in pages for e in page.entries]
    assert seen == notes[::-1]
    # Windows of 10 events: some pages show nothing of the kind, and still lead on.
    assert [len(page.entries) for page in pages] == [1, 0, 1, 1, 1, 1]
    assert all(page.newer for page in pages[1:]) and pages[0].is_first
    back = [pages[-1]]
    while back[-1].newer:
        back.append(
            customer_timeline(
                customer_id=customer.pk, kind="notes", per_page=2, after=back[-1].newer
            )
        )
    assert [e.event.pk for page in back[::-1] for e in page.entries] == notes[::-1]
    assert back[-1].is_first


@pytest.mark.parametrize("kind", ["notes", "edits"])
def test_a_filtered_page_costs_the_same_queries_for_5_or_600_events(
    django_assert_max_num_queries, make_customer, kind
):
    for count in (5, 600):
        customer = make_customer()
        _interleaved(customer, count, note_every=100)
        # The records merged in, the page, and where the bounded scan stopped.
        with django_assert_max_num_queries(3):
            page = customer_timeline(customer_id=customer.pk, kind=kind)
        assert page.entries


@pytest.mark.parametrize(
    ("cursor", "before", "after"),
    [
        ("1_99999999999999999999999", 0, 3),  # 1970 with an id no column holds
        ("-5_-3", 0, 3),
        ("99999999999999999999_1", 3, 3),  # beyond any date: unreadable, the first page
        ("1.5_2", 3, 3),
        ("", 3, 3),
    ],
)
def test_a_forged_cursor_never_fails_the_page(make_customer, cursor, before, after):
    customer = make_customer()
    _company_changes(customer, 3)
    assert len(customer_timeline(customer_id=customer.pk, before=cursor).entries) == before
    assert len(customer_timeline(customer_id=customer.pk, after=cursor).entries) == after
