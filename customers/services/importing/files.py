"""The import's working files under the private folder, and how long they may stay.

Each upload gets a folder (``imports/<token>/``) holding the uploaded file, ``meta.json`` and
the preview and result reports (``preview.jsonl``, ``result.jsonl``). They hold personal data
(every cell of the rejected rows, old and new values), so they are kept for the retention
period only (``BACKOFFICE_IMPORT_RETENTION_HOURS``, a day by default) whether the import was
confirmed or abandoned, and an erasure removes at once every folder that names the person.
``process_erasure_requests`` (run from cron) enforces the retention; so does each new upload.
"""

from __future__ import annotations

import datetime
import html
import re
import shutil
import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import phonenumbers
from django.conf import settings

# The default retention; the setting overrides it.
IMPORT_RETENTION = datetime.timedelta(hours=24)
_NOT_DIGITS = re.compile(r"\D")
_XML_TEXT = re.compile(r">([^<]+)<")
UTF8_THEN_1252 = (("utf-8", "strict"), ("cp1252", "replace"))


def imports_root() -> Path:
    """Where the import folders live: under PRIVATE_UPLOAD_ROOT, never under a public URL."""
    return Path(settings.PRIVATE_UPLOAD_ROOT) / "imports"


def import_retention() -> datetime.timedelta:
    """How long an import's folder may stay on disk after it was last written."""
    hours = getattr(settings, "BACKOFFICE_IMPORT_RETENTION_HOURS", None)
    return IMPORT_RETENTION if hours is None else datetime.timedelta(hours=float(hours))


def exports_root() -> Path:
    """Where export jobs write their files (one folder per job), under PRIVATE_UPLOAD_ROOT."""
    return Path(settings.PRIVATE_UPLOAD_ROOT) / "exports"


def _folders(root: Path | None = None) -> list[Path]:
    root = imports_root() if root is None else root
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def folders_remove_older(root: Path, age: datetime.timedelta, *, now: float | None) -> list[str]:
    """Delete the folders under ``root`` last written more than ``age`` ago; return their names."""
    limit = (time.time() if now is None else now) - age.total_seconds()
    removed = []
    for folder in _folders(root):
        if folder.stat().st_mtime < limit:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def imports_remove_expired(*, now: float | None = None) -> list[str]:
    """Delete the import folders (upload and reports) older than the retention; return tokens.

    Run by ``process_erasure_requests`` and on every new upload, so an abandoned upload or an
    old report does not outlive the retention by more than the cron interval.
    """
    return folders_remove_older(imports_root(), import_retention(), now=now)


def _text_lines(path: Path) -> Iterator[str]:
    """The file's text, a line (or, in a spreadsheet, a cell) at a time, whatever its encoding."""
    with path.open("rb") as raw:
        head = raw.read(4)
    if head.startswith(b"PK\x03\x04"):  # xlsx: the cells are the text nodes of its XML parts
        with zipfile.ZipFile(path) as book:
            for name in book.namelist():
                if name.endswith(".xml"):
                    xml = book.read(name).decode("utf-8", "replace")
                    yield from (html.unescape(text) for text in _XML_TEXT.findall(xml))
        return
    utf16 = head[:2] in (b"\xff\xfe", b"\xfe\xff")
    # UTF-8 first, strictly; bytes that are not UTF-8 are Windows-1252 (as the importer reads).
    for encoding, errors in (("utf-16", "replace"),) if utf16 else UTF8_THEN_1252:
        try:
            with path.open(encoding=encoding, errors=errors) as text:
                yield from text
            return
        except UnicodeDecodeError:
            continue


def _phone_digits(value: str) -> set[str]:
    """The digit strings a phone is written with: international (E.164) and national."""
    digits = {_NOT_DIGITS.sub("", value)}
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return digits
    return digits | {str(number.national_number)}


def _names_any(path: Path, emails: set[str], phones: set[str]) -> bool:
    for line in _text_lines(path):
        lowered = line.lower()
        if any(email in lowered for email in emails):
            return True
        digits = _NOT_DIGITS.sub("", line)
        if digits and any(phone in digits for phone in phones):
            return True
    return False


def imports_forget(*, values: Iterable[str]) -> list[str]:
    """Delete every import folder whose files hold one of these emails or phones; return tokens.

    Erasure calls this with the erased customers' contact details. A folder goes whole (its
    upload and reports together): a report without its upload is no use to anyone. Export
    jobs' files (a CSV of the list) are searched the same way: one naming the person goes.
    """
    emails = {v.strip().lower() for v in values if "@" in v}
    phones = {
        digits
        for v in values
        if "@" not in v
        for digits in _phone_digits(v)
        if len(digits) >= 6  # shorter digit runs are dates and counts, not a phone
    }
    if not emails and not phones:
        return []
    removed = []
    for folder in [*_folders(), *_folders(exports_root())]:
        if any(_names_any(path, emails, phones) for path in folder.iterdir() if path.is_file()):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed
