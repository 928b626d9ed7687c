"""CSV import through the service and the import_customers command (shared/IMPORT_POLICY.md)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.addresses import MILITARY_LINE, MILITARY_ZIP
from customers.models import (
    Address,
    Channel,
    Consent,
    ConsentSource,
    Customer,
    CustomerEvent,
    EventKind,
    Note,
    Status,
    Tag,
    TaggedCustomer,
)
from customers.services import importing
from customers.services.importing import ImportFileError, customers_import
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
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


# ------------------------------------------------------------------ Shopify: every rule


def test_shopify_file_applies_every_rule():
    result = run(FIXTURES / "shopify_rules.csv")
    assert result.format == "shopify"
    assert (result.created, result.updated, result.unchanged, result.skipped) == (4, 1, 0, 0)
    problems = errors(result)
    assert set(problems) == {4, 5, 6, 8}
    assert "bad email@example.com" in problems[4] and "not a valid email" in problems[4]
    assert "12345 is not a valid phone number" in problems[5]
    assert str(importing.NO_KEY) in problems[6]
    assert str(MILITARY_LINE) in problems[8]
    assert str(MILITARY_ZIP) % {"zip": "12345", "state": "AP"} in problems[8]
    # Rejected rows saved nothing of themselves.
    assert not Customer.objects.filter(first_name__in=["Spacey", "Phoney", "Nobody", "Kim"])

    elodie = Customer.objects.get(email="elodie@example.fr")
    assert (elodie.first_name, elodie.last_name) == ("Élodie", "Lefèvre-Martin")
    assert elodie.phone == "+16175550134"
    assert elodie.company == "Atelier L'Épée"
    assert elodie.source == Channel.CSV
    # Record 1 said yes, record 9 said no: subscribed, then unsubscribed, source import.
    assert elodie.email_consent == Consent.UNSUBSCRIBED
    assert elodie.email_consent_source == ConsentSource.IMPORT
    assert elodie.email_consent_updated_at is not None
    assert sorted(elodie.tags.names()) == ["Newsletter", "Paris", "VIP"]
    address = elodie.addresses.get()
    assert (address.is_default, address.postal_code, address.province_code) == (True, "02114", "MA")
    assert address.country_code == "US" and address.company == "Atelier L'Épée"
    assert [n.body for n in elodie.notes.all()] == ["Prefers email"]

    by_phone = Customer.objects.get(phone="+16175550188")
    assert (by_phone.first_name, by_phone.last_name, by_phone.email) == ("=王", "-O'Brien", "")
    assert by_phone.tax_exempt is True

    military = Customer.objects.get(email="sam@example.com").addresses.get()
    assert (military.address1, military.city, military.province_code) == (
        "PSC 1234 BOX 5678",
        "APO",
        "AE",
    )
    formula = Customer.objects.get(email="formula@example.com")
    assert formula.first_name == "=SUM(A1)"
    assert formula.phone == "+33612345678"


def test_repeated_key_is_applied_in_order_and_flagged():
    result = run(FIXTURES / "shopify_rules.csv")
    by_record = {r.record: r for r in result.reports}
    assert by_record[9].outcome == "updated" and by_record[9].repeated
    assert by_record[9].changes["last_name"] == ["Lefèvre", "Lefèvre-Martin"]
    assert by_record[9].changes["tags_added"] == ["Newsletter"]
    assert not by_record[1].repeated
    assert 3 not in by_record  # the blank record
    assert result.repeated_keys == 1


def test_one_imported_event_per_customer_names_the_file_and_changes():
    run(FIXTURES / "shopify_rules.csv")
    elodie = Customer.objects.get(email="elodie@example.fr")
    event = CustomerEvent.objects.get(customer=elodie)
    assert event.kind == EventKind.IMPORTED and event.actor_label == "test"
    assert event.data["file"] == "test.csv" and event.data["records"] == [1, 9]
    assert event.data["created"] is True
    assert CustomerEvent.objects.count() == Customer.objects.count() == 4


@pytest.mark.parametrize("name", ["shopify_export.csv", "shipstation.csv", "quoted_newlines.csv"])
def test_importing_the_same_file_again_changes_nothing(name):
    first = run(FIXTURES / name)
    versions = dict(Customer.objects.values_list("email", "version"))
    counts = [m.objects.count() for m in (CustomerEvent, Note, Address, TaggedCustomer, Tag)]
    again = run(FIXTURES / name)
    succeeded = first.created + first.updated + first.unchanged
    assert (again.created, again.updated, again.unchanged) == (0, 0, succeeded)
    assert dict(Customer.objects.values_list("email", "version")) == versions
    assert [
        m.objects.count() for m in (CustomerEvent, Note, Address, TaggedCustomer, Tag)
    ] == counts


def test_two_records_of_one_file_are_both_applied_in_order():
    run(FIXTURES / "shopify_rules.csv")
    again = run(FIXTURES / "shopify_rules.csv")
    # Records 1 and 9 share a key and disagree: each run applies 1 then 9.
    assert (again.created, again.updated, again.unchanged) == (0, 2, 3)
    elodie = Customer.objects.get(email="elodie@example.fr")
    assert elodie.last_name == "Lefèvre-Martin" and elodie.email_consent == Consent.UNSUBSCRIBED


def test_update_overwrites_non_empty_cells_keeps_the_rest_and_bumps_version(make_customer):
    customer = make_customer(
        email="ann@example.com", first_name="Ann", last_name="Lee", company="Old", tags=["Keep"]
    )
    result = run(shopify("Annie,,ANN@example.com,,,,,,,,,,,,new,,yes"))
    assert result.updated == 1
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name, customer.company) == ("Annie", "Lee", "Old")
    assert customer.tax_exempt is True
    assert customer.version == 2
    assert sorted(customer.tags.names()) == ["Keep", "new"]
    event = CustomerEvent.objects.get(customer=customer, kind=EventKind.IMPORTED)
    assert event.data["changes"]["first_name"] == ["Ann", "Annie"]
    assert event.data["changes"]["tax_exempt"] == [False, True]


def test_consent_change_on_update_is_recorded(make_customer):
    customer = make_customer(email="c@example.com", sms_consent=Consent.SUBSCRIBED)
    run(shopify("C,,c@example.com,yes,,,,,,,,,,no,,,"))
    customer.refresh_from_db()
    assert customer.email_consent == Consent.SUBSCRIBED
    assert customer.sms_consent == Consent.UNSUBSCRIBED
    assert customer.sms_consent_source == ConsentSource.IMPORT
    event = CustomerEvent.objects.get(customer=customer)
    assert event.data["changes"]["sms_consent"] == ["subscribed", "unsubscribed"]


def test_empty_consent_means_no_on_create_and_unchanged_on_update(make_customer):
    subscribed = make_customer(email="s@example.com", email_consent=Consent.SUBSCRIBED)
    run(shopify("S,,s@example.com,,,,,,,,,,,,,,", "N,,n@example.com,,,,,,,,,,,,,,"))
    subscribed.refresh_from_db()
    assert subscribed.email_consent == Consent.SUBSCRIBED
    assert Customer.objects.get(email="n@example.com").email_consent == Consent.NOT_SUBSCRIBED


def test_tags_match_the_store_set_case_insensitively_and_slugs_never_collide():
    Tag.objects.create(name="VIP")
    run(shopify('A,,a@example.com,,,,,,,,,,,,"vip, VIP!, Vip",,'))
    customer = Customer.objects.get(email="a@example.com")
    assert sorted(customer.tags.names()) == ["VIP", "VIP!"]
    assert Tag.objects.count() == 2
    assert len(set(Tag.objects.values_list("slug", flat=True))) == 2


def test_invalid_yes_no_and_too_long_values_are_errors():
    long_name = "x" * 151
    result = run(shopify(f"{long_name},,a@example.com,maybe,,,,,,,,,,,,,"))
    message = errors(result)[1]
    assert "First Name is longer than 150 characters" in message
    assert "Accepts Email Marketing must be yes or no" in message
    assert not Customer.objects.exists()


# ------------------------------------------------------------------ matching


def test_a_key_on_a_merged_customer_follows_the_chain_to_the_survivor(make_customer):
    survivor = make_customer(email="final@example.com")
    middle = make_customer(email="middle@example.com", status=Status.MERGED, merged_into=survivor)
    make_customer(email="first@example.com", status=Status.MERGED, merged_into=middle)
    result = run(shopify("New,,first@example.com,,,,,,,,,,,,,,"))
    assert result.updated == 1 and result.created == 0
    survivor.refresh_from_db()
    assert survivor.first_name == "New"


def test_archived_customer_is_skipped_with_the_reason(make_customer):
    archived = make_customer(email="old@example.com", status=Status.ARCHIVED)
    result = run(shopify("X,,old@example.com,,,,,,,,,,,,,,"))
    assert result.skipped == 1 and result.created == 0
    report = result.reports[0]
    assert report.message == str(importing.SKIP_ARCHIVED) % {"id": archived.pk}
    archived.refresh_from_db()
    assert archived.first_name != "X"


def test_customer_from_another_channel_is_skipped(make_customer):
    other = make_customer(email="shop@example.com", source=Channel.SHOPIFY)
    result = run(shopify("X,,shop@example.com,,,,,,,,,,,,,,"))
    assert result.skipped == 1
    assert "comes from Shopify" in result.reports[0].message
    other.refresh_from_db()
    assert other.first_name != "X"


def test_redacted_customers_never_match(make_customer):
    make_customer(email="", phone="", status=Status.REDACTED)
    result = run(shopify("X,,gone@example.com,,,,,,,,,,,,,,"))
    assert result.created == 1


def test_row_with_email_is_matched_on_email_only(make_customer):
    by_phone = make_customer(phone="+16175550134", email="")
    result = run(shopify("X,,new@example.com,,,,,,,,,,(617) 555-0134,,,,"))
    assert result.created == 1
    by_phone.refresh_from_db()
    assert by_phone.first_name != "X"


def test_phone_then_email_setting_matches_on_phone_first(settings, make_customer):
    settings.BACKOFFICE_CUSTOMER_MATCHING = "phone_then_email"
    customer = make_customer(phone="+16175550134", email="")
    result = run(shopify("X,,new@example.com,,,,,,,,,,(617) 555-0134,,,,"))
    assert result.updated == 1
    customer.refresh_from_db()
    assert customer.email == "new@example.com"


def test_phone_then_email_refuses_an_email_another_customer_holds(settings, make_customer):
    settings.BACKOFFICE_CUSTOMER_MATCHING = "phone_then_email"
    make_customer(email="taken@example.com")
    result = run(shopify("X,,taken@example.com,,,,,,,,,,(617) 555-0134,,,,"))
    assert "Another customer already uses this email address." in errors(result)[1]


def test_email_only_setting_rejects_rows_without_email(settings):
    settings.BACKOFFICE_CUSTOMER_MATCHING = "email_only"
    result = run(shopify("X,,,,,,,,,,,,(617) 555-0134,,,,"))
    assert str(importing.NO_KEY_EMAIL_ONLY) in errors(result)[1]


# ------------------------------------------------------------ Shopify export, Ecwid, ShipStation


def test_shopify_export_columns_are_read_and_totals_ignored():
    result = run(FIXTURES / "shopify_export.csv")
    assert result.format == "shopify" and result.created == 2 and not result.errors
    ana = Customer.objects.get(email="ana@example.es")
    assert ana.phone == "+34612345678"  # read with the row's country, ES
    assert ana.addresses.get().phone == "+34912345678"
    assert list(ana.tags.names()) == ["VIP"]


def test_ecwid_file_applies_every_rule_and_never_stores_the_password(make_customer):
    result = run(FIXTURES / "ecwid.csv")
    assert result.format == "ecwid"
    assert (result.created, result.updated, result.unchanged) == (3, 0, 1)
    assert result.warnings == [str(importing.WARN_PASSWORD)]
    jean = Customer.objects.get(email="jean@example.fr")
    assert (jean.first_name, jean.last_name, jean.source) == ("Jean", "de la Fontaine", "csv")
    assert Customer.objects.get(email="zoe@example.com").first_name == "Zoë"
    formula = Customer.objects.get(email="formula@example.com")
    assert (formula.first_name, formula.last_name) == ("=Formula", "-Name")
    problems = errors(result)
    assert str(importing.NO_KEY) in problems[3]
    assert "bad email@example.com" in problems[5]
    by_record = {r.record: r for r in result.reports}
    assert by_record[4].repeated and by_record[4].outcome == "unchanged"
    # Not echoed either: the rejected record's cells lose the password.
    assert by_record[3].cells == ["No Email", ""]
    stored = json.dumps(list(CustomerEvent.objects.values_list("data", flat=True)))
    assert "s3cret" not in stored and "hunter2" not in stored and "again" not in stored


def test_ecwid_row_updates_a_known_customer(make_customer):
    known = make_customer(email="zoe@example.com", first_name="Old", last_name="Name")
    result = run(FIXTURES / "ecwid.csv")
    assert result.updated == 1
    known.refresh_from_db()
    assert (known.first_name, known.last_name) == ("Zoë", "Name")


def test_shipstation_file_applies_every_rule():
    result = run(FIXTURES / "shipstation.csv")
    assert result.format == "shipstation"
    assert (result.created, result.updated) == (5, 1)
    problems = errors(result)
    assert problems[3] == str(importing.SHIPSTATION_MISSING) % {"column": "Username"}
    assert str(importing.SHIPSTATION_NO_NAME) in problems[4]
    assert "ShipStation requires Postal Code." in problems[5]
    assert str(MILITARY_LINE) in problems[7]
    assert "Phone: 555 is not a valid phone number" in problems[8]
    assert "a b@example.com" in problems[9]
    assert set(problems) == {3, 4, 5, 7, 8, 9}
    paul = Customer.objects.get(email="paul@example.com")
    assert (paul.first_name, paul.last_name, paul.username) == ("Paul", "Smith", "cust-001")
    assert paul.phone == "+15125550100"
    assert paul.addresses.get().address2 == "Apt 9"  # record 10 repeats the key
    acme = Customer.objects.get(email="acme@example.com")
    assert acme.company == "Acme Corp" and acme.username == "cust-002"
    assert (acme.first_name, acme.last_name) == ("", "")
    mil = Customer.objects.get(email="mil@example.com").addresses.get()
    assert (mil.address1, mil.city, mil.province_code, mil.country_code) == (
        "UNIT 2050 BOX 4190",
        "APO",
        "AP",
        "US",
    )
    phone_only = Customer.objects.get(phone="+16175550199")
    assert phone_only.email == "" and phone_only.addresses.get().postal_code == "02114"
    calc = Customer.objects.get(email="calc@example.com")
    assert (calc.first_name, calc.last_name) == ("=Calc", "-Sheet")


# ------------------------------------------------------------------ reading the bytes


def test_windows_1252_file_is_decoded_without_replacement():
    result = run(FIXTURES / "windows1252.csv")
    assert result.created == 1
    customer = Customer.objects.get()
    assert (customer.first_name, customer.last_name) == ("Hélène", "Müller €")


def test_utf8_bom_and_semicolons():
    result = run(FIXTURES / "utf8_bom_semicolon.csv")
    assert result.created == 1 and not result.errors
    customer = Customer.objects.get()
    assert customer.first_name == "Inès"
    assert sorted(customer.tags.names()) == ["Madrid", "VIP"]


def test_tab_separated_file():
    assert run(FIXTURES / "tabs.csv").created == 1


def test_quoted_newlines_count_records_not_lines():
    result = run(FIXTURES / "quoted_newlines.csv")
    assert result.created == 2
    note = Note.objects.get()
    assert note.body.startswith("first line\nsecond line, with a comma")
    assert [r.record for r in result.reports] == [1, 2]


def test_a_two_megabyte_line_is_read_and_judged_by_length():
    note = "n" * (2 * 2**20)
    name = "x" * (2 * 2**20)
    result = run(
        shopify(f"A,,a@example.com,,,,,,,,,,,,,{note},", f"{name},,b@example.com,,,,,,,,,,,,,,")
    )
    assert result.created == 1
    assert len(Note.objects.get().body) == 2 * 2**20
    assert "First Name is longer than 150 characters" in errors(result)[2]


def test_a_row_with_a_thousand_columns_is_rejected_alone():
    wide = "A,,a@example.com" + ",x" * 1000
    result = run(shopify(wide, "B,,b@example.com,,,,,,,,,,,,,,"))
    assert errors(result)[1] == str(importing.TOO_MANY_CELLS) % {"count": 1003, "header": 17}
    assert list(Customer.objects.values_list("email", flat=True)) == ["b@example.com"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", importing.FILE_EMPTY),
        (b"\xef\xbb\xbf\r\n", importing.FILE_EMPTY),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), importing.FILE_BINARY),
        (b"Email\r\n\x81\x8d\x8f\r\n", importing.FILE_ENCODING),
        ((FIXTURES / "header_only.csv").read_bytes(), importing.FILE_NO_ROWS),
        (SHOPIFY_HEADER.encode() + b"\r\n,,,\r\n", importing.FILE_NO_ROWS),
    ],
    ids=["empty", "bom-only", "binary", "not-cp1252", "header-only", "blank-rows-only"],
)
def test_unreadable_files_are_rejected_whole(data, message, make_customer):
    make_customer(email="keep@example.com")
    with pytest.raises(ImportFileError) as exc:
        run(data)
    assert exc.value.messages == [str(message)]
    assert Customer.objects.count() == 1


def test_unknown_header_names_what_it_found():
    with pytest.raises(ImportFileError) as exc:
        run(FIXTURES / "unknown_header.csv")
    assert exc.value.code == "unknown_header"
    assert "found: Nom, Courriel, Telephone" in exc.value.messages[0]


def test_duplicate_header_names_are_refused():
    with pytest.raises(ImportFileError) as exc:
        run(FIXTURES / "duplicate_header.csv")
    assert exc.value.messages == [str(importing.FILE_DUPLICATE_COLUMN) % {"column": "Email"}]
    assert not Customer.objects.exists()


def test_unknown_extra_columns_are_reported_once():
    result = run("Email,Loyalty points\r\na@example.com,12\r\nb@example.com,3\r\n")
    assert result.created == 2
    assert result.warnings == [str(importing.WARN_IGNORED) % {"columns": "Loyalty points"}]


# ------------------------------------------------------------------ atomicity and cost


def test_all_or_nothing_rejects_the_whole_file():
    result = run(FIXTURES / "shopify_rules.csv", all_or_nothing=True)
    assert not result.committed and len(result.errors) == 4
    assert not Customer.objects.exists() and not Tag.objects.exists()
    assert not CustomerEvent.objects.exists()


def test_dry_run_writes_nothing_but_reports_everything():
    result = run(FIXTURES / "shopify_rules.csv", dry_run=True)
    assert result.created == 4 and not result.committed
    assert not Customer.objects.exists() and not Tag.objects.exists()


def test_a_rejected_row_creates_no_tag_or_group():
    result = run("Email,Tags,Group\r\nbad@,Orphan,Ghosts\r\n")
    assert len(result.errors) == 1
    assert not Tag.objects.exists()


def test_queries_do_not_grow_with_rows(make_customer):
    def file(n, offset=0):
        rows = [
            f"N{i},,c{i + offset}@example.com,yes,,{i} Main St,,Boston,MA,US,02114,,"
            f'(617) 555-{i % 10000:04d},,"t{i % 5}, all",note {i},no'
            for i in range(n)
        ]
        return shopify(*rows)

    run(file(5, offset=10_000))  # tags exist, caches warm
    with CaptureQueriesContext(connection) as small:
        run(file(10))
    with CaptureQueriesContext(connection) as large:
        run(file(300, offset=1000))
    assert len(large.captured_queries) == len(small.captured_queries)
    with CaptureQueriesContext(connection) as update:
        result = run(file(300, offset=1000).replace("yes", "no"))
    assert result.updated == 300
    assert len(update.captured_queries) <= len(small.captured_queries) + 6


def test_batches_split_a_file_without_changing_the_outcome(make_customer):
    rows = [f"N{i},,dup{i % 3}@example.com,,,,,,,,,,,,tag{i},," for i in range(10)]
    result = customers_import(
        actor="test",
        source=io.BytesIO(shopify(*rows).encode()),
        filename="f.csv",
        batch_size=4,
    )
    assert (result.created, result.updated) == (3, 7)
    assert result.repeated_keys == 7
    assert TaggedCustomer.objects.count() == 10


# ------------------------------------------------------------------ the command


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


def test_worker_processes_give_the_same_result_as_one_process():
    rows = [
        f"N{i},,w{i % 40}@example.com,,,,,,,,,,(617) 555-{i:04d},,tag{i % 3},,"
        if i % 7
        else f"Bad{i},,not-an-email,,,,,,,,,,,,,,"
        for i in range(120)
    ]
    data = shopify(*rows).encode()
    results = []
    for workers in (1, 2):
        result = customers_import(
            actor="test",
            source=io.BytesIO(data),
            filename="f.csv",
            workers=workers,
            batch_size=25,
            dry_run=True,
        )
        results.append(
            (result.created, result.updated, [(e.record, e.message) for e in result.errors])
        )
    assert results[0] == results[1]
    assert results[0][0] == 40 and len(results[0][2]) == 18


def test_group_change_names_both_groups_and_a_new_group_is_reported(make_customer):
    retail = CustomerGroup.objects.create(name="Retail")
    make_customer(email="g@example.com", group=retail)
    result = run("Email,Group\r\ng@example.com,Wholesale\r\nh@example.com,retail\r\n")
    assert result.format == "backoffice"
    assert result.reports[0].changes["group"] == ["Retail", "Wholesale"]
    assert result.warnings == [str(importing.WARN_GROUP_CREATED) % {"name": "Wholesale"}]
    assert Customer.objects.get(email="h@example.com").group == retail


def test_command_draws_a_progress_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out, err = io.StringIO(), Terminal()
    call_command("import_customers", str(FIXTURES / "tabs.csv"), stdout=out, stderr=err)
    assert "100%" in err.getvalue() and "100%" not in out.getvalue()
