"""The customer list's long bulk work as background jobs: big selections and mailings.

The request confirms on the action's own page, then hands off here (``bulk_job_start``,
``mailing_job_start``). When the job runs it reads the selection again from what the
confirmation page posted (the list's filters and search, or the ticked ids), calls the same
services batch by batch (each batch its own transaction, so other staff keep saving and a cancel
stops between batches) and reports with the very sentences of the immediate path.

Registered from ``customers/job_kinds.py``. Nothing here imports ``customers.admin`` at import
time: the admin imports this module to hand off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from backoffice.jobs.models import Job, JobState
from backoffice.jobs.registry import JobCancelled, register_job_kind
from backoffice.jobs.services import job_start
from customers.db.bulk import selection_queryset
from customers.models import Customer
from customers.services.mailing import MailingState, mailing_send

if TYPE_CHECKING:
    from customers.admin.selection import ActionSelection

BULK_PREFIX = "customers.bulk."
MAILING = "customers.mailing"
# The job kinds of the list's actions, labelled with the action pages' own titles.
BULK_LABELS = {
    "add_tags": _("Add tags"),
    "remove_tags": _("Remove tags"),
    "assign_group": _("Assign to a group"),
    "remove_group": _("Remove from group"),
    "archive": _("Archive customers"),
    "unarchive": _("Unarchive customers"),
    "delete_customers": _("Delete customers"),
}


@dataclasses.dataclass(frozen=True)
class Operation:
    """A list action's work, shared by the request (small selections) and the job (big ones).

    ``run(actor, customers, data)`` calls the service on a selection (a queryset or a batch of
    ids); ``add(result, result)`` sums two batches' results; ``report(modeladmin, request,
    result)`` says the outcome through ``modeladmin.message_user`` (a ``Said`` in a job).
    """

    run: Callable[[Any, Any, dict], Any]
    report: Callable[[Any, Any, Any], None]
    add: Callable[[Any, Any], Any] = lambda first, second: results_add(first, second)


def results_add(first, second):
    """Add two batches' results of one service (dataclasses): counts and per-key counts summed,
    lists joined, flags or-ed, anything else (the group) taken from the later batch."""
    values = {}
    for item in dataclasses.fields(first):
        a, b = getattr(first, item.name), getattr(second, item.name)
        if isinstance(a, bool):
            values[item.name] = a or b
        elif isinstance(a, int):
            values[item.name] = a + b
        elif isinstance(a, dict):
            values[item.name] = {key: a.get(key, 0) + b.get(key, 0) for key in {**a, **b}}
        elif isinstance(a, list):
            values[item.name] = a + b
        else:
            values[item.name] = b if b is not None else a
    return type(first)(**values)


# --- the selection, carried from the confirmation page to the job ---------------------------


def selection_params(selection: ActionSelection) -> dict:
    """What the job needs to read the selection again: the list's query, or the ticked ids."""
    return {
        "query": selection.list_query,
        "select_across": selection.select_across,
        "ids": [] if selection.select_across else sorted(int(pk) for pk in selection.ids),
    }


def selection_rebuild(*, actor, params: dict) -> QuerySet[Customer]:
    """Return the selected customers as the change list finds them now, for ``actor``.

    The same ChangeList the list page builds from the same query string (default status filter,
    search, filters), so a job acts on what "select all N" meant, re-evaluated when it runs.
    """
    from django.contrib import admin

    request = HttpRequest()
    request.method = "GET"
    request.GET = QueryDict(params["query"])
    request.path = request.path_info = reverse("admin:customers_customer_changelist")
    request.user = actor
    modeladmin = admin.site.get_model_admin(Customer)
    queryset = modeladmin.get_changelist_instance(request).get_queryset(request)
    if not params["select_across"]:
        queryset = queryset.filter(pk__in=params["ids"])
    return queryset


def _dedupe_key(actor, kind: str, params: dict) -> str:
    """The same confirmation posted twice (a double click) gives the same key."""
    text = json.dumps([actor.pk, kind, params], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _start(*, actor, kind: str, params: dict, total: int) -> Job:
    return job_start(
        actor=actor,
        kind=kind,
        params=params,
        total=total,
        dedupe_key=_dedupe_key(actor, kind, params),
    )


# --- what the job says: the immediate path's own sentences ----------------------------------


class Said:
    """Stands in for the admin when an action reports from a job: keeps what it would say."""

    def __init__(self):
        self.lines: list[tuple[int, str]] = []

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs) -> None:
        self.lines.append((level, str(message)))

    @property
    def text(self) -> str:
        return " ".join(text for _level, text in self.lines)


def _summary(said: Said, **counts) -> dict:
    return {**counts, "lines": [[level, text] for level, text in said.lines]}


# --- "select all" bulk actions ---------------------------------------------------------------


def bulk_job_start(*, actor, action: str, selection: ActionSelection, data: dict) -> Job:
    """Start list action ``action`` (a key of ``BULK_LABELS``) on ``selection`` as a job.

    ``data`` is what the page's form gave the service, as JSON (tag names, a group's id).
    """
    params = {"selection": selection_params(selection), "data": data}
    return _start(actor=actor, kind=BULK_PREFIX + action, params=params, total=selection.count)


def bulk_action_run(job: Job, progress) -> dict:
    """Run a list action on its selection, re-read now, in batches; report as the list would."""
    from customers.admin.actions import OPERATIONS

    operation = OPERATIONS[job.kind.removeprefix(BULK_PREFIX)]
    customers = selection_rebuild(actor=job.owner, params=job.params["selection"])
    ids = sorted(selection_queryset(customers).values_list("pk", flat=True))
    size = settings.BACKOFFICE_BULK_JOB_BATCH
    batches = [ids[start : start + size] for start in range(0, len(ids), size)] or [[]]
    outcome, done, said = None, 0, Said()
    try:
        for batch in batches:
            result = operation.run(job.owner, batch, job.params["data"])
            outcome = result if outcome is None else operation.add(outcome, result)
            done += len(batch)
            said = Said()
            operation.report(said, None, outcome)
            progress(done, total=len(ids), message=said.text)
    except JobCancelled:
        raise JobCancelled(summary=_summary(said, selected=len(ids), done=done)) from None
    return _summary(said, selected=len(ids), done=done)


# --- mailings --------------------------------------------------------------------------------


def mailing_job_start(
    *, actor, selection: ActionSelection, subject: str, body: str, marketing: bool
) -> Job:
    """Start the mailing as a job. Confirming the same mailing again (same selection, subject,
    text and kind) while it runs returns its job; after its job stopped, it continues it."""
    params = {
        "selection": selection_params(selection),
        "subject": subject,
        "body": body,
        "marketing": marketing,
    }
    return _start(actor=actor, kind=MAILING, params=params, total=selection.count)


def mailing_run(job: Job, progress) -> dict:
    """Send the mailing in batches at the configured rate, resuming a stopped run of it."""
    from customers.admin.actions import report_mailing

    state, resumed = _mailing_resume(job)

    def report(current: MailingState) -> None:
        said = Said()
        report_mailing(said, None, current)
        progress(current.handled, total=current.selected, message=said.text)

    try:
        mailing_send(
            actor=job.owner,
            customers=selection_rebuild(actor=job.owner, params=job.params["selection"]),
            subject=job.params["subject"],
            body=job.params["body"],
            marketing=job.params["marketing"],
            state=state,
            checkpoint=lambda current: _mailing_save(job, current),
            progress=report,
        )
        report(state)  # the last word on the job row is the whole mailing's outcome
    except JobCancelled:
        raise JobCancelled(summary=_mailing_summary(state, resumed)) from None
    return _mailing_summary(state, resumed)


def _mailing_resume(job: Job) -> tuple[MailingState, int | None]:
    """The state of the last run of the same mailing if it stopped before the end."""
    previous = (
        Job.objects.filter(
            kind=job.kind, owner_id=job.owner_id, dedupe_key=job.dedupe_key, pk__lt=job.pk
        )
        .order_by("-pk")
        .first()
    )
    if previous is None or not previous.result or previous.result.get("complete", True):
        return MailingState(), None
    return MailingState.from_dict(previous.result), previous.pk


def _mailing_save(job: Job, state: MailingState) -> bool:
    """Save the mailing's state on its job row; False once the job is no longer running."""
    # A reaped job (its worker thought dead) must not claim another batch: its mailing may
    # already be continuing in a new job.
    updated = Job.objects.filter(pk=job.pk, state=JobState.RUNNING).update(result=state.as_dict())
    return updated == 1


def _mailing_summary(state: MailingState, resumed: int | None) -> dict:
    from customers.admin.actions import report_mailing

    said = Said()
    report_mailing(said, None, state)
    return _summary(said, **state.as_dict(), resumed_from=resumed)


for _action, _label in BULK_LABELS.items():
    register_job_kind(BULK_PREFIX + _action, bulk_action_run, _label)
register_job_kind(MAILING, mailing_run, _("Email customers"))
