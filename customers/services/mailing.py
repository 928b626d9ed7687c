"""A mailing sent in batches at a steady rate, at most once per recipient even across a crash.

Each batch goes through ``customers_email`` (the one place that decides who is skipped and
renders the messages) in three steps:

1. claim: in one transaction, the batch is read under lock and its recipients are written to the
   mailing's state as *pending*, with the cursor moved past the batch; committed;
2. send: the messages go out one by one over one connection, at most ``rate`` a second;
3. confirm: in one transaction, one EMAILED event per delivered message and the state's counts.

A worker killed during step 2 leaves its batch pending. The next run of the same mailing starts
after the cursor and counts the pending recipients as failed ("not confirmed"), without sending
to them again: some of them may have received it, none receives it twice.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from customers.audit.events import Actor, customers_emailed_events
from customers.db.bulk import Selection, selection_queryset
from customers.models import Mailing
from customers.services.emailing import customers_email, mailing_record

logger = logging.getLogger(__name__)

# The failure reason of the recipients a stopped worker had claimed but not confirmed.
NOT_CONFIRMED = "not_confirmed"
NOT_CONFIRMED_LABEL = _("delivery not confirmed when the worker stopped; not sent again")
NOT_ACCEPTED = "not_accepted"
NOT_ACCEPTED_LABEL = _("not accepted by the mail server")
# A batch at the configured rate takes at most this long, so progress (the job's heartbeat) is
# reported well within the heartbeat timeout however slow the rate.
MAX_BATCH_SECONDS = 20


class MailingTakenOver(RuntimeError):
    """The state could not be saved: this run is no longer the mailing's (its job was reaped)."""


@dataclass
class MailingState:
    """Where a mailing is: what the next run resumes from and what the result page counts."""

    through: int = 0  # every selected customer with a smaller or equal id has been handled
    pending: list[int] = field(default_factory=list)  # claimed, delivery not confirmed
    selected: int = 0
    sent: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    complete: bool = False
    mailing: int | None = None  # the Mailing row that keeps the subject and text of the run

    @classmethod
    def from_dict(cls, data: dict | None) -> MailingState:
        data = data or {}
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def handled(self) -> int:
        return self.sent + sum(self.skipped.values()) + sum(self.failed.values())


Checkpoint = Callable[[MailingState], bool]


def mailing_send(
    *,
    actor: Actor,
    customers: Selection,
    subject: str,
    body: str,
    marketing: bool,
    state: MailingState,
    checkpoint: Checkpoint,
    progress: Callable[[MailingState], None] = lambda state: None,
    batch_size: int | None = None,
    rate: float | None = None,
) -> MailingState:
    """Send the mailing to the selected customers after ``state.through``; return the state.

    ``checkpoint(state)`` saves the state in the caller's store inside the current transaction
    and returns False when the mailing is no longer this run's (then nothing more is sent).
    ``progress(state)`` is called between batches, outside any transaction; it may raise to stop.
    ``rate`` is messages a second (0: no limit), ``batch_size`` recipients per transaction; both
    default to the settings BACKOFFICE_EMAIL_RATE and BACKOFFICE_EMAIL_BATCH.
    """
    rate = settings.BACKOFFICE_EMAIL_RATE if rate is None else rate
    size = batch_size or settings.BACKOFFICE_EMAIL_BATCH
    if rate:
        size = max(1, min(size, int(rate * MAX_BATCH_SECONDS)))
    ids = sorted(selection_queryset(customers).values_list("pk", flat=True))
    state.selected = len(ids)
    if state.pending:
        state.failed[NOT_CONFIRMED] = state.failed.get(NOT_CONFIRMED, 0) + len(state.pending)
        state.pending = []
    if state.mailing is None:
        with transaction.atomic():
            state.mailing = mailing_record(
                actor=actor, subject=subject, body=body, marketing=marketing, selected=len(ids)
            ).pk
            checkpoint(state)
    remaining = [pk for pk in ids if pk > state.through]
    due = time.monotonic()
    for start in range(0, len(remaining), size):
        batch = remaining[start : start + size]
        outbox = _claim(actor, batch, subject, body, marketing, state, checkpoint)
        delivered, failed, due = _deliver(outbox, rate, due)
        with transaction.atomic():
            customers_emailed_events(
                actor=actor, customer_ids=delivered, subject=subject.strip(), marketing=marketing
            )
            state.sent += len(delivered)
            _add(state.failed, failed)
            state.pending = []
            Mailing.objects.filter(pk=state.mailing).update(recipients=state.sent)
            checkpoint(state)  # if it was taken over, the events still say who got it
        progress(state)
    state.complete = True
    return state


def _claim(actor, batch, subject, body, marketing, state, checkpoint) -> list:
    """Decide and render the batch, and commit it as pending before anything is sent."""
    outbox: list[tuple[int, EmailMessage]] = []
    with transaction.atomic():
        result = customers_email(
            actor=actor,
            customers=batch,
            subject=subject,
            body=body,
            marketing=marketing,
            outbox=outbox,
        )
        outbox.sort(key=lambda item: item[0])  # in id order, as the cursor moves
        _add(state.skipped, result.skipped)
        state.pending = [pk for pk, _message in outbox]
        state.through = batch[-1]
        if not checkpoint(state):
            raise MailingTakenOver("the mailing's job is no longer running")
    return outbox


def _deliver(
    outbox: list[tuple[int, EmailMessage]], rate: float, due: float
) -> tuple[list[int], Counter[str], float]:
    """Send each message on its own (a refused address fails alone); pace them to ``rate``.

    ``due`` is when the next message may go; the pace holds across batches, so it is returned.
    """
    delivered: list[int] = []
    failed: Counter[str] = Counter()
    interval = 1 / rate if rate else 0.0
    connection = get_connection()
    connection.open()  # one connection for the batch (send_messages would open one per call)
    try:
        for customer_id, message in outbox:
            if interval:
                time.sleep(max(0.0, due - time.monotonic()))
                due = max(due, time.monotonic()) + interval
            try:
                sent = connection.send_messages([message])
            except Exception as error:
                # The reason is the error's kind: its text names the address, which the log keeps.
                logger.warning("mailing: message to customer %s failed: %r", customer_id, error)
                failed[type(error).__name__] += 1
                connection.close()
                connection = get_connection()
                connection.open()
                continue
            if sent:
                delivered.append(customer_id)
            else:
                failed[NOT_ACCEPTED] += 1
    finally:
        connection.close()
    return delivered, failed, due


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for reason, count in more.items():
        total[reason] = total.get(reason, 0) + count
