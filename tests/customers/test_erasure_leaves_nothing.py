"""The proof that erasure leaves nothing behind (GDPR art. 17, issue 13).

A customer is given everything a real one accumulates, through the paths staff use (change
form, merges, an admin import, an email, a personal-data export, a related record deleted),
then erased by the real command. The whole database (every table of the default connection,
found by introspection, every column) and every file of the private folder are then searched
for the person: nothing may be found. No table is left out, so a table or column added later
that keeps any of it makes this test fail. That includes Django's admin log (its
``object_repr`` is the customer's name; erasure blanks it), the sessions (read decoded) and
django-axes' access tables (they hold staff usernames and addresses, never a customer's).
"""

from __future__ import annotations

import datetime
import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Note, Segment, Status
from customers.services.emailing import customers_email
from customers.services.merge import customers_merge
from customers.services.privacy import customer_request_erasure
from customers.services.segments import segment_create
from tests.customers.test_editing import change_url, page_form_data

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:customers_customer_import")
DAY = datetime.timedelta(days=1)

EMAIL = "philippa.q@example.net"
OLD_EMAILS = ("pq.old@example.net", "p.quill@example.org")  # the records merged into her
PHONE = "+12025550143"
PHONE_FORMS = (PHONE, "2025550143", "(202) 555-0143")
NAMES = ("Philippa", "Pippa", "Quillfeather", "Quillby")
ADDRESS_LINES = ("77 Larkspur Crescent", "9 Juniper Wharf", "Flat 4b Marigold")
NOTES = ("prefers the side door entrance", "knows the owner personally")
NEEDLES = (EMAIL, *OLD_EMAILS, *PHONE_FORMS, *NAMES, *ADDRESS_LINES, *NOTES)

SHOPIFY_HEADER = "First Name,Last Name,Email,Accepts Email Marketing,Default Address Address1,Phone"


def _text(value) -> str:
    """One stored value as searchable text (JSON decoded, so escaped characters read plainly)."""
    if isinstance(value, memoryview | bytes):
        value = bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    text = str(value)
    if text[:1] in "[{":
        try:
            return json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            pass
    return text


def database_dump() -> str:
    """Every row of every table of the default connection, as text.

    ``django_session`` rows are read decoded too: their data is signed base64, where a name
    would hide from a plain search.
    """
    chunks = []
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        assert "customers_customer" in tables and "django_admin_log" in tables
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            columns = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                chunks.extend(
                    f"{table}.{name}={_text(value)}"
                    for name, value in zip(columns, row, strict=True)
                )
                if table == "django_session":
                    data = dict(zip(columns, row, strict=True))["session_data"]
                    chunks.append(f"{table}(decoded)={SessionStore().decode(data)!r}")
    return "\n".join(chunks)


def files_dump(root: Path) -> str:
    return "\n".join(
        f"{path}: {path.read_bytes().decode('utf-8', 'replace')}"
        for path in sorted(root.rglob("*"))
        if path.is_file()
    )


def found(dump: str) -> list[str]:
    lowered = dump.lower()
    return [needle for needle in NEEDLES if needle.lower() in lowered]


def _upload(client: Client, name: str, content: str):
    """Upload through the admin; its preview job runs when the request commits."""
    upload = SimpleUploadedFile(name, content.encode(), "text/csv")
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(IMPORT_URL, {"import_file": upload})
    assert response.status_code == 302, response.content[:500]
    return response["Location"].rstrip("/").split("/")[-1]


@pytest.fixture(autouse=True)
def _jobs_run_in_the_request(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def private_root(settings, tmp_path) -> Path:
    settings.PRIVATE_UPLOAD_ROOT = tmp_path / "private"
    return settings.PRIVATE_UPLOAD_ROOT


def _merge_chain(superuser, make_customer) -> Customer:
    """W into Z, then Z into X: the person's older records, folded into the one that lives."""
    w = make_customer(first_name="Pippa", last_name="Quillby", email=OLD_EMAILS[0], phone=PHONE)
    z = make_customer(first_name="Philippa", last_name="", email=OLD_EMAILS[1], phone="")
    Note.objects.create(customer=w, body=NOTES[1])
    customers_merge(actor=superuser, survivor_id=z.pk, absorbed_ids=[w.pk])
    x = make_customer(
        first_name="Pippa",
        last_name="Quillfeather",
        email=EMAIL,
        phone="",
        company="Quillfeather Ltd",
        tags=["VIP"],
    )
    customers_merge(
        actor=superuser, survivor_id=x.pk, absorbed_ids=[z.pk], field_choices={"phone": z.pk}
    )
    return Customer.objects.get(pk=x.pk)


def _edit_in_the_change_form(client: Client, person: Customer) -> None:
    """Rename, subscribe, add a note, then delete an address: each in the audit trail."""
    data = page_form_data(client.get(change_url(person)))
    new_note = data["notes-INITIAL_FORMS"]  # the first blank form, after the merged-in note
    data.update(
        {
            "first_name": "Philippa",
            "email_consent": "subscribed",
            f"notes-{new_note}-body": NOTES[0],
        }
    )
    response = client.post(change_url(person), data)
    assert response.status_code == 302, response.context["errors"]
    data = page_form_data(client.get(change_url(person)))
    removed = person.addresses.get(address1=ADDRESS_LINES[1])
    index = next(
        k.split("-")[1] for k, v in data.items() if k.endswith("-id") and v == str(removed.pk)
    )
    data[f"addresses-{index}-DELETE"] = "on"
    assert client.post(change_url(person), data).status_code == 302
    assert not person.addresses.filter(pk=removed.pk).exists()


def test_erasure_leaves_nothing_in_the_database_or_the_private_folder(
    superuser,
    make_customer,
    make_address,
    make_order,
    private_root,
    django_capture_on_commit_callbacks,
):
    staff = Client()
    staff.force_login(superuser)
    person = _merge_chain(superuser, make_customer)
    make_address(person, is_default=True, address1=ADDRESS_LINES[0], address2=ADDRESS_LINES[2])
    make_address(person, address1=ADDRESS_LINES[1], city="Salem", postal_code="01970")
    make_order(
        person,
        placed_at=timezone.now() - 400 * DAY,
        shipping_address={
            "name": "Philippa Quillfeather",
            "address1": ADDRESS_LINES[0],
            "phone": PHONE,
            "country_code": "US",
        },
    )
    _edit_in_the_change_form(staff, person)
    # A real import through the admin that updates her (confirmed: reports stay on disk), one
    # left unconfirmed that names her by her phone, and another person's that must stay.
    row = f"Philippa,Quillfeather,{EMAIL},no,{ADDRESS_LINES[0]},(202) 555-0143"
    token = _upload(staff, "march.csv", f"{SHOPIFY_HEADER}\r\n{row}\r\n")
    confirm = reverse("admin:customers_customer_import_confirm", args=[token])
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert staff.post(confirm).status_code == 302
    _upload(
        staff,
        "april.csv",
        f"{SHOPIFY_HEADER}\r\nNew,Person,new@example.com,no,1 Elm St,(202) 555-0143\r\n",
    )
    others = _upload(
        staff, "may.csv", f"{SHOPIFY_HEADER}\r\nTom,Tiler,tom@example.com,no,2 Oak St,\r\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        customers_email(
            actor=superuser,
            customers=[person.pk],
            subject="A word for Mrs Quillfeather",
            body="Hello {first_name}",
            marketing=False,
        )
    assert len(mail.outbox) == 1
    export = staff.get(reverse("admin:customers_customer_personal_data", args=[person.pk]))
    assert EMAIL in export.content.decode()

    # A clerk saved her search as a segment (and her surname as an "any of" alternative).
    segment_create(
        actor=superuser,
        name="Quillfeather search",
        conditions={"q": EMAIL},
        any_of=[[{"q": "Quillfeather"}, {"tag": "VIP"}]],
    )

    # Before: every needle is stored somewhere, so the search below can fail.
    assert found(database_dump() + files_dump(private_root)) == list(NEEDLES)

    customer_request_erasure(actor=superuser, customer_id=person.pk)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("process_erasure_requests", stdout=out)
    assert "Erased 1 customer(s)" in out.getvalue()
    assert Customer.objects.filter(status=Status.REDACTED).count() == 3

    assert found(database_dump()) == []
    assert found(files_dump(private_root)) == []
    # The segment stays, without what named her.
    segment = Segment.objects.get()
    assert (segment.name, segment.conditions) == (f"[redacted] #{segment.pk}", {"q": "[redacted]"})
    assert segment.any_of == [[{"q": "[redacted]"}, {"tag": "VIP"}]]
    # Only what named her went: the other person's import is still there.
    assert (private_root / "imports" / others / "meta.json").exists()
