"""Emailing many customers: a subject and body with placeholders, sent after the commit."""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import models, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from customers.audit.events import Actor, actor_fields, customers_emailed_events
from customers.db.bulk import (
    Selection,
    customers_with_ids,
    id_batches,
    selection_queryset,
)
from customers.db.locks import selection_lock
from customers.models import Consent, Mailing, Status
from customers.services.consent import unsubscribe_token

logger = logging.getLogger(__name__)

PLACEHOLDERS = ("first_name", "last_name", "email")
EMAIL_UNKNOWN_PLACEHOLDER = _(
    "Unknown placeholder %(placeholders)s: use {first_name}, {last_name} or {email}."
)
EMAIL_SUBJECT_EMPTY = _("The email needs a subject.")
EMAIL_BODY_EMPTY = _("The email needs a text.")
EMAIL_NO_POSTAL_ADDRESS = _(
    "A marketing email must show the store's postal address, and none is set: ask an "
    "administrator to set BACKOFFICE_STORE_POSTAL_ADDRESS. Nothing was sent."
)
EMAIL_NO_PUBLIC_URL = _(
    "A marketing email must carry an unsubscribe link, and the back office's public address is "
    "not set: ask an administrator to set BACKOFFICE_PUBLIC_URL. Nothing was sent."
)
EMAIL_BULK_TRANSACTIONAL_DENIED = _(
    "A non-marketing email reaches customers who unsubscribed from marketing, so sending one to "
    "more than %(max)d customers needs the permission “Can send a non-marketing email to many "
    "customers”. This one would reach %(count)d. Nothing was sent."
)
BULK_TRANSACTIONAL_PERMISSION = "customers.send_bulk_transactional_email"
TRANSACTIONAL_MAX_DEFAULT = 50
FOOTER_TEMPLATE = "customers/email/marketing_footer.txt"
ONE_CLICK = "List-Unsubscribe=One-Click"
_URL_SLOT = "\x00unsubscribe-url\x00"

# Anything in braces is a placeholder; only the three above are filled. Never str.format: a
# template like "{email.__class__}" must not reach Python attributes.
_PLACEHOLDER = re.compile(r"\{([^{}\s]*)\}")
SEND_BATCH = 100


class EmailSkip(models.TextChoices):
    """Why a selected customer gets no email, checked in this order."""

    MERGED = "merged", _("merged into another customer")
    REDACTED = "redacted", _("personal data erased")
    ERASURE = "erasure_requested", _("erasure requested")
    ARCHIVED = "archived", _("archived")
    NO_EMAIL = "no_email", _("no email address")
    NO_CONSENT = "no_consent", _("no email marketing consent")


@dataclass
class EmailResult:
    selected: int
    emailed: int
    skipped: dict[str, int] = field(default_factory=dict)
    # Filled after the commit, when the messages went to the email backend.
    delivered: int = 0
    failed: int = 0


def email_template_check(text: str) -> None:
    """Refuse placeholders other than {first_name}, {last_name} and {email}."""
    unknown = sorted({m.group(0) for m in _PLACEHOLDER.finditer(text or "")} - _known())
    if unknown:
        raise ValidationError(
            EMAIL_UNKNOWN_PLACEHOLDER,
            code="unknown_placeholder",
            params={"placeholders": ", ".join(unknown)},
        )


def _known() -> set[str]:
    return {"{" + name + "}" for name in PLACEHOLDERS}


def email_render(text: str, values: dict[str, str]) -> str:
    """Fill the three placeholders in ``text``; leave everything else as typed."""

    def fill(match: re.Match) -> str:
        name = match.group(1)
        return values.get(name, "") if name in PLACEHOLDERS else match.group(0)

    return _PLACEHOLDER.sub(fill, text)


@dataclass
class EmailPreview:
    """Who a mailing to the selection would reach, before anything is sent."""

    recipients: int
    marketing_recipients: int
    skipped: dict[str, int] = field(default_factory=dict)


_FIELDS = ("pk", "first_name", "last_name", "email", "status", "erasure_requested_at")


def customers_email_preview(*, customers: Selection) -> EmailPreview:
    """Count who would get the email, as a transactional and as a marketing email; one query."""
    recipients = marketing = 0
    skipped: Counter[str] = Counter()
    rows = selection_queryset(customers).values(*_FIELDS, "email_consent")
    for row in rows.iterator(chunk_size=5000):
        reason = _skip_reason(row, marketing=False)
        if reason:
            skipped[reason] += 1
            continue
        recipients += 1
        marketing += _skip_reason(row, marketing=True) is None
    return EmailPreview(recipients=recipients, marketing_recipients=marketing, skipped=skipped)


def _skip_reason(row: dict, marketing: bool) -> str | None:
    if row["status"] == Status.MERGED:
        return EmailSkip.MERGED
    if row["status"] == Status.REDACTED:
        return EmailSkip.REDACTED
    if row["erasure_requested_at"] is not None:
        return EmailSkip.ERASURE
    if row["status"] == Status.ARCHIVED:
        return EmailSkip.ARCHIVED
    if not row["email"]:
        return EmailSkip.NO_EMAIL
    if marketing and row["email_consent"] != Consent.SUBSCRIBED:
        return EmailSkip.NO_CONSENT
    return None


@dataclass(frozen=True)
class _Outgoing:
    to: str
    subject: str
    body: str
    headers: dict[str, str]


def _texts_check(subject: str, body: str) -> tuple[str, str]:
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject:
        raise ValidationError(EMAIL_SUBJECT_EMPTY, code="subject_empty")
    if not body:
        raise ValidationError(EMAIL_BODY_EMPTY, code="body_empty")
    email_template_check(subject)
    email_template_check(body)
    return subject, body


def _marketing_footer() -> str:
    """The footer every marketing email ends with, its link left as a slot; refuse without it."""
    postal = getattr(settings, "BACKOFFICE_STORE_POSTAL_ADDRESS", "").strip()
    if not postal:
        raise ValidationError(EMAIL_NO_POSTAL_ADDRESS, code="no_postal_address")
    if not getattr(settings, "BACKOFFICE_PUBLIC_URL", "").strip():
        raise ValidationError(EMAIL_NO_PUBLIC_URL, code="no_public_url")
    context = {"unsubscribe_url": _URL_SLOT, "postal_address": postal}
    return render_to_string(FOOTER_TEMPLATE, context).strip()


def unsubscribe_url(*, customer_id: int, channel: str = "email") -> str:
    """The absolute address of a customer's public unsubscribe page."""
    token = unsubscribe_token(customer_id=customer_id, channel=channel)
    path = reverse("customer_unsubscribe", kwargs={"token": token})
    return getattr(settings, "BACKOFFICE_PUBLIC_URL", "").strip().rstrip("/") + path


def _unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 2369 / RFC 8058 headers: the mailbox provider's own one-click unsubscribe button."""
    targets = [f"<{url}>"]
    mailto = getattr(settings, "BACKOFFICE_UNSUBSCRIBE_MAILTO", "").strip()
    if mailto:
        targets.append(f"<mailto:{mailto}?subject=unsubscribe>")
    return {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": ONE_CLICK}


def _message(row: dict, subject: str, body: str, footer: str | None) -> _Outgoing:
    values = {name: row[name] or "" for name in PLACEHOLDERS}
    line = " ".join(email_render(subject, values).split())  # no newline in a header
    text = email_render(body, values)
    if footer is None:
        return _Outgoing(row["email"], line, text, {})
    url = unsubscribe_url(customer_id=row["pk"])
    text = f"{text}\n\n-- \n{footer.replace(_URL_SLOT, url)}"
    return _Outgoing(row["email"], line, text, _unsubscribe_headers(url))


def _bulk_transactional_check(actor: Actor, marketing: bool, recipients: int) -> None:
    """Refuse a large non-marketing mailing to a staff user without the permission for it."""
    limit = getattr(settings, "BACKOFFICE_TRANSACTIONAL_EMAIL_MAX", TRANSACTIONAL_MAX_DEFAULT)
    if marketing or recipients <= limit or not isinstance(actor, AbstractBaseUser):
        return  # commands and jobs without a user run with the operator's authority
    if not actor.has_perm(BULK_TRANSACTIONAL_PERMISSION):
        raise ValidationError(
            EMAIL_BULK_TRANSACTIONAL_DENIED,
            code="bulk_transactional_denied",
            params={"max": limit, "count": recipients},
        )


def customers_email_check(*, actor: Actor, customers: Selection, marketing: bool) -> EmailPreview:
    """Refuse before any work what :func:`customers_email` would refuse; return the preview.

    For a caller that sends later (a background job): a missing footer setting or a big
    non-marketing mailing without its permission is said on the confirmation page, not in the
    job's failure. ``customers_email`` checks again when it runs.
    """
    if marketing:
        _marketing_footer()
    preview = customers_email_preview(customers=customers)
    reach = preview.marketing_recipients if marketing else preview.recipients
    _bulk_transactional_check(actor, marketing, reach)
    return preview


@transaction.atomic
def customers_email(
    *,
    actor: Actor,
    customers: Selection,
    subject: str,
    body: str,
    marketing: bool,
    outbox: list[tuple[int, EmailMessage]] | None = None,
) -> EmailResult:
    """Email each selected customer once, after the transaction commits; count who is skipped.

    Skipped: merged, redacted, with a pending erasure request, archived, without an email and,
    for a marketing email, without email consent. A marketing email carries the one-click
    unsubscribe headers and a footer with the link and the store's postal address (refused when
    either setting is missing); a non-marketing one to more than
    ``BACKOFFICE_TRANSACTIONAL_EMAIL_MAX`` customers needs its own permission. One ``Mailing``
    keeps the full subject and text, and one EMAILED event per emailed customer says who got it.

    With ``outbox`` (the mailing job, a batch at a time) nothing is sent and nothing written:
    each ready message is appended as ``(customer id, message)``; the job delivers them, records
    EMAILED for the delivered ones only, and keeps one ``Mailing`` for the whole run.
    """
    subject, body = _texts_check(subject, body)
    footer = _marketing_footer() if marketing else None
    ids = selection_lock(customers)
    skipped: Counter[str] = Counter()
    outgoing: list[_Outgoing] = []
    emailed: list[int] = []
    for batch in id_batches(ids):
        for row in customers_with_ids(batch).values(*_FIELDS, "email_consent"):
            reason = _skip_reason(row, marketing)
            if reason:
                skipped[reason] += 1
                continue
            outgoing.append(_message(row, subject, body, footer))
            emailed.append(row["pk"])
    _bulk_transactional_check(actor, marketing, len(emailed))
    result = EmailResult(selected=len(ids), emailed=len(emailed), skipped=dict(skipped))
    if outbox is not None:
        outbox.extend(zip(emailed, _messages(outgoing), strict=True))
        return result
    mailing_record(
        actor=actor,
        subject=subject,
        body=body,
        marketing=marketing,
        selected=len(ids),
        recipients=len(emailed),
    )
    customers_emailed_events(
        actor=actor, customer_ids=emailed, subject=subject, marketing=marketing
    )
    transaction.on_commit(lambda: _send(outgoing, result))
    return result


def mailing_record(
    *,
    actor: Actor,
    subject: str,
    body: str,
    marketing: bool,
    selected: int,
    recipients: int = 0,
) -> Mailing:
    """Keep what a mailing said, as typed (placeholders unfilled), and to how many it went."""
    return Mailing.objects.create(
        **actor_fields(actor),
        subject=subject.strip(),
        body=body.strip(),
        marketing=marketing,
        selected=selected,
        recipients=recipients,
    )


def _messages(outgoing: list[_Outgoing]) -> list[EmailMessage]:
    return [
        EmailMessage(
            item.subject,
            item.body,
            settings.DEFAULT_FROM_EMAIL,
            [item.to],
            headers=item.headers or None,
        )
        for item in outgoing
    ]


def _send(outgoing: list[_Outgoing], result: EmailResult) -> None:
    """Hand the messages to the email backend in batches over one connection each."""
    for start in range(0, len(outgoing), SEND_BATCH):
        messages = _messages(outgoing[start : start + SEND_BATCH])
        try:
            result.delivered += get_connection().send_messages(messages) or 0
        except Exception:
            # The data is committed; losing the rest of the mailing silently would be worse.
            logger.exception("bulk email: %d messages not sent", len(messages))
            result.failed += len(messages)
