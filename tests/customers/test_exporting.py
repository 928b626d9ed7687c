"""CSV export (admin and export_customers) and the export-then-import round trip."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from customers.models import (
    Address,
    Channel,
    Consent,
    Customer,
    Note,
    Status,
    Tag,
    TaggedCustomer,
)
from customers.services.exporting import (
    ALL_HEADERS,
    cell_escape,
    cell_unescape,
    customers_export_lines,
)
from customers.services.importing import customers_import
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:customers_customer_changelist")
EXPORT_URL = reverse("admin:customers_customer_export")


def rows_of(body: str, delimiter: str = ",") -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.lstrip("\ufeff")), delimiter=delimiter))


def download(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


@pytest.fixture
def exporter(client, make_staff):
    client.force_login(make_staff("view_customer", "export_customer"))
    return client


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+33612345678", "'+33612345678"),
        ("-Ann", "'-Ann"),
        ("@cmd", "'@cmd"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("'=already", "''=already"),
        ("O'Brien", "O'Brien"),
        ("'quoted", "'quoted"),
        ("Ann", "Ann"),
        ("", ""),
    ],
)
def test_formula_cells_are_escaped_and_the_escape_is_reversible(stored, written):
    assert cell_escape(stored) == written
    assert cell_unescape(written) == stored


def test_staff_without_export_permission_cannot_export(client, make_staff, make_customer):
    customer = make_customer()
    client.force_login(make_staff("view_customer", "change_customer", "delete_customer"))
    assert client.get(EXPORT_URL).status_code == 403
    response = client.post(EXPORT_URL, {"scope": "all", "columns": ["Email"], "delimiter": ","})
    assert response.status_code == 403
    action_form = client.get(LIST_URL).context["action_form"]
    assert "export_selected" not in dict(action_form.fields["action"].choices)
    # Posting the action anyway for a real customer: the list refuses it, no export page.
    response = client.post(
        LIST_URL, {"action": "export_selected", "_selected_action": [customer.pk]}, follow=True
    )
    assert response.redirect_chain == [(LIST_URL, 302)]
    assert [str(m) for m in response.context["messages"]] == ["No action selected."]
    assert [t.name for t in response.templates][0] == "admin/customers/customer/change_list.html"


def test_export_all_with_chosen_columns_and_semicolons(exporter, make_customer):
    make_customer(first_name="=HYPERLINK()", email="a@example.com", phone="+16175550134")
    make_customer(email="merged@example.com", status=Status.MERGED, merged_into=make_customer())
    response = exporter.post(
        EXPORT_URL, {"scope": "all", "columns": ["First Name", "Email", "Phone"], "delimiter": ";"}
    )
    assert response["Content-Disposition"] == 'attachment; filename="customers.csv"'
    rows = rows_of(download(response), ";")
    assert list(rows[0]) == ["First Name", "Email", "Phone"]
    by_email = {row["Email"]: row for row in rows}
    assert by_email["a@example.com"]["First Name"] == "'=HYPERLINK()"
    assert by_email["a@example.com"]["Phone"] == "'+16175550134"
    assert "merged@example.com" not in by_email


def test_export_the_filtered_list(exporter, make_customer):
    make_customer(email="ann@example.com", first_name="Ann")
    make_customer(email="bob@example.com", first_name="Bob")
    page = exporter.get(EXPORT_URL + "?q=ann")
    assert page.context["form"].initial["scope"] == "filtered"
    response = exporter.post(
        EXPORT_URL,
        {"scope": "filtered", "filters": "q=ann", "columns": ["Email"], "delimiter": ","},
    )
    assert [row["Email"] for row in rows_of(download(response))] == ["ann@example.com"]


def test_export_the_selected_rows_through_the_action(exporter, make_customer):
    chosen = make_customer(email="chosen@example.com")
    make_customer(email="other@example.com")
    page = exporter.post(LIST_URL, {"action": "export_selected", "_selected_action": [chosen.pk]})
    assert page.status_code == 200 and "1 customer selected." in page.content.decode()
    form = page.context["form"]
    response = exporter.post(
        EXPORT_URL,
        {"scope": "selected", "ids": form.initial["ids"], "columns": ["Email"], "delimiter": ","},
    )
    assert [row["Email"] for row in rows_of(download(response))] == ["chosen@example.com"]


def test_select_all_exports_the_filtered_list_without_posting_every_id(exporter, make_customer):
    make_customer(email="ann@example.com", first_name="Ann")
    make_customer(email="anne@example.com", first_name="Anne")
    make_customer(email="bob@example.com", first_name="Bob")
    first = Customer.objects.get(email="ann@example.com")
    page = exporter.post(
        LIST_URL + "?q=ann",
        {"action": "export_selected", "_selected_action": [first.pk], "select_across": "1"},
    )
    form = page.context["form"]
    assert (form.initial["scope"], form.initial["filters"]) == ("filtered", "q=ann")
    assert "ids" not in form.initial
    response = exporter.post(
        EXPORT_URL,
        {"scope": "filtered", "filters": "q=ann", "columns": ["Email"], "delimiter": ","},
    )
    emails = sorted(row["Email"] for row in rows_of(download(response)))
    assert emails == ["ann@example.com", "anne@example.com"]


def test_export_refuses_an_unknown_column(exporter):
    response = exporter.post(
        EXPORT_URL, {"scope": "all", "columns": ["Password"], "delimiter": ","}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_export_command_writes_the_same_export(tmp_path, make_customer):
    make_customer(email="a@example.com", last_name="-Dash")
    target = tmp_path / "out.csv"
    call_command(
        "export_customers", "-o", str(target), "--delimiter", ";", "--columns", "Email", "Last Name"
    )
    rows = rows_of(target.read_text(encoding="utf-8"), ";")
    assert rows == [{"Email": "a@example.com", "Last Name": "'-Dash"}]
    with pytest.raises(CommandError, match="Unknown column: Nope."):
        call_command("export_customers", "--columns", "Nope")
    with pytest.raises(CommandError, match="comma or a semicolon"):
        call_command("export_customers", "--delimiter", "|")


def _snapshot() -> list[dict]:
    """Everything an export carries, per customer, keyed by email or phone."""
    snapshot = []
    for customer in Customer.objects.order_by("email", "phone"):
        address = customer.addresses.filter(is_default=True).first()
        snapshot.append(
            {
                "fields": {
                    name: getattr(customer, name)
                    for name in (
                        "first_name",
                        "last_name",
                        "email",
                        "phone",
                        "company",
                        "username",
                        "date_of_birth",
                        "tax_exempt",
                        "email_consent",
                        "sms_consent",
                        "status",
                        "source",
                    )
                },
                "group": customer.group.name if customer.group else None,
                "tags": sorted(customer.tags.names()),
                "notes": [n.body for n in customer.notes.order_by("created_at", "pk")],
                "address": None
                if address is None
                else {
                    name: getattr(address, name)
                    for name in (
                        "company",
                        "address1",
                        "address2",
                        "city",
                        "province_code",
                        "country_code",
                        "postal_code",
                        "phone",
                    )
                },
            }
        )
    return snapshot


def test_export_then_import_into_an_empty_back_office_loses_nothing(make_customer, make_address):
    group = CustomerGroup.objects.create(name="Grossistes")
    rich = make_customer(
        first_name="-Ann",
        last_name="=X",
        email="ann@example.com",
        phone="+33612345678",
        company="'=Quoted Co",
        username="ss-001",
        date_of_birth=datetime.date(1980, 2, 29),
        tax_exempt=True,
        email_consent=Consent.UNSUBSCRIBED,
        sms_consent=Consent.SUBSCRIBED,
        group=group,
        tags=["VIP", "Clients fidèles", "王"],
    )
    make_address(
        rich,
        is_default=True,
        company="Atelier",
        address1="@12 rue de la Paix",
        address2="+2e étage",
        city="Paris",
        province_code="",
        country_code="FR",
        postal_code="02114",
        phone="+33145678901",
    )
    Note.objects.create(customer=rich, body="Première note")
    Note.objects.create(customer=rich, body="Seconde")
    make_customer(email="", phone="+16175550188", first_name="Phone", status=Status.ARCHIVED)
    make_customer(email="shop@example.com", source=Channel.SHOPIFY)
    before = _snapshot()
    exported = "".join(customers_export_lines(queryset=Customer.objects.all()))

    Note.objects.all().delete()
    Address.objects.all().delete()
    TaggedCustomer.objects.all().delete()
    Customer.objects.all().delete()
    Tag.objects.all().delete()
    CustomerGroup.objects.all().delete()

    result = customers_import(
        actor="test", source=io.BytesIO(exported.encode("utf-8")), filename="customers.csv"
    )
    assert result.format == "backoffice" and not result.errors
    assert result.created == 3
    after = _snapshot()
    # Notes travel as one cell: their texts survive, joined by a blank line.
    next(c for c in before if c["fields"]["email"] == "ann@example.com")["notes"] = [
        "Première note\n\nSeconde"
    ]
    assert after == before
    assert list(ALL_HEADERS[:17]) == list(rows_of(exported)[0])[:17]
