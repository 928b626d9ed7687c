"""The job kinds other apps register: a name, the handler that does the work, a label for people."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise


class JobCancelled(Exception):  # noqa: N818 - a signal, not an error
    """Raised by `progress(...)` once cancel was requested; carries the handler's partial summary.

    A handler either lets it propagate (optionally re-raising it with `summary=`) or catches it and
    returns the summary of what it committed so far.
    """

    def __init__(self, summary: dict | None = None):
        super().__init__("cancelled")
        self.summary = summary


Handler = Callable[[Any, Any], dict | None]


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler
    label: str | Promise


_kinds: dict[str, JobKind] = {}


def register_job_kind(name: str, handler: Handler, label: str | Promise) -> JobKind:
    """Register `handler(job, progress) -> summary dict` under `name`, shown to people as `label`.

    Call it from your app's `job_kinds` module (found at start-up) with a `gettext_lazy` label.
    Registering a name again replaces it (module reloads), so the latest handler runs.
    """
    kind = JobKind(name=name, handler=handler, label=label)
    _kinds[name] = kind
    return kind


def get_job_kind(name: str) -> JobKind:
    """Return the registered kind `name`; raise LookupError if no app registered it."""
    try:
        return _kinds[name]
    except KeyError:
        raise LookupError(f"No job kind {name!r} is registered") from None


def kind_label(name: str) -> str:
    kind = _kinds.get(name)
    return str(kind.label) if kind else name
