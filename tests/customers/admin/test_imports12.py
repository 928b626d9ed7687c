"""Issue 12, the import pages: what the newcomer's walk found (details, rejected file, size
limit, other channels, templates per format, many new tags)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from customers.models import Consent
from customers.services.exporting import SHOPIFY_HEADERS

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:customers_customer_import")


@pytest.fixture(autouse=True)
def _jobs_run_at_once(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def importer(client, make_staff):
    client.force_login(make_staff("view_customer", "import_customer"))
    return client


def shopify_csv(*rows: dict, header=SHOPIFY_HEADERS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header])
    return out.getvalue().encode()


def upload(client, data: bytes, name: str = "customers.csv"):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            IMPORT_URL, {"import_file": SimpleUploadedFile(name, data, "text/csv")}
        )
    while response.status_code == 302:
        response = client.get(response["Location"])
    return response


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def preview_url(response, **query) -> str:
    url = reverse("admin:customers_customer_import_preview", args=[response.context["token"]])
    return url + "".join(f"?{key}={value}" for key, value in query.items())


# -- 1. update details read as the rest of the admin
def test_update_details_show_field_labels_and_values_translated(
    importer, make_customer, make_address
):
    customer = make_customer(
        email="marie@example.fr", tax_exempt=False, email_consent=Consent.SUBSCRIBED
    )
    make_address(customer, company="", is_default=True)
    data = shopify_csv(
        {
            "First Name": customer.first_name,
            "Last Name": customer.last_name,
            "Email": "marie@example.fr",
            "Accepts Email Marketing": "no",
            "Default Address Company": "Atelier Dupont",
            "Tags": "VIP",
            "Tax Exempt": "yes",
        }
    )
    response = upload(importer, data)
    assert response.context["summary"]["updated"] == 1
    page = text(importer.get(preview_url(response, outcome="updated")))
    assert "Tax exempt: no → yes" in page
    assert "Email marketing: Subscribed → Unsubscribed" in page
    assert "Company of the address: — → Atelier Dupont" in page
    assert "Tag added: VIP." in page
    for internal in ("tax_exempt", "email_consent", "address.company", "tags_added", "False"):
        assert internal not in page
    french = text(importer.get(preview_url(response, outcome="updated"), HTTP_ACCEPT_LANGUAGE="fr"))
    assert "Exonéré de taxes : non → oui" in french
    assert "Marketing par e-mail : Abonné → Désabonné" in french
    assert "Société de l’adresse : — → Atelier Dupont" in french
    assert "Étiquette ajoutée : VIP." in french


# -- 2. the rejected-rows file escapes the uploaded header too
def test_rejected_rows_file_escapes_a_formula_in_the_uploaded_header(importer):
    formula = '=HYPERLINK("https://evil.example/","Open")'
    header = [*SHOPIFY_HEADERS, formula, "@SUM(A1)"]
    data = shopify_csv(
        {"First Name": "Bad", "Email": "not an email", formula: "=1+1", "@SUM(A1)": "x"},
        header=header,
    )
    response = upload(importer, data)
    assert response.context["summary"]["error"] == 1
    rejected = importer.get(
        reverse("admin:customers_customer_import_rejected", args=[response.context["token"]])
    )
    rows = list(csv.reader(io.StringIO(b"".join(rejected.streaming_content).decode())))
    assert rows[0][0] == "\ufeffRecord"
    assert rows[0][-2:] == ["'" + formula, "'@SUM(A1)"]
    assert rows[1][-2:] == ["'=1+1", "x"]
