"""Every event kind reads as sentences with translated labels and values, never a payload key."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation

from customers.audit.events import customer_updated_event, event_lines
from customers.i18n import elide
from customers.models import CustomerEvent, EventKind

pytestmark = pytest.mark.django_db

SUMMARY = {"orders": 2, "notes": 1, "addresses": 0, "addresses_folded": 0, "tag_links": 1}
# One payload of the shape each writer of customers.audit.events stores.
SAMPLES = {
    EventKind.CREATED: {
        "source": "manual",
        "tags": ["VIP"],
        "addresses_added": [{"id": 1, "address": "1 Main St, Boston, MA, 02114, US"}],
    },
    EventKind.UPDATED: {
        "changes": {
            "first_name": ["Ann", "Anna"],
            "phone": ["+12025550123", "+12025550199"],
            "email_consent": ["not_subscribed", "subscribed"],
            "company": ["", "Acme"],
            "group": ["Retail", "Wholesale"],
        },
        "tags_added": ["Loyal", "VIP"],
        "tags_removed": ["Old"],
        "addresses_changed": [{"id": 1, "changes": {"city": ["Paris", "Lyon"]}}],
        "addresses_removed": [{"id": 2, "address": "2 quai Saint-Antoine, Lyon, 69002, FR"}],
        "notes_changed": [{"id": 3, "changes": {"body": ["Call", "Call back"]}}],
        "notes_removed": [{"id": 4, "body": "Old note"}],
    },
    EventKind.TAGS_ADDED: {"tags": ["Loyal", "VIP"]},
    EventKind.TAGS_REMOVED: {"tags": ["VIP"]},
    EventKind.GROUP_CHANGED: {"from": "Retail", "to": "Wholesale"},
    EventKind.ARCHIVED: {"status": ["active", "archived"]},
    EventKind.UNARCHIVED: {"status": ["archived", "active"]},
    EventKind.EMAILED: {"subject": "Spring sale", "marketing": True},
    EventKind.DELETED: {"customer": "Ann Lee <+12025550123>"},
    EventKind.MERGED: {
        "merge": 3,
        "absorbed": [7],
        "moved": {"7": SUMMARY},
        "tags_added": ["VIP"],
        "changes": {"email": ["", "ann@example.com"], "has_active_subscription": [False, True]},
    },
    EventKind.ABSORBED: {"merge": 3, "merged_into": 5, "moved": SUMMARY},
    EventKind.UNMERGED: {
        "merge": 3,
        "restored": [7],
        "moved_back": {"orders": 2, "notes": 1, "addresses": 1, "tag_links": 0},
        "fields_restored": ["email", "first_name"],
    },
    EventKind.IMPORTED: {
        "file": "customers.csv",
        "format": "shopify",
        "records": [2, 5],
        "changes": {
            "first_name": ["Sam", "Samuel"],
            "address.city": ["Paris", "Lyon"],
            "tags_added": ["VIP"],
            "note_added": "Met at the fair",
            "sms_consent": ["not_subscribed", "subscribed"],
        },
    },
    EventKind.CONSENT_CHANGED: {
        "channel": "sms",
        "old": "subscribed",
        "new": "unsubscribed",
        "source": "import",
    },
    EventKind.ERASURE_REQUESTED: {"hold_days": 30},
    EventKind.ERASURE_CANCELLED: {},
    EventKind.REDACTED: {
        "requested_at": "2026-11-01T10:00:00+00:00",
        "requested_by": "boss",
        "hold_days": 30,
        "merged_records": [7],
    },
    EventKind.PERSONAL_DATA_EXPORTED: {},
    EventKind.NOTE_ADDED: {"id": 4, "body": "Prefers phone calls"},
    EventKind.ORDER_RECORDED: {
        "order": 9,
        "number": "#1001",
        "total": "12.50",
        "currency": "EUR",
        "source": "shopify",
    },
    EventKind.MASS_UPDATED: {
        "group": {"from": "Retail", "to": None},
        "tags_added": ["Loyal"],
        "tags_removed": ["Spring fair"],
        "changes": {
            "tax_exempt": [False, True],
            "email_consent": ["subscribed", "unsubscribed"],
            "sms_consent": ["subscribed", "unsubscribed"],
            "note_added": "Called about the catalogue",
        },
    },
}
ENGLISH_WORDS = re.compile(
    r"\b(changed|added|removed|from|to|set|cleared|was|record|records|file|sent|merged|into"
    r"|restored|with|moved|and|yes|no|created|Status|Tags?|Email|Phone|Order|recorded)\b"
)


def lines(kind, data, language="en") -> list[str]:
    with translation.override(language):
        return event_lines(CustomerEvent(kind=kind, data=data))


def keys(data) -> set[str]:
    found = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if not key.isdigit():
                found.add(key)
            found |= keys(value)
    elif isinstance(data, list):
        for item in data:
            found |= keys(item)
    return found


def test_every_kind_has_a_sample():
    assert set(SAMPLES) == set(EventKind.values)


@pytest.mark.parametrize("kind", list(EventKind))
@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_each_kind_reads_as_sentences_without_keys(kind, language):
    read = lines(kind, SAMPLES[kind], language)
    text = "\n".join(read)
    for key in keys(SAMPLES[kind]):
        # A payload key as stored ("tags_added", "tags added:", "file:"), not a label.
        assert key not in text or "_" not in key, (kind, text)
        for line in read:
            for spelled in {key, key.replace("_", " "), key.split(".")[-1]}:
                assert not re.match(rf"{re.escape(spelled)}\s*:", line), (kind, line)
    assert "→" not in text and "{" not in text
    assert all(line[:1] == line[:1].upper() for line in read), read


@pytest.mark.parametrize("kind", list(EventKind))
@pytest.mark.parametrize("language", ["fr", "es"])
def test_each_kind_is_translated(kind, language):
    english = lines(kind, SAMPLES[kind])
    translated = lines(kind, SAMPLES[kind], language)
    assert len(translated) == len(english)
    for en, other in zip(english, translated, strict=True):
        assert en != other
    if language == "fr":
        text = "\n".join(translated)
        text = text.replace("Spring sale", "").replace("customers.csv", "")
        assert not ENGLISH_WORDS.search(text), text


def test_the_sentences_staff_read():
    assert lines(EventKind.TAGS_ADDED, {"tags": ["Loyal", "VIP"]}) == ["Tags added: Loyal, VIP."]
    assert lines(EventKind.TAGS_REMOVED, {"tags": ["VIP"]}) == ["Tag removed: VIP."]
    assert lines(EventKind.ARCHIVED, SAMPLES[EventKind.ARCHIVED]) == [
        "Status changed from Active to Archived."
    ]
    assert lines(EventKind.ARCHIVED, SAMPLES[EventKind.ARCHIVED], "fr") == [
        "Statut : Actif devient Archivé."
    ]
    assert lines(EventKind.IMPORTED, {**SAMPLES[EventKind.IMPORTED], "records": [3]})[0] == (
        "From the file “customers.csv” (Shopify customer CSV), record 3."
    )
    created = {"file": "a.csv", "format": "ecwid", "records": [2], "created": True}
    assert lines(EventKind.IMPORTED, created) == [
        "From the file “a.csv” (Ecwid customer import), record 2.",
        "Created by the import.",
    ]
    assert lines(EventKind.UPDATED, SAMPLES[EventKind.UPDATED])[:5] == [
        "First name changed from Ann to Anna.",
        "Phone changed from (202) 555-0123 to (202) 555-0199.",
        "Email marketing changed from Not subscribed to Subscribed.",
        "Company set to Acme.",
        "Group changed from Retail to Wholesale.",
    ]
    assert lines(EventKind.MERGED, SAMPLES[EventKind.MERGED])[0] == (
        "#7 merged into this customer: 2 orders, 1 note and 0 addresses moved."
    )
    assert lines(EventKind.ERASURE_REQUESTED, {"hold_days": 1}) == [
        "To be erased 1 day after the last order."
    ]
    assert lines(EventKind.DELETED, SAMPLES[EventKind.DELETED]) == [
        "Deleted: Ann Lee <(202) 555-0123>."
    ]


def test_an_unknown_shape_still_shows():
    assert lines(EventKind.TAGS_ADDED, {"tags": "VIP"}) == ["Tag added: VIP."]
    assert lines("future_kind", {"weird_key": 1}) == ["weird key: 1"]


def test_history_page_in_french_elides_and_translates(client, superuser, make_customer):
    client.force_login(superuser)
    customer = make_customer(first_name="Alice", last_name="Martin")
    customer_updated_event(
        actor="test", customer=customer, changes={"company": ["A", "B"]}, related={}
    )
    url = reverse("admin:customers_customer_history", args=[customer.pk])
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Historique d’Alice Martin" in html
    assert "Société : A devient B." in html or "Entreprise : A devient B." in html
    bruno = make_customer(first_name="Bruno", last_name="Roy")
    html = client.get(
        reverse("admin:customers_customer_history", args=[bruno.pk]), HTTP_ACCEPT_LANGUAGE="fr"
    ).content.decode()
    assert "Historique de Bruno Roy" in html


@pytest.mark.parametrize(
    ("language", "text", "names", "expected"),
    [
        ("fr", "Historique de Alice", ["Alice"], "Historique d’Alice"),
        ("fr", "Historique de Hélène", ["Hélène"], "Historique d’Hélène"),
        ("fr", "Effacement de Éric demandé.", ["Éric"], "Effacement d’Éric demandé."),
        ("fr", "Historique de Bruno", ["Bruno"], "Historique de Bruno"),
        ("fr", "parce que Anne", ["Anne"], "parce qu’Anne"),
        ("es", "Historial de Alice", ["Alice"], "Historial de Alice"),
    ],
)
def test_elide(language, text, names, expected):
    with translation.override(language):
        assert elide(text, *names) == expected
