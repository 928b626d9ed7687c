"""Emailing selected customers: placeholders, skipped customers, sent only after the commit."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from customers.models import Consent, Customer, EventKind, Status
from customers.services.emailing import (
    EMAIL_UNKNOWN_PLACEHOLDER,
    EmailSkip,
    customers_email,
    email_render,
)
from tests.customers.bulk_helpers import (
    LIST_URL,
    confirm,
    events,
    messages_of,
    start,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _marketing_settings(settings):
    """A store that may send marketing email (tests/customers/test_mailing_law.py covers why)."""
    settings.BACKOFFICE_STORE_POSTAL_ADDRESS = "Shop Ltd, 1 Main St, Boston, MA 02114, USA"
    settings.BACKOFFICE_PUBLIC_URL = "https://backoffice.example.com"


@pytest.fixture
def audience(make_customer):
    """One customer of each kind the mailing must tell apart."""
    merged_target = make_customer(email="target@example.com", email_consent=Consent.SUBSCRIBED)
    return {
        "subscribed": make_customer(
            first_name="Élodie",
            last_name="Lefèvre",
            email="elodie@example.fr",
            email_consent=Consent.SUBSCRIBED,
        ),
        "not_subscribed": make_customer(first_name="Zoé", last_name="", email="zoe@example.fr"),
        "target": merged_target,
        "no_email": make_customer(email="", phone="+33612345678"),
        "redacted": make_customer(status=Status.REDACTED, email="", phone=""),
        "erasure": make_customer(
            email="gone@example.com",
            email_consent=Consent.SUBSCRIBED,
            erasure_requested_at=timezone.now(),
        ),
        "archived": make_customer(email="old@example.com", status=Status.ARCHIVED),
        "merged": make_customer(
            email="target@example.com", status=Status.MERGED, merged_into=merged_target
        ),
    }


def test_email_fills_placeholders_and_counts_skipped(
    audience, superuser, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = customers_email(
            actor=superuser,
            customers=Customer.objects.all(),
            subject="Hello {first_name} {last_name}",
            body="Dear {first_name},\nwe write to {email}.",
            marketing=False,
        )
    assert result.emailed == 3
    assert result.skipped == {
        EmailSkip.NO_EMAIL: 1,
        EmailSkip.REDACTED: 1,
        EmailSkip.ERASURE: 1,
        EmailSkip.ARCHIVED: 1,
        EmailSkip.MERGED: 1,
    }
    assert result.delivered == 3
    by_recipient = {m.to[0]: m for m in mailoutbox}
    assert set(by_recipient) == {"elodie@example.fr", "zoe@example.fr", "target@example.com"}
    elodie = by_recipient["elodie@example.fr"]
    assert elodie.subject == "Hello Élodie Lefèvre"
    assert elodie.body == "Dear Élodie,\nwe write to elodie@example.fr."
    assert by_recipient["zoe@example.fr"].subject == "Hello Zoé"
    emailed = {e.customer_ref for e in events(EventKind.EMAILED)}
    assert emailed == {audience[k].pk for k in ("subscribed", "not_subscribed", "target")}
    assert events(EventKind.EMAILED)[0].data == {
        "subject": "Hello {first_name} {last_name}",
        "marketing": False,
    }


def test_marketing_email_skips_customers_without_consent(
    audience, superuser, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = customers_email(
            actor=superuser,
            customers=Customer.objects.all(),
            subject="News",
            body="Hi {first_name}",
            marketing=True,
        )
    assert result.emailed == 2
    assert result.skipped[EmailSkip.NO_CONSENT] == 1
    assert {m.to[0] for m in mailoutbox} == {"elodie@example.fr", "target@example.com"}


def test_nothing_is_sent_when_the_transaction_fails(
    audience, superuser, mailoutbox, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        customers_email(
            actor=superuser,
            customers=Customer.objects.all(),
            subject="Hi",
            body="Hi {first_name}",
            marketing=False,
        )
        raise RuntimeError("something later in the same transaction failed")
    assert callbacks == []
    assert mailoutbox == []
    assert events(EventKind.EMAILED) == []


@pytest.mark.parametrize(
    "template",
    ["{email.__class__}", "{first_name.__init__.__globals__}", "{0}", "{}", "{fist_name}"],
)
def test_only_the_three_placeholders_are_accepted(make_customer, superuser, template):
    make_customer()
    with pytest.raises(ValidationError) as error:
        customers_email(
            actor=superuser,
            customers=Customer.objects.all(),
            subject="Hi",
            body=f"Hello {template}",
            marketing=False,
        )
    assert error.value.messages == [EMAIL_UNKNOWN_PLACEHOLDER % {"placeholders": template}]


def test_rendering_never_reaches_python_attributes():
    values = {"first_name": "{email}", "last_name": "", "email": "a@example.com"}
    # A value that looks like a placeholder is not filled again; other braces stay as typed.
    assert email_render("{first_name} {email} {", values) == "{email} a@example.com {"


def test_a_newline_in_a_name_cannot_break_the_subject(
    make_customer, superuser, mailoutbox, django_capture_on_commit_callbacks
):
    make_customer(first_name="Eve\nBcc: x@evil.example", email="eve@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        customers_email(
            actor=superuser,
            customers=Customer.objects.all(),
            subject="Hi {first_name}",
            body="x",
            marketing=False,
        )
    assert mailoutbox[0].subject == "Hi Eve Bcc: x@evil.example"
    assert mailoutbox[0].recipients() == ["eve@example.com"]


def test_email_action_as_staff(
    audience, client, make_staff, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(make_staff("view_customer", "email_customer"))
    customers = list(audience.values())
    page = start(client, "send_email", customers, url=LIST_URL + "?status=all")
    assert page.status_code == 200
    html = page.content.decode()
    assert "It will be sent to 3 customers (2 if it is a marketing email)." in html
    assert (
        "Skipped: merged into another customer: 1; personal data erased: 1; "
        "erasure requested: 1; archived: 1; no email address: 1." in html
    )
    assert mailoutbox == [] and events(EventKind.EMAILED) == []
    response = confirm(client, page, subject="Hi {unknown}", body="x")
    assert "Unknown placeholder {unknown}" in response.content.decode()
    assert mailoutbox == []
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(
            client, page, subject="Spring sale, {first_name}", body="Hello {email}", marketing="on"
        )
    assert messages_of(response) == [
        "Email sent to 2 customers.",
        "6 customers skipped (merged into another customer: 1; personal data erased: 1; "
        "erasure requested: 1; archived: 1; no email address: 1; "
        "no email marketing consent: 1).",
    ]
    assert {m.subject for m in mailoutbox} == {"Spring sale, Élodie", "Spring sale, Test"}
    assert len(events(EventKind.EMAILED)) == 2


def test_email_action_with_select_all_on_a_filtered_list(
    admin_client, make_customer, mailoutbox, django_capture_on_commit_callbacks
):
    for i in range(12):
        make_customer(company="Acme" if i % 2 else "Other", email=f"c{i}@example.com")
    url = "/admin/customers/customer/?q=acme&per_page=10"
    with django_capture_on_commit_callbacks(execute=True):
        page = start(
            admin_client,
            "send_email",
            Customer.objects.filter(company="Acme")[:2],
            url=url,
            select_across=True,
        )
        assert "<li>Search: “acme”</li>" in page.content.decode()
        response = confirm(admin_client, page, subject="S", body="B")
    assert messages_of(response) == ["Email sent to 6 customers."]
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        Customer.objects.filter(company="Acme").values_list("email", flat=True)
    )
