"""Private files of the admin import and export: uploads, their reports, export files.

They hold personal data: kept under PRIVATE_UPLOAD_ROOT (never MEDIA_ROOT or any public URL),
one folder per upload or export job, and removed after their retention time by
:func:`private_files_remove_expired` (run on each new upload and export, and by the
``remove_expired_files`` command).
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from import_export.tmp_storages import TempFolderStorage

from customers.services.importing import (
    CREATED,
    ERROR,
    FORMAT_LABELS,
    SKIPPED,
    UNCHANGED,
    UPDATED,
    ImportResult,
    RowReport,
)

# The import files' retention rule lives in importing.files; re-exported for the admin.
from customers.services.importing.files import (  # noqa: F401
    IMPORT_RETENTION,
    exports_root,
    folders_remove_older,
    imports_remove_expired,
    imports_root,
)

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,40}")
EXPORT_NAME = "customers.csv"


class PrivateImportStorage(TempFolderStorage):
    """django-import-export's temporary file storage, kept under PRIVATE_UPLOAD_ROOT.

    One folder per upload: ``upload.csv``, ``meta.json`` (who uploaded what, with which options:
    a dict later steps may extend, such as a column mapping), ``preview.jsonl`` and
    ``result.jsonl`` (one report per record).
    """

    def __init__(self, token: str, **kwargs):
        super().__init__(name="upload.csv", read_mode="rb", **kwargs)
        self.token = token

    @staticmethod
    def root() -> Path:
        return imports_root()

    def folder(self) -> Path:
        return self.root() / self.token

    def get_full_path(self) -> str:
        return str(self.folder() / self.name)

    def save_upload(self, uploaded) -> None:
        self.folder().mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.get_full_path(), "wb") as out:
            for chunk in uploaded.chunks():
                out.write(chunk)

    def open(self):
        return open(self.get_full_path(), "rb")

    def exists(self) -> bool:
        return Path(self.get_full_path()).exists()

    def remove(self) -> None:
        Path(self.get_full_path()).unlink(missing_ok=True)

    def remove_all(self) -> None:
        shutil.rmtree(self.folder(), ignore_errors=True)

    # -- what the jobs read and write
    def meta(self) -> dict | None:
        """The upload's metadata, or None for a token that names no upload."""
        path = self.folder() / "meta.json"
        if not TOKEN_RE.fullmatch(self.token) or not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def meta_write(self, meta: dict) -> None:
        (self.folder() / "meta.json").write_text(json.dumps(meta), encoding="utf-8")

    def claim(self) -> Path | None:
        """Take the upload for the one import that may write it; None if it was taken before.

        A rename is atomic: of two confirms of one upload, exactly one gets the file.
        """
        claimed = self.folder() / "importing.csv"
        try:
            Path(self.get_full_path()).rename(claimed)
        except FileNotFoundError:
            return None
        return claimed

    def report_path(self, stage: str) -> Path:
        return self.folder() / f"{stage}.jsonl"


class UploadSizeLimit(FileUploadHandler):
    """Refuse an upload as soon as its bytes pass BACKOFFICE_IMPORT_MAX_BYTES.

    Installed first, for the import page only: it passes each chunk on to Django's handlers
    until the limit is passed, then stops the upload, so a huge file never reaches memory or
    a temporary file. ``refused`` tells the page to say why.
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = settings.BACKOFFICE_IMPORT_MAX_BYTES
        self.received = 0
        self.refused = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received = start + len(raw_data)
        if self.received > self.limit:
            self.refused = True
            # Without a reset the rest of the request is read and dropped, never stored:
            # the browser then gets the page with the message rather than a broken connection.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


class ReportWriter:
    """Writes each record's report to a JSON-lines file as it comes (memory stays flat)."""

    def __init__(self, target: Path):
        self.file = target.open("w", encoding="utf-8")
        self.records = 0
        self.imported = 0  # created, updated or unchanged: written (or, dry, would be)

    def __call__(self, report: RowReport) -> None:
        self.records += 1
        if report.outcome in (CREATED, UPDATED, UNCHANGED):
            self.imported += 1
        self.file.write(json.dumps(report.__dict__, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.file.close()


def reports_read(source: Path, outcome: str | None = None) -> Iterator[dict]:
    """Yield the stored reports (of one outcome, if given), in file order."""
    if not source.exists():
        return
    with source.open(encoding="utf-8") as lines:
        for line in lines:
            report = json.loads(line)
            if outcome is None or report["outcome"] == outcome:
                yield report


def import_summary(result: ImportResult) -> dict:
    """The totals the preview and result pages show (a job's result summary)."""
    return {
        "format": result.format,
        "format_label": str(FORMAT_LABELS.get(result.format, result.format)),
        CREATED: result.created,
        UPDATED: result.updated,
        UNCHANGED: result.unchanged,
        SKIPPED: result.skipped,
        "skipped_channel": result.skipped_channel,
        ERROR: len(result.errors),
        "repeated": result.repeated_keys,
        "warnings": result.warnings,
        "committed": result.committed,
        "header": result.header,
    }


def export_folder(job_pk: int) -> Path:
    return exports_root() / str(job_pk)


def export_path(job_pk: int) -> Path:
    return export_folder(job_pk) / EXPORT_NAME


def exports_remove_expired(*, now: float | None = None) -> list[str]:
    """Delete the export files older than BACKOFFICE_EXPORT_RETENTION_HOURS; return their jobs."""
    age = datetime.timedelta(hours=settings.BACKOFFICE_EXPORT_RETENTION_HOURS)
    return folders_remove_older(exports_root(), age, now=now)


def private_files_remove_expired(*, now: float | None = None) -> dict[str, list[str]]:
    """Delete every expired import folder and export file."""
    return {"imports": imports_remove_expired(now=now), "exports": exports_remove_expired(now=now)}
