"""What a mass update leaves on a customer's history page, timeline and consent export: the
same sentences whether it writes one event per change or one event carrying every change."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from customers.models import Consent, ConsentSource, CustomerEvent
from customers.selectors.audit import consent_history
from customers.selectors.timeline import customer_timeline
from customers.services.mass_update import MassUpdate, customers_mass_update
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db

# The history page's lines for the five changes below, newest first, as one event per change
# showed them before the mass update wrote one event per customer.
FIVE_CHANGES_LINES = [
    "Note: “Called about the spring catalogue”.",
    "SMS marketing changed from Subscribed to Unsubscribed (source: Admin).",
    "Tax exempt changed from no to yes.",
    "Tag removed: Spring fair.",
    "Removed from the group Retail.",
]


def history_lines(client, customer) -> list[str]:
    """The Details column of the history page, one string per line, top to bottom."""
    page = client.get(reverse("admin:customers_customer_history", args=[customer.pk]))
    rows = re.findall(r'<tr class="event [^"]*">(.*?)</tr>', page.content.decode(), re.S)
    cells = [re.findall(r"<td>(.*?)</td>", row, re.S)[-1] for row in rows]
    return [html.unescape(line.strip()) for cell in cells for line in cell.split("<br>")]


@pytest.fixture
def ann(make_customer):
    retail = CustomerGroup.objects.create(name="Retail")
    return make_customer(
        first_name="Ann",
        last_name="Lee",
        email="ann.lee@example.com",
        group=retail,
        tags=["Spring fair", "Loyal"],
        sms_consent=Consent.SUBSCRIBED,
    )


def five_changes(actor, customers) -> None:
    customers_mass_update(
        actor=actor,
        customers=[c.pk for c in customers],
        changes=MassUpdate(
            clear_group=True,
            tax_exempt=True,
            sms_consent=Consent.UNSUBSCRIBED,
            remove_tags=("Spring fair",),
            note="Called about the spring catalogue",
        ),
    )


def test_five_changes_read_on_the_history_page_as_one_sentence_each(
    admin_client, superuser, ann, make_customer
):
    bob = make_customer(first_name="Bob", sms_consent=Consent.SUBSCRIBED)
    five_changes(superuser, [ann, bob])
    assert history_lines(admin_client, ann) == FIVE_CHANGES_LINES
    assert history_lines(admin_client, bob) == [
        FIVE_CHANGES_LINES[0],
        FIVE_CHANGES_LINES[1],
        FIVE_CHANGES_LINES[2],
    ]


def test_five_changes_read_the_same_on_the_timeline_and_in_the_consent_export(superuser, ann):
    five_changes(superuser, [ann])
    page = customer_timeline(customer_id=ann.pk)
    assert [line for entry in page.entries for line in entry.lines] == FIVE_CHANGES_LINES
    assert [
        (row["channel"], row["old"], row["new"], row["source"], row["by"])
        for row in consent_history(customer_ids=[ann.pk])
    ] == [("sms", Consent.SUBSCRIBED, Consent.UNSUBSCRIBED, ConsentSource.ADMIN, "boss")]
    # Notes hidden: the note's sentence goes, the other changes stay.
    page = customer_timeline(customer_id=ann.pk, hidden={"notes"})
    assert [line for entry in page.entries for line in entry.lines] == FIVE_CHANGES_LINES[1:]
    consent = customer_timeline(customer_id=ann.pk, kind="consent")
    assert FIVE_CHANGES_LINES[1] in [line for entry in consent.entries for line in entry.lines]
    notes = customer_timeline(customer_id=ann.pk, kind="notes")
    assert FIVE_CHANGES_LINES[0] in [line for entry in notes.entries for line in entry.lines]
    assert CustomerEvent.objects.filter(customer=ann).exists()
