"""What an import reports: the file-level error, each record's outcome and the run's totals.

Every stage speaks these types; the admin preview, the rejected-rows file and the command's JSON
are built from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import npgettext

FIELD_AND_COLUMN = _("%(field)s (column “%(column)s”)")

CREATED, UPDATED, UNCHANGED, SKIPPED, ERROR = "created", "updated", "unchanged", "skipped", "error"
# Why a record was skipped, when the totals count it apart: it matches another channel's customer.
FROM_CHANNEL = "channel"

# A problem found in a record: a message constant and its parameters.
Problem = tuple[Any, dict]


class ImportFileError(ValidationError):
    """The file as a whole cannot be imported; its remaining records were not read."""


@dataclass
class RowReport:
    """What happened to one record: what the preview lists and the rejected-rows CSV holds."""

    record: int
    outcome: str
    key: str = ""
    customer_id: int | None = None
    changes: dict[str, list] = field(default_factory=dict)
    message: str = ""
    repeated: bool = False
    cells: list[str] | None = None
    reason: str = ""


@dataclass
class RowError:
    record: int
    message: str


@dataclass
class ImportResult:
    file: str
    format: str = ""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    # Of the skipped: records matching a customer from another sales channel (Shopify, POS...).
    skipped_channel: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    repeated_keys: int = 0
    dry_run: bool = False
    all_or_nothing: bool = False
    # False when nothing was written: a dry run, or all-or-nothing refused by an error.
    committed: bool = False
    header: list[str] = field(default_factory=list)
    fatal: str = ""

    @property
    def records(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped + len(self.errors)

    def count(self, report: RowReport) -> None:
        """Add one record's outcome to the totals."""
        if report.outcome == ERROR:
            self.errors.append(RowError(report.record, report.message))
        else:
            setattr(self, report.outcome, getattr(self, report.outcome) + 1)
        if report.reason == FROM_CHANNEL:
            self.skipped_channel += 1

    def warn(self, text: str) -> None:
        """Add a warning once, however many records meet it."""
        if text not in self.warnings:
            self.warnings.append(text)

    def as_json(self) -> dict[str, Any]:
        """The summary the command prints: what was (or, dry, would be) written."""
        refused = self.all_or_nothing and bool(self.errors)
        data = {
            "file": self.file,
            "format": self.format,
            "created": 0 if refused else self.created,
            "updated": 0 if refused else self.updated,
            "unchanged": 0 if refused else self.unchanged,
            "skipped": 0 if refused else self.skipped,
            "errors": [{"record": e.record, "message": e.message} for e in self.errors],
        }
        if self.fatal:
            data["errors"] = [{"record": 0, "message": self.fatal}]
        data["warnings"] = list(self.warnings)
        return data


def problems_message(problems: list[Problem]) -> str:
    """Join a record's problems into the one message the user reads."""
    return " ".join(
        sentence(str(message) % _named(params) if params else str(message))
        for message, params in problems
    )


def _named(params: dict) -> dict:
    """Name a problem's field in the reader's language, with the file's column beside it.

    "Téléphone (colonne « Phone ») : 12345 n'est pas un numéro valide" rather than the column
    alone: the file's header may be in any language, the field is ours.
    """
    name = params.get("field")
    if not name or "column" not in params:
        return params
    from customers.services.importing.formats import MAPPING_FIELDS

    label = MAPPING_FIELDS.get(name)
    if label is None or str(label).casefold() == str(params["column"]).casefold():
        return {**params, "column": str(label or params["column"])}
    return {**params, "column": FIELD_AND_COLUMN % {"field": label, "column": params["column"]}}


def sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", "»", "”")) else text + "."


def describe(result: ImportResult) -> str:
    """One sentence with the totals, for messages and the command's plain output.

    Each count has its own plural form: French and Spanish agree each word with its number
    ("1 créé, 2 mis à jour").
    """
    parts = [
        npgettext("import totals", "%(count)s created", "%(count)s created", result.created),
        npgettext("import totals", "%(count)s updated", "%(count)s updated", result.updated),
        npgettext("import totals", "%(count)s unchanged", "%(count)s unchanged", result.unchanged),
        npgettext("import totals", "%(count)s skipped", "%(count)s skipped", result.skipped),
        npgettext(
            "import totals",
            "%(count)s record rejected",
            "%(count)s records rejected",
            len(result.errors),
        ),
    ]
    counts = (result.created, result.updated, result.unchanged, result.skipped, len(result.errors))
    return ", ".join(part % {"count": n} for part, n in zip(parts, counts, strict=True)) + "."
