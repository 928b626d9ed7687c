"""The import_customers command: JSON output, exit statuses, the progress bar."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from customers.models import Customer, CustomerEvent
from customers.services import importing
from tests.customers.importing.helpers import FIXTURES, command

pytestmark = pytest.mark.django_db


def test_command_json_and_exit_status_3_when_some_rows_are_rejected():
    status, outputs, _err = command(str(FIXTURES / "shopify_rules.csv"))
    assert status == 3
    (output,) = outputs
    assert output["file"] == "shopify_rules.csv" and output["format"] == "shopify"
    assert (output["created"], output["updated"], output["unchanged"], output["skipped"]) == (
        4,
        1,
        0,
        0,
    )
    assert [e["record"] for e in output["errors"]] == [4, 5, 6, 8]
    event = CustomerEvent.objects.first()
    assert event.actor_label == "import_customers" and event.actor is None


def test_command_exit_0_and_one_object_per_file_in_order():
    status, outputs, _err = command(str(FIXTURES / "windows1252.csv"), str(FIXTURES / "tabs.csv"))
    assert status == 0
    assert [o["file"] for o in outputs] == ["windows1252.csv", "tabs.csv"]


def test_command_exit_2_for_an_unreadable_file_and_the_others_still_run():
    status, outputs, _err = command(str(FIXTURES / "empty.csv"), str(FIXTURES / "tabs.csv"))
    assert status == 2
    assert outputs[0]["errors"] == [{"record": 0, "message": str(importing.FILE_EMPTY)}]
    assert outputs[1]["created"] == 1


def test_command_all_or_nothing_exits_2_and_writes_nothing():
    status, outputs, _err = command(str(FIXTURES / "shopify_rules.csv"), "--all-or-nothing")
    assert status == 2
    assert outputs[0]["created"] == 0 and len(outputs[0]["errors"]) == 4
    assert not Customer.objects.exists()


def test_command_dry_run_writes_nothing():
    status, outputs, _err = command(str(FIXTURES / "tabs.csv"), "--dry-run")
    assert status == 0 and outputs[0]["created"] == 1
    assert not Customer.objects.exists()


def test_command_plain_output_has_no_progress_bar_when_not_a_terminal():
    out, err = io.StringIO(), io.StringIO()
    call_command("import_customers", str(FIXTURES / "tabs.csv"), stdout=out, stderr=err)
    assert "1 created, 0 updated" in out.getvalue()
    assert "[" not in err.getvalue()


def test_command_draws_a_progress_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out, err = io.StringIO(), Terminal()
    call_command("import_customers", str(FIXTURES / "tabs.csv"), stdout=out, stderr=err)
    assert "100%" in err.getvalue() and "100%" not in out.getvalue()
