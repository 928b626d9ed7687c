"""Marketing email a regulator and a mailbox provider accept: one-click unsubscribe (RFC 8058),
the store's postal address, a public unsubscribe page; big non-marketing mailings need their own
permission; every mailing keeps its full text."""

from __future__ import annotations

import email
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import Client

from customers.models import (
    Consent,
    ConsentSource,
    Customer,
    CustomerEvent,
    EventKind,
    Mailing,
    Status,
)
from customers.selectors.audit import consent_history
from customers.services.consent import UNSUBSCRIBE_ACTOR, unsubscribe_token, unsubscribe_token_read
from customers.services.emailing import (
    EMAIL_BULK_TRANSACTIONAL_DENIED,
    EMAIL_NO_POSTAL_ADDRESS,
    EMAIL_NO_PUBLIC_URL,
    customers_email,
    customers_email_check,
)
from tests.customers.bulk_helpers import confirm, messages_of, start

pytestmark = pytest.mark.django_db

POSTAL = "Shop & Co Ltd, 1 Main St, Boston, MA 02114, USA"
PUBLIC = "https://backoffice.example.com"
_URL = re.compile(r"https://backoffice\.example\.com/unsubscribe/([^/\s>]+)/")


@pytest.fixture(autouse=True)
def _store(settings):
    settings.BACKOFFICE_STORE_POSTAL_ADDRESS = POSTAL
    settings.BACKOFFICE_PUBLIC_URL = PUBLIC + "/"


def _send(actor, customers, *, marketing, subject="Spring sale", body="Hello {first_name}"):
    return customers_email(
        actor=actor, customers=customers, subject=subject, body=body, marketing=marketing
    )


def _targets(header: str) -> list[str]:
    """The addresses of a List-Unsubscribe header (RFC 2369: in angle brackets, maybe folded)."""
    return re.findall(r"<([^<>]+)>", header)


def _parsed(message):
    """The message as the receiving mail server reads it."""
    return email.message_from_bytes(message.message().as_bytes())


@pytest.fixture
def subscriber(make_customer):
    return make_customer(
        first_name="Élodie", email="elodie@example.fr", email_consent=Consent.SUBSCRIBED
    )


def test_marketing_email_carries_one_click_unsubscribe_and_the_postal_address(
    subscriber, superuser, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _send(superuser, Customer.objects.all(), marketing=True)
    parsed = _parsed(mailoutbox[0])
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [url] = _targets(parsed["List-Unsubscribe"])
    match = _URL.fullmatch(url)
    assert match, url
    assert unsubscribe_token_read(match.group(1)) == (subscriber.pk, "email")
    body = parsed.get_payload(decode=True).decode(parsed.get_content_charset())
    assert body.startswith("Hello Élodie\n\n-- \n")
    assert f"\n{url}\n" in body  # the same link in the text
    assert body.rstrip().endswith(POSTAL)  # not HTML-escaped: a plain-text footer


def test_an_optional_mailto_joins_the_header(
    subscriber, superuser, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.BACKOFFICE_UNSUBSCRIBE_MAILTO = "unsubscribe@shop.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        _send(superuser, Customer.objects.all(), marketing=True)
    targets = _targets(_parsed(mailoutbox[0])["List-Unsubscribe"])
    assert _URL.fullmatch(targets[0])
    assert targets[1] == "mailto:unsubscribe@shop.example.com?subject=unsubscribe"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("BACKOFFICE_STORE_POSTAL_ADDRESS", EMAIL_NO_POSTAL_ADDRESS),
        ("BACKOFFICE_PUBLIC_URL", EMAIL_NO_PUBLIC_URL),
    ],
)
def test_marketing_email_is_refused_without_the_footer_settings(
    subscriber,
    superuser,
    settings,
    mailoutbox,
    django_capture_on_commit_callbacks,
    setting,
    message,
):
    setattr(settings, setting, "  ")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as error:
        _send(superuser, Customer.objects.all(), marketing=True)
    assert error.value.messages == [str(message)]
    assert mailoutbox == []
    assert not Mailing.objects.exists()
    assert not CustomerEvent.objects.filter(kind=EventKind.EMAILED).exists()


def test_non_marketing_email_has_no_unsubscribe_and_reaches_the_unsubscribed(
    make_customer, superuser, mailoutbox, django_capture_on_commit_callbacks
):
    make_customer(email="gone@example.com", email_consent=Consent.UNSUBSCRIBED)
    with django_capture_on_commit_callbacks(execute=True):
        _send(superuser, Customer.objects.all(), marketing=False, body="Your order shipped.")
    parsed = _parsed(mailoutbox[0])
    assert parsed["To"] == "gone@example.com"
    assert parsed["List-Unsubscribe"] is None and parsed["List-Unsubscribe-Post"] is None
    assert parsed.get_payload(decode=True).decode() == "Your order shipped."


def test_every_mailing_keeps_its_full_subject_and_text(
    subscriber, superuser, django_capture_on_commit_callbacks
):
    body = "Dear {first_name},\n\n" + "A long letter. " * 400
    subject = "Our spring collection is here, {first_name}: " + "x" * 300
    with django_capture_on_commit_callbacks(execute=True):
        _send(superuser, Customer.objects.all(), marketing=True, subject=subject, body=body)
    mailing = Mailing.objects.get()
    assert (mailing.subject, mailing.body) == (subject, body.strip())
    assert (mailing.actor, mailing.actor_label, mailing.marketing) == (superuser, "boss", True)
    assert (mailing.selected, mailing.recipients) == (1, 1)


# --- the public unsubscribe page ------------------------------------------------------------


def _page_url(customer, channel="email"):
    return f"/unsubscribe/{unsubscribe_token(customer_id=customer.pk, channel=channel)}/"


def test_the_page_is_public_and_get_changes_nothing(subscriber):
    response = Client().get(_page_url(subscriber))  # nobody signed in
    assert response.status_code == 200
    page = response.content.decode()
    assert "Unsubscribe from marketing email?" in page
    assert page.count("<h1>") == 1
    assert '<input type="submit" class="default" value="Unsubscribe">' in page
    assert 'id="site-name">Customer back office</div>' in page  # the admin's look
    assert 'href="/admin/' not in page  # no way into the back office
    subscriber.refresh_from_db()
    assert subscriber.email_consent == Consent.SUBSCRIBED


def test_one_click_post_unsubscribes_once_and_records_the_source(subscriber):
    client = Client(enforce_csrf_checks=True)  # the mailbox provider sends no CSRF token
    url = _page_url(subscriber)
    version = subscriber.version
    response = client.post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.email_consent == Consent.UNSUBSCRIBED
    assert subscriber.email_consent_source == ConsentSource.UNSUBSCRIBE_LINK
    assert subscriber.email_consent_updated_at is not None
    assert subscriber.version == version + 1  # a change form opened before cannot revert it
    [entry] = consent_history(customer_ids=[subscriber.pk])
    assert (entry["channel"], entry["old"], entry["new"], entry["source"], entry["by"]) == (
        "email",
        Consent.SUBSCRIBED,
        Consent.UNSUBSCRIBED,
        ConsentSource.UNSUBSCRIBE_LINK,
        UNSUBSCRIBE_ACTOR,
    )
    # Again (the provider retries, the person clicks twice): same page, nothing more recorded.
    assert (
        client.post(
            url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
        ).status_code
        == 200
    )
    assert CustomerEvent.objects.filter(kind=EventKind.CONSENT_CHANGED).count() == 1
    subscriber.refresh_from_db()
    assert subscriber.version == version + 1


def test_the_history_page_names_the_unsubscribe_link(subscriber, admin_client):
    Client().post(_page_url(subscriber))
    page = admin_client.get(f"/admin/customers/customer/{subscriber.pk}/history/")
    said = "Email marketing changed from Subscribed to Unsubscribed (source: Unsubscribe link)."
    assert said in page.content.decode()


def test_the_link_in_a_sent_email_unsubscribes(
    subscriber, superuser, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _send(superuser, Customer.objects.all(), marketing=True)
    [url] = _targets(_parsed(mailoutbox[0])["List-Unsubscribe"])
    assert Client().post(url.removeprefix(PUBLIC)).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.email_consent == Consent.UNSUBSCRIBED


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: t.split(":")[0],  # cut short
        lambda t: "eyJjIjoxLCJjaCI6ImVtYWlsIn0:forged:signature",
    ],
)
def test_a_tampered_token_is_a_clear_400(subscriber, tamper):
    token = unsubscribe_token(customer_id=subscriber.pk, channel="email")
    for method in ("get", "post"):
        response = getattr(Client(), method)(f"/unsubscribe/{tamper(token)}/")
        assert response.status_code == 400
        assert "This unsubscribe link is not valid" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.email_consent == Consent.SUBSCRIBED


def test_a_token_signed_for_another_purpose_is_refused(subscriber):
    from django.core import signing

    forged = signing.dumps({"c": subscriber.pk, "ch": "email"})  # right key, no salt
    assert Client().post(f"/unsubscribe/{forged}/").status_code == 400


def test_the_page_speaks_the_visitors_language(subscriber):
    response = Client().get(_page_url(subscriber), HTTP_ACCEPT_LANGUAGE="fr")
    assert "Se désabonner des e-mails marketing ?" in response.content.decode()


def test_a_merged_customers_link_unsubscribes_the_survivor(make_customer):
    survivor = make_customer(email="x@example.com", email_consent=Consent.SUBSCRIBED)
    merged = make_customer(email="x@example.com", status=Status.MERGED, merged_into=survivor)
    Client().post(_page_url(merged))
    survivor.refresh_from_db()
    assert survivor.email_consent == Consent.UNSUBSCRIBED


# --- big non-marketing mailings ----------------------------------------------------------


@pytest.fixture
def many(make_customer, settings):
    settings.BACKOFFICE_TRANSACTIONAL_EMAIL_MAX = 2
    return [make_customer(email=f"c{i}@example.com") for i in range(3)]


def test_a_big_non_marketing_mailing_needs_its_permission(
    many, make_staff, mailoutbox, django_capture_on_commit_callbacks
):
    clerk = make_staff("view_customer", "email_customer")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as error:
        _send(clerk, Customer.objects.all(), marketing=False)
    assert error.value.messages == [EMAIL_BULK_TRANSACTIONAL_DENIED % {"max": 2, "count": 3}]
    assert mailoutbox == [] and not Mailing.objects.exists()
    # Up to the limit it is an ordinary mailing.
    with django_capture_on_commit_callbacks(execute=True):
        assert _send(clerk, [c.pk for c in many[:2]], marketing=False).emailed == 2
    clerk.user_permissions.add(Permission.objects.get(codename="send_bulk_transactional_email"))
    clerk = type(clerk).objects.get(pk=clerk.pk)  # drop the cached permissions
    with django_capture_on_commit_callbacks(execute=True):
        assert _send(clerk, Customer.objects.all(), marketing=False).emailed == 3


def test_the_limit_holds_through_the_admin_action(
    many, client, make_staff, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(make_staff("view_customer", "email_customer"))
    page = start(client, "send_email", many)
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(client, page, follow=False, subject="Order news", body="x")
    assert response.status_code == 200  # the form again, with the reason
    assert "needs the permission “Can send a non-marketing email to many customers”" in (
        response.content.decode()
    )
    assert mailoutbox == []
    # A marketing email respects unsubscribes, so the limit does not apply to it.
    for customer in many:
        Customer.objects.filter(pk=customer.pk).update(email_consent=Consent.SUBSCRIBED)
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(client, page, subject="News", body="x", marketing="on")
    assert messages_of(response) == ["Email sent to 3 customers."]


def test_the_check_says_up_front_what_the_mailing_would_refuse(many, make_staff, settings):
    clerk = make_staff("view_customer", "email_customer")
    with pytest.raises(ValidationError) as error:
        customers_email_check(actor=clerk, customers=Customer.objects.all(), marketing=False)
    assert error.value.messages == [EMAIL_BULK_TRANSACTIONAL_DENIED % {"max": 2, "count": 3}]
    preview = customers_email_check(actor=clerk, customers=Customer.objects.all(), marketing=True)
    assert (preview.recipients, preview.marketing_recipients) == (3, 0)
    settings.BACKOFFICE_STORE_POSTAL_ADDRESS = ""
    with pytest.raises(ValidationError) as error:
        customers_email_check(actor=clerk, customers=Customer.objects.all(), marketing=True)
    assert error.value.code == "no_postal_address"
    assert not Mailing.objects.exists()
