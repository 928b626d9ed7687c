"""One record -> a validated record: every rule of each known format."""

from __future__ import annotations

import json

import pytest

from customers.addresses import MILITARY_LINE, MILITARY_ZIP
from customers.models import Channel, Consent, ConsentSource, Customer, CustomerEvent
from customers.services import importing
from tests.customers.importing.helpers import FIXTURES, errors, run, shopify

pytestmark = pytest.mark.django_db


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


def test_invalid_yes_no_and_too_long_values_are_errors():
    long_name = "x" * 151
    result = run(shopify(f"{long_name},,a@example.com,maybe,,,,,,,,,,,,,"))
    message = errors(result)[1]
    assert "First name is longer than 150 characters" in message
    assert "Accepts email marketing must be yes or no" in message
    assert not Customer.objects.exists()


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


def test_shopify_export_columns_are_read_and_totals_ignored():
    result = run(FIXTURES / "shopify_export.csv")
    assert result.format == "shopify" and result.created == 2 and not result.errors
    ana = Customer.objects.get(email="ana@example.es")
    assert ana.phone == "+34612345678"  # read with the row's country, ES
    assert ana.addresses.get().phone == "+34912345678"
    assert list(ana.tags.names()) == ["VIP"]
