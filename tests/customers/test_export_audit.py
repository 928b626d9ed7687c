"""Every export leaves a record: who, which selection, which columns, how many rows."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from customers.models import Customer, ExportKind, ExportOrigin, ExportRecord, Status
from customers.services.exporting import customers_export_lines, export_selection

pytestmark = pytest.mark.django_db

EXPORT_URL = reverse("admin:customers_customer_export")


def _download(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


@pytest.fixture
def three(make_customer):
    make_customer(email="ann@example.com", first_name="Ann")
    make_customer(email="anne@example.com", first_name="Anne")
    make_customer(email="bob@example.com", first_name="Bob")
    make_customer(email="gone@example.com", status=Status.REDACTED)


def test_the_command_records_its_export(three, tmp_path):
    call_command("export_customers", "-o", str(tmp_path / "out.csv"), "--columns", "Email,Phone")
    record = ExportRecord.objects.get()
    assert (record.actor, record.actor_label) == (None, "export_customers")
    assert (record.kind, record.origin) == (ExportKind.CUSTOMERS, ExportOrigin.COMMAND)
    assert record.selection == {"scope": "all"}
    assert record.columns == ["Email", "Phone"]
    assert record.rows == 3  # the erased record is no customer
    assert (tmp_path / "out.csv").read_text(encoding="utf-8-sig").count("\n") == 4


def test_a_refused_command_records_nothing(three, tmp_path):
    with pytest.raises(Exception):  # noqa: B017, PT011 - CommandError, the message is tested elsewhere
        call_command("export_customers", "--columns", "Password")
    assert not ExportRecord.objects.exists()


def test_the_service_records_who_what_and_how_many(three, superuser):
    lines = customers_export_lines(
        queryset=Customer.objects.filter(first_name__startswith="Ann"),
        columns=["Email"],
        actor=superuser,
        selection=export_selection(scope="filtered", filters="q=ann&group__id__exact=3"),
    )
    assert not ExportRecord.objects.exists()  # nothing asked for yet, nothing left
    assert len(list(lines)) == 3
    record = ExportRecord.objects.get()
    assert (record.actor, record.actor_label, record.origin) == (superuser, "boss", "admin")
    assert record.selection == {
        "scope": "filtered",
        "filters": {"q": ["ann"], "group__id__exact": ["3"]},
    }
    assert (record.columns, record.rows) == (["Email"], 2)


def test_a_selection_of_ids_is_recorded_sorted():
    assert export_selection(scope="selected", ids=["12", 3]) == {
        "scope": "selected",
        "ids": [3, 12],
    }


def test_the_admin_export_is_recorded(three, client, make_staff):
    client.force_login(make_staff("view_customer", "export_customer"))
    response = client.post(
        EXPORT_URL,
        {"scope": "filtered", "filters": "q=ann", "columns": ["Email"], "delimiter": ","},
    )
    assert _download(response).count("\n") == 3
    record = ExportRecord.objects.get()
    assert (record.kind, record.columns, record.rows) == (ExportKind.CUSTOMERS, ["Email"], 2)


def test_the_admin_export_record_names_the_user_and_the_filter(three, client, make_staff):
    clerk = make_staff("view_customer", "export_customer")
    client.force_login(clerk)
    _download(
        client.post(
            EXPORT_URL,
            {"scope": "filtered", "filters": "q=ann", "columns": ["Email"], "delimiter": ","},
        )
    )
    record = ExportRecord.objects.get()
    assert record.actor == clerk
    assert record.selection == {"scope": "filtered", "filters": {"q": ["ann"]}}


def test_the_personal_data_export_is_recorded(make_customer, admin_client, superuser):
    customer = make_customer(email="ann@example.com")
    url = reverse("admin:customers_customer_personal_data", args=[customer.pk])
    assert admin_client.get(url).status_code == 200
    record = ExportRecord.objects.get()
    assert (record.actor, record.kind, record.origin) == (
        superuser,
        ExportKind.PERSONAL_DATA,
        ExportOrigin.ADMIN,
    )
    assert record.selection == {"customer": customer.pk, "merged_records": []}
    assert record.rows == 1


def test_erasure_blanks_the_searches_of_recorded_exports_that_name_the_person(
    make_customer, superuser
):
    import datetime

    from django.utils import timezone

    from customers.services.exporting import export_record_create, export_selection
    from customers.services.privacy import customer_request_erasure, customers_process_erasure

    gone = make_customer(first_name="Annika", last_name="Løvström", email="annika@example.se")
    make_customer(email="bob@example.com")
    searches = ["annika@example.se", "Løvström", "bob", "annika@EXAMPLE.se "]
    for term in searches:
        export_record_create(
            actor=superuser,
            kind=ExportKind.CUSTOMERS,
            origin=ExportOrigin.ADMIN,
            selection=export_selection(scope="filtered", filters=f"q={term}&status=all"),
            columns=["Email"],
            rows=1,
        )
    customer_request_erasure(actor=superuser, customer_id=gone.pk)
    customers_process_erasure(actor="test", now=timezone.now() + datetime.timedelta(days=1))
    kept = [r.selection["filters"] for r in ExportRecord.objects.order_by("pk")]
    assert kept == [
        {"q": ["[redacted]"], "status": ["all"]},
        {"q": ["[redacted]"], "status": ["all"]},
        {"q": ["bob"], "status": ["all"]},
        {"q": ["[redacted]"], "status": ["all"]},
    ]
