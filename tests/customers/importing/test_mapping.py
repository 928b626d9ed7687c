"""Column mappings: suggestions from header names, validation, booleans, saved mappings."""

from __future__ import annotations

import json

import pytest

from customers.models import Consent, Customer, ImportMapping
from customers.services import importing
from customers.services.importing.formats import (
    MAPPING_FIELD_TWICE,
    MAPPING_FIELDS,
    MAPPING_NO_KEY,
    MAPPING_NOT_IN_FILE,
    MAPPING_UNKNOWN_FIELD,
    header_parse,
)
from customers.services.importing.mapping import (
    MAPPING_NOT_FOUND,
    MappingChoice,
    field_suggest,
    import_mapping_save,
    mapping_saved_for,
    mapping_suggest,
)
from customers.services.importing.rows import NOT_A_BOOLEAN, amount_parse
from tests.customers.importing.helpers import command, errors, run

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("Courriel", "email"),
        ("Correo electrónico", "email"),
        ("Phone Number", "phone"),
        ("Téléphone", "phone"),
        ("Teléfono", "phone"),
        ("Zip", "postal_code"),
        ("Postal Code", "postal_code"),
        ("Code postal", "postal_code"),
        ("Código postal", "postal_code"),
        ("Country / Region", "country_code"),
        ("Address 1", "address1"),
        ("Street Address 1", "address1"),
        ("Full name", "full_name"),
        ("Prénom", "first_name"),
        ("Apellidos", "last_name"),
        ("Birthday", "date_of_birth"),
        ("Date de naissance", "date_of_birth"),
        ("Tags", "tags"),
        ("Labels", "tags"),
        ("Groups", "tags"),
        ("Subscribed", "email_consent"),
        ("Consent", "email_consent"),
        ("Accepts Marketing", "email_consent"),
        ("Notes", "note"),
        ("Comments", "note"),
        ("Loyalty points", "ignore"),
    ],
)
def test_suggestions_understand_english_french_spanish_names(header, field):
    assert field_suggest(header) == field


def test_nom_is_the_family_name_beside_a_prenom_and_the_whole_name_alone():
    assert mapping_suggest(["Prénom", "Nom", "Courriel"])["Nom"] == "last_name"
    assert mapping_suggest(["Nom", "Courriel"])["Nom"] == "full_name"
    assert mapping_suggest(["Nombre", "Apellidos", "Correo"])["Nombre"] == "first_name"
    assert mapping_suggest(["Nombre", "Correo"])["Nombre"] == "full_name"


def test_a_field_is_suggested_once_the_first_column_wins():
    mapping = mapping_suggest(["email", "billing_email", "phone", "mobile"])
    assert mapping == {
        "email": "email",
        "billing_email": "ignore",
        "phone": "phone",
        "mobile": "ignore",
    }


def test_a_known_header_is_suggested_as_its_format_reads_it():
    names = ["First Name", "Last Name", "Email", "Accepts Marketing", "Address1", "Province"]
    names += ["Province Code", "Country", "Country Code", "Zip"]
    mapping = mapping_suggest(names)
    assert mapping["Province Code"] == "province_code" and mapping["Province"] == "ignore"
    assert mapping["Country Code"] == "country_code" and mapping["Country"] == "ignore"
    assert mapping["Accepts Marketing"] == "email_consent"


def test_every_suggestion_is_a_field_the_mapping_accepts():
    from customers.services.importing.mapping import SYNONYMS

    assert set(SYNONYMS) <= set(MAPPING_FIELDS)


def test_semicolon_header_of_unknown_names_is_split_on_semicolons():
    header = header_parse("Nom;Courriel;Téléphone\r\n")
    assert header.delimiter == ";" and header.names == ["Nom", "Courriel", "Téléphone"]
    assert header_parse("Nom\tCourriel\r\n").delimiter == "\t"


@pytest.mark.parametrize(
    ("mapping", "message", "params"),
    [
        ({"Nom": "full_name"}, MAPPING_NO_KEY, {}),
        ({"Nom": "email", "Courriel": "email"}, MAPPING_FIELD_TWICE, None),
        ({"Courriel": "e-mail"}, MAPPING_UNKNOWN_FIELD, {"column": "Courriel", "field": "e-mail"}),
        ({"Courriel": "email", "Fax": "phone"}, MAPPING_NOT_IN_FILE, {"column": "Fax"}),
    ],
)
def test_a_mapping_is_checked_against_the_header(mapping, message, params):
    with pytest.raises(importing.ImportFileError) as exc:
        run("Nom;Courriel;Telephone\r\nA;a@example.com;\r\n", mapping=mapping)
    if params is not None:
        assert exc.value.messages == [str(message) % params]
    else:
        assert exc.value.messages[0].startswith(str(message).split(":")[0] % {"field": "Email"})
    assert not Customer.objects.exists()


def test_unmapped_columns_are_listed_as_ignored():
    result = run(
        "Nom;Courriel;Telephone\r\nAda Lovelace;ada@example.com;x\r\n",
        mapping={"Nom": "full_name", "Courriel": "email"},
    )
    assert result.format == "mapped" and result.created == 1
    assert result.warnings == [str(importing.WARN_IGNORED) % {"columns": "Telephone"}]


@pytest.mark.parametrize(
    ("cell", "state"),
    [
        ("yes", Consent.SUBSCRIBED),
        ("TRUE", Consent.SUBSCRIBED),
        ("1", Consent.SUBSCRIBED),
        ("y", Consent.SUBSCRIBED),
        ("Subscribed", Consent.SUBSCRIBED),
        ("oui", Consent.SUBSCRIBED),
        ("Sí", Consent.SUBSCRIBED),
        ("si", Consent.SUBSCRIBED),
        ("no", Consent.NOT_SUBSCRIBED),
        ("False", Consent.NOT_SUBSCRIBED),
        ("0", Consent.NOT_SUBSCRIBED),
        ("unsubscribed", Consent.NOT_SUBSCRIBED),
        ("NON", Consent.NOT_SUBSCRIBED),
        ("unknown", Consent.NOT_SUBSCRIBED),
    ],
)
def test_a_mapped_consent_column_accepts_the_usual_spellings(cell, state):
    result = run(
        f"mail,ok\r\na@example.com,{cell}\r\n", mapping={"mail": "email", "ok": "email_consent"}
    )
    assert errors(result) == {}
    assert Customer.objects.get().email_consent == state


def test_a_mapped_boolean_column_refuses_anything_else():
    result = run(
        "mail,ok\r\na@example.com,maybe\r\n", mapping={"mail": "email", "ok": "tax_exempt"}
    )
    column = "Tax exempt (column “ok”)"
    assert errors(result) == {1: str(NOT_A_BOOLEAN) % {"column": column, "value": "maybe"}}


def test_shopify_columns_still_take_yes_or_no_only():
    header = "First Name,Last Name,Email,Accepts Marketing,Address1"
    result = run(f"{header}\r\n,,a@example.com,oui,\r\n")
    assert errors(result) == {
        1: str(importing.NOT_YES_NO)
        % {"column": "Accepts email marketing (column “Accepts Marketing”)", "value": "oui"}
    }


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("117800.00", "117800.00"),
        ("$1,234.56", "1234.56"),
        ("1 234,56 €", "1234.56"),
        ("1.234,56", "1234.56"),
        ("12,5", "12.50"),
        ("1,234", "1234.00"),
        ("0", "0.00"),
        ("EUR 10.10", "10.10"),
        ("ten", None),
        ("1e9", None),
    ],
)
def test_amounts_are_read_as_written_in_several_countries(text, amount):
    found = amount_parse(text)
    assert (str(found) if found is not None else None) == amount


def test_a_saved_mapping_is_found_by_its_header_and_by_its_name(make_staff):
    staff = make_staff("import_customer")
    names = ["Nom", "Courriel"]
    saved = import_mapping_save(
        actor=staff,
        name="Salon list",
        names=names,
        columns={"Nom": "full_name", "Courriel": "email"},
    )
    assert saved.created_by == staff
    assert mapping_saved_for(["Nom", "Courriel"]).name == "Salon list"
    assert mapping_saved_for(["Courriel", "Nom"]) is None  # another header
    assert MappingChoice("Salon list").resolve(names) == {"Nom": "full_name", "Courriel": "email"}
    with pytest.raises(importing.ImportFileError):
        import_mapping_save(actor=staff, name="Bad", names=names, columns={"Nom": "full_name"})
    assert ImportMapping.objects.count() == 1


def test_mapping_choice_refuses_what_is_neither_name_file_nor_suggested(tmp_path):
    with pytest.raises(importing.ImportFileError) as exc:
        MappingChoice(str(tmp_path / "nope.json")).resolve(["a"])
    assert exc.value.messages == [str(MAPPING_NOT_FOUND) % {"value": str(tmp_path / "nope.json")}]
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(importing.ImportFileError) as exc:
        MappingChoice(str(bad)).resolve(["a"])
    assert exc.value.code == "mapping_file"


# -- the command


def test_command_without_mapping_exits_2_writes_nothing_and_says_how_to_map(tmp_path):
    path = tmp_path / "salon.csv"
    path.write_text("Nom;Courriel\r\nAda Lovelace;ada@example.com\r\n", encoding="utf-8")
    status, outputs, _err = command(str(path))
    assert status == 2 and not Customer.objects.exists()
    message = outputs[0]["errors"][0]["message"]
    assert message.startswith(str(importing.FILE_UNKNOWN_HEADER).split("%")[0])
    assert "--mapping suggested (the suggestions: Nom=full_name, Courriel=email)" in message


def test_command_mapping_suggested_json_file_and_map_options(tmp_path):
    path = tmp_path / "salon.csv"
    path.write_text("Nom;Courriel;Tel\r\nAda Lovelace;ada@example.com;+33612345678\r\n")
    status, outputs, _err = command(str(path), "--mapping", "suggested", "--dry-run")
    assert status == 0 and outputs[0]["format"] == "mapped" and outputs[0]["created"] == 1
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_text(json.dumps({"Nom": "full_name", "Courriel": "email", "Tel": "ignore"}))
    status, outputs, _err = command(str(path), "--mapping", str(mapping_file), "--map", "Tel=phone")
    assert status == 0 and outputs[0]["created"] == 1
    ada = Customer.objects.get()
    assert (ada.first_name, ada.last_name, ada.phone) == ("Ada", "Lovelace", "+33612345678")


def test_command_saves_a_mapping_and_uses_it_by_name(tmp_path):
    path = tmp_path / "salon.csv"
    path.write_text("Nom;Courriel\r\nAda Lovelace;ada@example.com\r\n")
    status, _outputs, _err = command(
        str(path), "--mapping", "suggested", "--save-mapping", "Salon", "--dry-run"
    )
    assert status == 0 and ImportMapping.objects.get().name == "Salon"
    status, outputs, _err = command(str(path))
    assert status == 2 and "--mapping Salon" in outputs[0]["errors"][0]["message"]
    status, outputs, _err = command(str(path), "--mapping", "Salon")
    assert status == 0 and outputs[0]["created"] == 1


def test_command_refuses_a_map_option_without_equals(tmp_path):
    path = tmp_path / "salon.csv"
    path.write_text("Courriel\r\nada@example.com\r\n")
    status, outputs, _err = command(str(path), "--map", "Courriel")
    assert status == 2 and "COLUMN=FIELD" in outputs[0]["errors"][0]["message"]
