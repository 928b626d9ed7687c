"""Emailing many customers: a subject and body with placeholders, sent after the commit."""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from customers.audit.events import Actor, customers_emailed_events
from customers.db.bulk import (
    Selection,
    customers_with_ids,
    id_batches,
    selection_queryset,
)
from customers.db.locks import selection_lock
from customers.models import Consent, Status

logger = logging.getLogger(__name__)

PLACEHOLDERS = ("first_name", "last_name", "email")
EMAIL_UNKNOWN_PLACEHOLDER = _(
    "Unknown placeholder %(placeholders)s: use {first_name}, {last_name} or {email}."
)
EMAIL_SUBJECT_EMPTY = _("The email needs a subject.")
EMAIL_BODY_EMPTY = _("The email needs a text.")

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


@transaction.atomic
def customers_email(
    *, actor: Actor, customers: Selection, subject: str, body: str, marketing: bool
) -> EmailResult:
    """Email each selected customer once, after the transaction commits; count who is skipped.

    Skipped: merged, redacted, with a pending erasure request, archived, without an email and,
    for a marketing email, without email consent. One EMAILED event per emailed customer.
    """
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject:
        raise ValidationError(EMAIL_SUBJECT_EMPTY, code="subject_empty")
    if not body:
        raise ValidationError(EMAIL_BODY_EMPTY, code="body_empty")
    email_template_check(subject)
    email_template_check(body)
    ids = selection_lock(customers)
    skipped: Counter[str] = Counter()
    outgoing: list[tuple[str, str, str]] = []
    emailed: list[int] = []
    for batch in id_batches(ids):
        for row in customers_with_ids(batch).values(*_FIELDS, "email_consent"):
            reason = _skip_reason(row, marketing)
            if reason:
                skipped[reason] += 1
                continue
            values = {name: row[name] or "" for name in PLACEHOLDERS}
            line = " ".join(email_render(subject, values).split())  # no newline in a header
            outgoing.append((row["email"], line, email_render(body, values)))
            emailed.append(row["pk"])
    customers_emailed_events(
        actor=actor, customer_ids=emailed, subject=subject, marketing=marketing
    )
    result = EmailResult(selected=len(ids), emailed=len(emailed), skipped=dict(skipped))
    transaction.on_commit(lambda: _send(outgoing, result))
    return result


def _send(outgoing: list[tuple[str, str, str]], result: EmailResult) -> None:
    """Hand the messages to the email backend in batches over one connection each."""
    for start in range(0, len(outgoing), SEND_BATCH):
        batch = outgoing[start : start + SEND_BATCH]
        messages = [
            EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
            for to, subject, body in batch
        ]
        try:
            result.delivered += get_connection().send_messages(messages) or 0
        except Exception:
            # The data is committed; losing the rest of the mailing silently would be worse.
            logger.exception("bulk email: %d messages not sent", len(messages))
            result.failed += len(messages)
