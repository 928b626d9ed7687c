"""The change form: every change recorded, stale saves refused, the history page."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from taggit.utils import edit_string_for_tags

from customers.audit.events import (
    customer_updated_event,
    customers_imported_events,
    note_added_event,
)
from customers.models import Address, Customer, CustomerEvent, EventKind, Note
from customers.services.editing import (
    REDACTED_READ_ONLY,
    STALE_EDIT_UNKNOWN,
    VERSION_MISSING,
    customer_save,
)
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db


def change_url(customer) -> str:
    return reverse("admin:customers_customer_change", args=[customer.pk])


def history_url(customer) -> str:
    return reverse("admin:customers_customer_history", args=[customer.pk])


def _value(field, value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else None
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list):  # the tag field's initial value: Tag objects
        return edit_string_for_tags(value)
    return str(value)


def page_form_data(response) -> dict:
    """What a browser would post back from a change page, untouched."""
    data = {}

    def add(form):
        for name, field in form.fields.items():
            value = _value(field, form[name].value())
            if value is not None:
                data[form.add_prefix(name)] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = str(management[name].value())
        for form in formset.forms:
            add(form)
    # The note inline's blank extra form must stay blank to count as "not added".
    return {k: v for k, v in data.items() if not k.startswith("notes-") or "-TOTAL" in k or v}


@pytest.fixture
def customer(make_customer, make_address):
    customer = make_customer(
        first_name="Jean",
        last_name="Dupont",
        email="jean@example.fr",
        phone="+33612345678",
        tags=["VIP", "Newsletter"],
    )
    make_address(
        customer,
        is_default=True,
        address1="1 rue de Rivoli",
        city="Paris",
        province_code="",
        postal_code="75001",
        country_code="FR",
    )
    Note.objects.create(customer=customer, body="Préfère le téléphone.")
    return customer


def test_a_field_edit_writes_the_diff_and_bumps_the_version(admin_client, customer, superuser):
    data = page_form_data(admin_client.get(change_url(customer)))
    group = CustomerGroup.objects.create(name="Grossistes")
    data.update(first_name="Jean-Luc", company="Dupont SARL", group=str(group.pk), tags="VIP, Pro")
    response = admin_client.post(change_url(customer), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert customer.version == 2
    event = CustomerEvent.objects.get(customer=customer, kind=EventKind.UPDATED)
    assert event.actor == superuser and event.actor_label == superuser.username
    assert event.data == {
        "changes": {
            "first_name": ["Jean", "Jean-Luc"],
            "company": ["", "Dupont SARL"],
            "group": [None, "Grossistes"],
        },
        "tags_added": ["Pro"],
        "tags_removed": ["Newsletter"],
    }


def test_address_and_note_inlines_are_recorded(admin_client, customer):
    data = page_form_data(admin_client.get(change_url(customer)))
    existing = customer.addresses.get()
    data.update(
        {
            "addresses-0-city": "Lyon",
            "addresses-0-postal_code": "69001",
            "addresses-TOTAL_FORMS": "2",
            "addresses-1-address1": "2 quai Saint-Antoine",
            "addresses-1-city": "Lyon",
            "addresses-1-postal_code": "69002",
            "addresses-1-country_code": "fr",
            "notes-1-body": "Client fidèle depuis 2019.",
        }
    )
    data["notes-TOTAL_FORMS"] = "2"
    response = admin_client.post(change_url(customer), data)
    assert response.status_code == 302, response.context["errors"]
    update = CustomerEvent.objects.get(customer=customer, kind=EventKind.UPDATED)
    new = customer.addresses.exclude(pk=existing.pk).get()
    assert update.data == {
        "addresses_changed": [
            {
                "id": existing.pk,
                "changes": {"city": ["Paris", "Lyon"], "postal_code": ["75001", "69001"]},
            }
        ],
        "addresses_added": [{"id": new.pk, "address": "2 quai Saint-Antoine, Lyon, 69002, FR"}],
    }
    note = CustomerEvent.objects.get(customer=customer, kind=EventKind.NOTE_ADDED)
    assert note.data["body"] == "Client fidèle depuis 2019."
    assert Customer.objects.get(pk=customer.pk).version == 2

    # Removing the address is recorded too, and shown on the history page.
    data = page_form_data(admin_client.get(change_url(customer)))
    index = next(k.split("-")[1] for k, v in data.items() if k.endswith("-id") and v == str(new.pk))
    data[f"addresses-{index}-DELETE"] = "on"
    assert admin_client.post(change_url(customer), data).status_code == 302
    assert not Address.objects.filter(pk=new.pk).exists()
    removed = CustomerEvent.objects.filter(customer=customer, kind=EventKind.UPDATED).first()
    assert removed.data == {
        "addresses_removed": [{"id": new.pk, "address": "2 quai Saint-Antoine, Lyon, 69002, FR"}]
    }
    html = admin_client.get(history_url(customer)).content.decode()
    assert "Address removed: 2 quai Saint-Antoine, Lyon, 69002, FR" in html
    assert "Address added: 2 quai Saint-Antoine" in html
    assert "City of the address changed from Paris to Lyon." in html
    assert "Client fidèle depuis 2019." in html


def test_consent_change_is_recorded_and_shown_as_history(admin_client, customer, superuser):
    data = page_form_data(admin_client.get(change_url(customer)))
    data["email_consent"] = "subscribed"
    assert admin_client.post(change_url(customer), data).status_code == 302
    data = page_form_data(admin_client.get(change_url(customer)))
    data["email_consent"] = "unsubscribed"
    data["sms_consent"] = "subscribed"
    assert admin_client.post(change_url(customer), data).status_code == 302
    customer.refresh_from_db()
    assert (customer.email_consent, customer.email_consent_source) == ("unsubscribed", "admin")
    assert customer.version == 3
    events = CustomerEvent.objects.filter(customer=customer, kind=EventKind.CONSENT_CHANGED)
    assert sorted((e.data["channel"], e.data["old"], e.data["new"]) for e in events) == [
        ("email", "not_subscribed", "subscribed"),
        ("email", "subscribed", "unsubscribed"),
        ("sms", "not_subscribed", "subscribed"),
    ]
    # No field changed, so no UPDATED event: consent has its own.
    assert not CustomerEvent.objects.filter(customer=customer, kind=EventKind.UPDATED).exists()
    page = admin_client.get(change_url(customer)).content.decode()
    assert "Consent history" in page
    table = re.search(r'field-consent_history_table">.*?</table>', page, re.S).group(0)
    rows = re.findall(r"<tr><td>[^<]*</td>((?:<td>[^<]*</td>)+)</tr>", table)
    assert rows == [  # newest first: channel, before, after, source and who
        "<td>SMS marketing</td><td>Not subscribed</td><td>Subscribed</td><td>Admin · boss</td>",
        "<td>Email marketing</td><td>Subscribed</td><td>Unsubscribed</td><td>Admin · boss</td>",
        "<td>Email marketing</td><td>Not subscribed</td><td>Subscribed</td><td>Admin · boss</td>",
    ]
    # The list filter reads the current state.
    found = admin_client.get(
        reverse("admin:customers_customer_changelist"), {"email_consent__exact": "unsubscribed"}
    )
    assert [c.pk for c in found.context["cl"].result_list] == [customer.pk]


def test_saving_an_unchanged_form_changes_nothing(admin_client, customer):
    data = page_form_data(admin_client.get(change_url(customer)))
    assert admin_client.post(change_url(customer), data).status_code == 302
    assert Customer.objects.get(pk=customer.pk).version == 1
    assert not CustomerEvent.objects.filter(customer=customer).exists()


def test_adding_a_customer_records_creation_and_initial_consent(admin_client):
    data = page_form_data(admin_client.get(reverse("admin:customers_customer_add")))
    data.update(email="new@example.com", sms_consent="subscribed", phone="+12025550143")
    response = admin_client.post(reverse("admin:customers_customer_add"), data)
    assert response.status_code == 302, response.context["errors"]
    customer = Customer.objects.get()
    kinds = set(CustomerEvent.objects.filter(customer=customer).values_list("kind", flat=True))
    assert kinds == {EventKind.CREATED, EventKind.CONSENT_CHANGED}


# --- concurrent edits ----------------------------------------------------------------------


def two_clerks(superuser, make_staff):
    first, second = Client(), Client()
    first.force_login(superuser)
    second.force_login(
        make_staff(
            "view_customer",
            "change_customer",
            "view_address",
            "add_address",
            "change_address",
            "view_note",
            "add_note",
            "change_note",
            username="marie",
        )
    )
    return first, second


def test_the_second_save_is_refused_and_keeps_its_input(superuser, make_staff, customer):
    first, second = two_clerks(superuser, make_staff)
    first_data = page_form_data(first.get(change_url(customer)))
    second_data = page_form_data(second.get(change_url(customer)))

    first_data["first_name"] = "Jean-Pierre"
    assert first.post(change_url(customer), first_data).status_code == 302

    second_data["last_name"] = "Durand"
    second_data["notes-0-body"] = "Rappeler lundi."
    response = second.post(change_url(customer), second_data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "boss saved this customer on" in html
    assert "(first name), after you opened it" in html
    # Nothing typed is lost: the form shows the second clerk's input...
    form = response.context["adminform"].form
    assert form["last_name"].value() == "Durand"
    assert 'value="Durand"' in html and "Rappeler lundi." in html
    # ...and nothing of it was saved.
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name) == ("Jean-Pierre", "Dupont")
    assert not Note.objects.filter(body="Rappeler lundi.").exists()
    assert customer.version == 2
    # The refused form now carries the current version and the other clerk's change (shown
    # with both values, see test_edit_conflicts.py): saving again reverts nothing.
    assert form["expected_version"].value() == 2
    again = page_form_data(response)
    assert again["first_name"] == "Jean-Pierre"
    again["conflict-first_name"] = "theirs"  # the radio button as the page checked it
    response = second.post(change_url(customer), again)
    assert response.status_code == 302, response.context["errors"]
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name) == ("Jean-Pierre", "Durand")
    assert Note.objects.filter(customer=customer, body="Rappeler lundi.").exists()


def test_a_bulk_change_after_the_form_was_opened_is_detected(admin_client, customer):
    data = page_form_data(admin_client.get(change_url(customer)))
    # What the bulk actions and imports do to every row they rewrite.
    Customer.objects.filter(pk=customer.pk).update(version=F("version") + 1)
    customers_imported_events(
        actor="import_customers",
        data_by_customer={customer.pk: {"file": "a.csv", "changes": {"phone": ["", "+1"]}}},
    )
    data["first_name"] = "Lost?"
    response = admin_client.post(change_url(customer), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "import_customers saved this customer on" in html and "(Imported)" in html
    assert Customer.objects.get(pk=customer.pk).first_name == "Jean"


def test_a_version_bump_without_an_event_still_refuses(admin_client, customer):
    data = page_form_data(admin_client.get(change_url(customer)))
    Customer.objects.filter(pk=customer.pk).update(version=F("version") + 1)
    response = admin_client.post(change_url(customer), data)
    assert response.status_code == 200
    assert f"{STALE_EDIT_UNKNOWN} saved this customer" in response.content.decode()


def test_a_post_without_a_version_is_refused(admin_client, customer):
    data = page_form_data(admin_client.get(change_url(customer)))
    del data["expected_version"]
    data["first_name"] = "Nope"
    response = admin_client.post(change_url(customer), data)
    assert response.status_code == 200
    assert str(VERSION_MISSING) in response.content.decode()
    assert Customer.objects.get(pk=customer.pk).first_name == "Jean"


# --- the history page ----------------------------------------------------------------------


def test_history_is_newest_first_and_paginated(admin_client, customer):
    for i in range(55):
        customer_updated_event(
            actor="test",
            customer=customer,
            changes={"company": [f"C{i}", f"C{i + 1}"]},
            related={},
        )
    first_page = admin_client.get(history_url(customer))
    assert first_page.status_code == 200
    rows = [lines for _event, lines in first_page.context["events"]]
    assert len(rows) == 50
    assert rows[0] == ["Company changed from C54 to C55."]
    second_page = admin_client.get(history_url(customer), {"p": 2})
    assert [lines for _e, lines in second_page.context["events"]][-1] == [
        "Company changed from C0 to C1."
    ]
    assert "55 events" in second_page.content.decode()
    # Django's History button leads here, and the change page shows the latest changes.
    page = admin_client.get(change_url(customer)).content.decode()
    assert history_url(customer) in page and "Company changed from C54 to C55." in page


def test_history_query_count_does_not_grow_with_events(admin_client, customer, superuser):
    def queries(n_events: int) -> int:
        CustomerEvent.objects.all().delete()
        for _ in range(n_events):
            note = Note.objects.create(customer=customer, body="call back")
            note_added_event(actor=superuser, customer=customer, note=note)
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(history_url(customer))
        assert len(response.context["events"]) == min(n_events, 50)
        return len(ctx.captured_queries)

    assert queries(2) == queries(50)


def test_history_needs_view_permission(client, make_staff, customer):
    client.force_login(make_staff("tag_customer"))
    assert client.get(history_url(customer)).status_code == 403


def test_an_erased_customer_cannot_be_edited(superuser, make_customer):
    customer = make_customer(status="redacted", email="", phone="")
    customer.first_name = "Back again"
    with pytest.raises(ValidationError) as error:
        customer_save(actor=superuser, customer=customer, expected_version=customer.version)
    assert error.value.messages == [str(REDACTED_READ_ONLY)]


def test_history_shows_events_of_unknown_shape(admin_client, customer):
    customers_imported_events(
        actor="import_customers",
        data_by_customer={customer.pk: {"file": "clients.csv", "addresses_added": 2, "row": 7}},
    )
    html = admin_client.get(history_url(customer)).content.decode()
    assert "file: clients.csv" in html and "addresses added: 2" in html
