"""The import's working files: kept for the retention only, and forgotten with an erased person."""

from __future__ import annotations

import io
import os
import time
from io import StringIO
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command

from customers.services.importing.files import (
    import_retention,
    imports_forget,
    imports_remove_expired,
)
from customers.services.privacy import customer_request_erasure

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(settings, tmp_path) -> Path:
    settings.PRIVATE_UPLOAD_ROOT = tmp_path / "private"
    return tmp_path / "private" / "imports"


def folder(root: Path, token: str, files: dict[str, bytes], age_hours: float = 0) -> Path:
    path = root / token
    path.mkdir(parents=True)
    for name, content in files.items():
        (path / name).write_bytes(content)
    stamp = time.time() - age_hours * 3600
    os.utime(path, (stamp, stamp))
    return path


def xlsx(*rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_command_removes_what_is_older_than_the_retention_setting(settings, root):
    old = folder(root, "a" * 24, {"upload.csv": b"Email\r\nann@example.com\r\n"}, age_hours=3)
    recent = folder(root, "b" * 24, {"meta.json": b"{}"}, age_hours=1)
    out = StringIO()
    call_command("process_erasure_requests", stdout=out)
    assert "Removed 0 import folder(s) older than 24 hours." in out.getvalue()
    settings.BACKOFFICE_IMPORT_RETENTION_HOURS = 2
    assert import_retention().total_seconds() == 7200
    out = StringIO()
    call_command("process_erasure_requests", stdout=out)
    assert "Removed 1 import folder(s) older than 2 hours." in out.getvalue()
    assert not old.exists() and recent.exists()
    assert call_command("process_erasure_requests", "--dry-run", stdout=StringIO()) is None
    assert imports_remove_expired(now=time.time() + 3600) == ["b" * 24]


def test_forget_removes_every_folder_naming_the_person_in_any_encoding(root):
    named = {
        "csv": folder(
            root, "c" * 24, {"upload.csv": "Email\r\nRUTH@Example.com;Zoë\r\n".encode("cp1252")}
        ),
        "utf16": folder(
            root, "d" * 24, {"upload.csv": "Email\tName\nruth@example.com\tR\n".encode("utf-16")}
        ),
        "national": folder(
            root,
            "e" * 24,
            {"preview.jsonl": b'{"record": 3, "cells": ["(202) 555-0143", "x"]}\n'},
        ),
        "xlsx": folder(root, "f" * 24, {"upload.csv": xlsx(["Phone"], [2025550143])}),
    }
    other = folder(
        root, "g" * 24, {"result.jsonl": b'{"cells": ["tom@example.com", "2025550199"]}\n'}
    )
    removed = imports_forget(values=["ruth@example.com", "+12025550143"])
    assert removed == sorted(p.name for p in named.values())
    assert not any(p.exists() for p in named.values())
    assert other.exists()
    assert imports_forget(values=[]) == []


def test_erasure_forgets_the_import_files_once_committed(
    root, make_customer, django_capture_on_commit_callbacks
):
    customer = make_customer(email="ruth@example.com", phone="+12025550143")
    naming = folder(
        root, "h" * 24, {"meta.json": b'{"name": "ruth.csv"}', "preview.jsonl": b"ruth@example.com"}
    )
    unrelated = folder(root, "i" * 24, {"preview.jsonl": b"tom@example.com"})
    customer_request_erasure(actor="test", customer_id=customer.pk)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("process_erasure_requests", stdout=StringIO())
    assert not naming.exists() and unrelated.exists()
