"""Shared helpers of the import tests: run a file through the service or the command."""

from __future__ import annotations

import io
import json
from pathlib import Path

from django.core.management import call_command

from customers.services.importing import customers_import

FIXTURES = Path(__file__).parent.parent / "fixtures"
SHOPIFY_HEADER = (FIXTURES / "header_only.csv").read_text().strip()


def run(data: bytes | str | Path, **options):
    if isinstance(data, Path):
        data = data.read_bytes()
    if isinstance(data, str):
        data = data.encode("utf-8")
    reports = []
    result = customers_import(
        actor="test",
        source=io.BytesIO(data),
        filename="test.csv",
        on_row=reports.append,
        **options,
    )
    result.reports = reports
    return result


def errors(result) -> dict[int, str]:
    return {error.record: error.message for error in result.errors}


def command(*args) -> tuple[int, list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_customers", *args, "--json", stdout=out, stderr=err)
        status = 0
    except SystemExit as exc:
        status = exc.code
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def shopify(*rows: str) -> str:
    return SHOPIFY_HEADER + "\r\n" + "\r\n".join(rows) + "\r\n"
