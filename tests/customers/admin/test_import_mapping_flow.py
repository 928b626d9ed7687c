"""A file of no known format, through the real admin: upload, match its columns, preview, import."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import Customer
from tests.customers.admin.test_import_jobs import (
    IMMEDIATE,
    post_running_jobs,
    text,
    token_of,
    upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _jobs_run_when_the_request_commits(settings):
    settings.TASKS = IMMEDIATE


@pytest.fixture
def importer(client, make_staff):
    client.force_login(make_staff("view_customer", "change_customer", "import_customer"))
    return client


# A newsletter members file (a Mailchimp-like export in French): no format of ours.
NEWSLETTER = (
    "Adresse e-mail;Prénom;Nom;Téléphone;Notes\r\n"
    "lea@example.fr;Léa;Martin;06 12 34 56 78;cliente fidèle\r\n"
    "paul@example.fr;Paul;Durand;;\r\n"
)


def test_an_unknown_file_goes_through_the_column_page_then_the_preview(importer, settings):
    settings.BACKOFFICE_PHONE_REGION = "FR"
    response = upload(importer, NEWSLETTER, name="membres.csv")
    token = response["Location"].rstrip("/").split("/")[-2]  # import/<token>/columns/
    mapping_url = reverse("admin:customers_customer_import_mapping", args=[token])
    assert response["Location"] == mapping_url
    page = importer.get(mapping_url)
    assert page.status_code == 200
    form = page.context["form"]
    posted = {name: form[name].value() for name in form.fields}
    # The suggestions read the French headers: nothing for the clerk to change.
    assert [posted[f"column_{i}"] for i in range(5)] == [
        "email",
        "first_name",
        "last_name",
        "phone",
        "note",
    ]
    response = post_running_jobs(importer, mapping_url, {**posted, "save_as": ""})
    preview = reverse("admin:customers_customer_import_preview", args=[token])
    assert response["Location"] == preview
    shown = text(importer.get(preview))
    assert "lea@example.fr" in shown and "paul@example.fr" in shown
    assert not Customer.objects.exists()  # the preview writes nothing

    confirm = reverse("admin:customers_customer_import_confirm", args=[token])
    post_running_jobs(importer, confirm)
    lea = Customer.objects.get(email="lea@example.fr")
    assert (lea.first_name, lea.last_name, lea.phone) == ("Léa", "Martin", "+33612345678")
    assert list(lea.notes.values_list("body", flat=True)) == ["cliente fidèle"]
    assert Customer.objects.filter(email="paul@example.fr").exists()


def test_a_known_format_skips_the_column_page(importer):
    response = upload(importer, "name,email\r\nAnn Lee,ann@example.com\r\n", name="ecwid.csv")
    token = token_of(response)
    assert response["Location"] == reverse("admin:customers_customer_import_preview", args=[token])
