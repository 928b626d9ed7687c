"""The admin's column-mapping step between the upload and the preview (import_mapping.py)."""

from __future__ import annotations

import json
import re
import secrets

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.admin.import_export import PrivateImportStorage
from customers.admin.import_mapping import mapping_needed, upload_header
from customers.models import Consent, Customer, ImportMapping
from customers.services.importing import customers_import
from customers.services.importing.formats import MAPPING_NO_KEY

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.customers.importing.urls_mapping")]

SALON = (
    "Prénom;Nom;Courriel;Téléphone;Abonné;Fidélité\r\n"
    "Élodie;Lefèvre;elodie@example.fr;+33 6 12 34 56 78;oui;12\r\n"
    "Marc;Petit;marc@example.fr;;non;3\r\n"
)


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    settings.PRIVATE_UPLOAD_ROOT = tmp_path / "private"


@pytest.fixture
def staff(make_staff):
    return make_staff("view_customer", "import_customer")


def stored_upload(user, data: str = SALON, name: str = "salon.csv") -> str:
    """What the upload view does before the preview: store the file and its header."""
    token = secrets.token_urlsafe(18)
    storage = PrivateImportStorage(token)
    storage.save_upload(SimpleUploadedFile(name, data.encode("utf-8")))
    with storage.open() as source:
        meta = {"user": user.pk, "name": name, "all_or_nothing": False, **upload_header(source)}
    (storage.folder() / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return token


def meta_of(token: str) -> dict:
    return json.loads((PrivateImportStorage(token).folder() / "meta.json").read_text())


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def post_data(page, **changes) -> dict:
    """The form as the page pre-filled it, with some selects changed."""
    form = page.context["form"]
    data = {name: form[name].value() for name in form.fields}
    for field in form.column_fields():
        if field.label in changes:
            data[field.name] = changes[field.label]
    data["save_as"] = changes.get("save_as", "")
    return data


def test_an_unknown_header_needs_the_mapping_step_a_known_one_does_not(staff):
    assert mapping_needed(meta_of(stored_upload(staff)))
    shopify = "First Name,Last Name,Email,Accepts Marketing,Address1\r\n,,a@example.com,no,\r\n"
    meta = meta_of(stored_upload(staff, shopify))
    assert meta["known_format"] == "shopify" and not mapping_needed(meta)
    assert not mapping_needed({**meta_of(stored_upload(staff)), "mapping": {"Courriel": "email"}})


def test_the_page_shows_each_column_with_samples_and_the_suggestion(client, staff):
    client.force_login(staff)
    token = stored_upload(staff)
    page = client.get(reverse("mapping", args=[token]))
    assert page.status_code == 200
    form = page.context["form"]
    assert {f.label: f.value() for f in form.column_fields()} == {
        "Prénom": "first_name",
        "Nom": "last_name",
        "Courriel": "email",
        "Téléphone": "phone",
        "Abonné": "email_consent",
        "Fidélité": "ignore",
    }
    html = text(page)
    assert "Match the columns of salon.csv" in html
    assert "<code>elodie@example.fr</code><br><code>marc@example.fr</code>" in html
    assert '<option value="email" selected>Email</option>' in html


def test_posting_stores_the_mapping_and_goes_to_the_preview(client, staff):
    client.force_login(staff)
    token = stored_upload(staff)
    url = reverse("mapping", args=[token])
    response = client.post(url, post_data(client.get(url), Fidélité="note"))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:customers_customer_import_preview", args=[token])
    mapping = meta_of(token)["mapping"]
    assert mapping["Fidélité"] == "note" and mapping["Courriel"] == "email"
    assert not Customer.objects.exists()  # nothing is written before the preview and confirm
    # The preview and the confirm import through it, as any known format.
    with PrivateImportStorage(token).open() as source:
        result = customers_import(actor=staff, source=source, filename="salon.csv", mapping=mapping)
    assert result.format == "mapped" and result.created == 2 and not result.errors
    elodie = Customer.objects.get(email="elodie@example.fr")
    assert elodie.phone == "+33612345678" and elodie.email_consent == Consent.SUBSCRIBED
    assert elodie.notes.get().body == "12"


def test_a_mapping_without_email_or_phone_is_refused_on_the_page(client, staff):
    client.force_login(staff)
    token = stored_upload(staff)
    url = reverse("mapping", args=[token])
    response = client.post(url, post_data(client.get(url), Courriel="ignore", Téléphone="ignore"))
    assert response.status_code == 200
    assert str(MAPPING_NO_KEY) in text(response)
    assert "mapping" not in meta_of(token)


def test_a_saved_mapping_fills_the_page_for_the_next_file_with_that_header(client, staff):
    client.force_login(staff)
    first = stored_upload(staff)
    url = reverse("mapping", args=[first])
    client.post(url, post_data(client.get(url), Fidélité="note", save_as="Salon export"))
    saved = ImportMapping.objects.get()
    assert (saved.name, saved.created_by, saved.columns["Fidélité"]) == (
        "Salon export",
        staff,
        "note",
    )
    second = stored_upload(staff, name="salon-march.csv")
    page = client.get(reverse("mapping", args=[second]))
    assert page.context["form"]["column_5"].value() == "note"
    assert "The mapping “Salon export”, saved by" in text(page)


def test_staff_without_import_permission_or_another_user_cannot_map(client, staff, make_staff):
    token = stored_upload(staff)
    client.force_login(make_staff("view_customer"))
    assert client.get(reverse("mapping", args=[token])).status_code == 403
    client.force_login(make_staff("view_customer", "import_customer"))
    assert client.get(reverse("mapping", args=[token])).status_code == 404
    assert "mapping" not in meta_of(token)
