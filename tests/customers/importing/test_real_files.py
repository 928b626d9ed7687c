"""Files shaped like the real exports of other platforms (issue 12): recognised strictly.

Every Shopify generation imports fully; every other platform's file is an unknown format that
writes nothing without a column mapping, and reads right through the suggested one.
"""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path

import pytest

from customers.models import Address, Consent, Customer
from customers.services import importing
from customers.services.importing.formats import MAPPED, format_known
from customers.services.importing.mapping import mapping_suggest
from customers.services.importing.reading import file_sample
from customers.services.importing.rows import NOT_A_COUNTRY_NAME, NUMBER_ROUNDED
from tests.customers.importing.helpers import FIXTURES as SHARED_FIXTURES
from tests.customers.importing.helpers import errors, run

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
OTHER_PLATFORMS = [
    "woocommerce_analytics.csv",
    "woocommerce_plugin.csv",
    "square.csv",
    "heartland.csv",
    "lightspeed_x.csv",
    "mailchimp_subscribed.csv",
    "ghost.csv",
    "newsletter.csv",
    "semicolon_list.csv",
    "pos_template.csv",
    "clients_fr.csv",
    "clientes_es.csv",
]


def suggested(name: str) -> dict[str, str]:
    with (FIXTURES / name).open("rb") as source:
        names, _samples = file_sample(source)
    return mapping_suggest(names)


def run_suggested(name: str, **options):
    return run(FIXTURES / name, mapping=suggested(name), **options)


def address_of(customer: Customer) -> Address:
    return customer.addresses.get(is_default=True)


def test_shopify_before_2022_is_read_whole():
    result = run(FIXTURES / "shopify_2021.csv")
    assert result.format == importing.SHOPIFY and errors(result) == {}
    assert result.created == 3
    maeve = Customer.objects.get(email="maeve@example.com")
    assert maeve.email_consent == Consent.SUBSCRIBED
    assert maeve.phone == "+16175550134"
    assert maeve.previous_total_spent == decimal.Decimal("1204.50")
    assert maeve.previous_total_orders == 7
    assert sorted(maeve.tags.names()) == ["Boston", "VIP"]
    address = address_of(maeve)
    # The export's leading ' kept the zero in a spreadsheet; it is not part of the ZIP.
    assert (address.postal_code, address.province_code, address.country_code) == (
        "02186",
        "MA",
        "US",
    )
    assert maeve.notes.get().body == "Prefers phone"
    quiet = Customer.objects.get(email="quiet@example.com")
    assert quiet.email_consent == Consent.NOT_SUBSCRIBED
    assert (quiet.previous_total_spent, quiet.previous_total_orders) == (decimal.Decimal("0"), 0)
    # No Country Code: the country name gives it.
    assert address_of(Customer.objects.get(email="helene@example.fr")).country_code == "FR"


def test_shopify_2022_reads_both_consents_and_codes_win_over_names():
    result = run(FIXTURES / "shopify_2022.csv")
    assert result.format == importing.SHOPIFY and errors(result) == {}
    ana = Customer.objects.get(email="ana@example.es")
    address = address_of(ana)
    assert (address.province_code, address.country_code, address.postal_code) == (
        "M",
        "ES",
        "28013",
    )
    assert ana.company == "Tienda Ana" and ana.tax_exempt is True
    assert ana.phone == "+34612345678"
    assert ana.previous_total_spent == decimal.Decimal("265000.00")
    carlos = Customer.objects.get(phone="+34699112233")
    assert carlos.email == "" and carlos.sms_consent == Consent.SUBSCRIBED


def test_current_shopify_export_keeps_its_id_totals_and_birth_date_metafield():
    result = run(FIXTURES / "shopify_2024.csv")
    assert result.format == importing.SHOPIFY and errors(result) == {}
    assert result.warnings == [
        str(importing.WARN_IGNORED)
        % {"columns": "Accepts WhatsApp Marketing, Empresa (customer.metafields.custom.empresa)"}
    ]
    mara = Customer.objects.get(email="mara@example.com")
    assert mara.shopify_id == "8701329178869"
    assert mara.date_of_birth == datetime.date(1990, 4, 12)
    assert (mara.previous_total_spent, mara.previous_total_orders) == (
        decimal.Decimal("117800.00"),
        12,
    )
    bilal = Customer.objects.get(phone="+923435290031")
    address = address_of(bilal)
    assert address.postal_code == "04616" and address.phone == "+923435290031"
    assert bilal.notes.get().body == "first line\r\nsecond line"


def test_totals_update_an_existing_customer_and_an_empty_cell_keeps_them():
    run(FIXTURES / "shopify_2021.csv")
    header = (FIXTURES / "shopify_2021.csv").read_text().splitlines()[0]
    result = run(f"{header}\r\n,,maeve@example.com,,,,,,,,,,,,2000.00,,,,\r\n")
    assert result.updated == 1
    maeve = Customer.objects.get(email="maeve@example.com")
    assert maeve.previous_total_spent == decimal.Decimal("2000.00")
    assert maeve.previous_total_orders == 7
    (report,) = result.reports
    assert report.changes["previous_total_spent"] == ["1204.50", "2000.00"]


def test_an_unknown_country_name_rejects_the_row():
    header = (FIXTURES / "shopify_2021.csv").read_text().splitlines()[0]
    result = run(f"{header}\r\n,,x@example.com,,,,,,,Atlantis,,,,no,,,,,\r\n")
    assert errors(result) == {
        1: str(NOT_A_COUNTRY_NAME) % {"column": "Country", "value": "Atlantis"}
    }
    assert not Customer.objects.exists()


@pytest.mark.parametrize("name", OTHER_PLATFORMS)
def test_other_platforms_files_are_unknown_and_write_nothing(name):
    with pytest.raises(importing.ImportFileError) as exc:
        run(FIXTURES / name)
    assert exc.value.code == "unknown_header"
    assert not Customer.objects.exists()


def test_known_formats_need_their_defining_columns():
    assert format_known(["name", "email"]) == importing.ECWID
    assert format_known(["name", "email", "password"]) == importing.ECWID
    assert format_known(["name", "email", "phone"]) is None
    assert format_known(["City", "State", "Postal Code", "Email"]) is None
    assert format_known(["First Name", "Email", "Accepts Marketing"]) is None  # no Address1
    shipstation = (SHARED_FIXTURES / "shipstation.csv").read_text().splitlines()[0].split(",")
    assert format_known(shipstation) == importing.SHIPSTATION
    assert format_known([n for n in shipstation if n != "Username"]) is None
    # Our own export's columns, any of them (the export lets staff choose).
    assert format_known(["Email", "Status", "Group"]) == importing.BACKOFFICE


def test_the_newsletter_file_keeps_its_consent_and_notes_through_the_mapping():
    result = run_suggested("newsletter.csv")
    assert result.format == MAPPED and result.created == 2 and errors(result) == {}
    ada = Customer.objects.get(email="ada@example.com")
    assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")
    assert ada.email_consent == Consent.SUBSCRIBED
    assert ada.notes.get().body == "Signed up at the launch"
    assert Customer.objects.get(email="bob@example.com").email_consent == Consent.NOT_SUBSCRIBED


def test_the_semicolon_list_is_read_with_its_phone_column(settings):
    settings.BACKOFFICE_PHONE_REGION = "FR"  # a French shop's list of French numbers
    result = run_suggested("semicolon_list.csv")
    assert (result.created, result.skipped, errors(result)) == (3, 0, {})
    assert result.warnings == []
    jeanne = Customer.objects.get(phone="+33612345678")
    assert (jeanne.first_name, jeanne.last_name, jeanne.email) == ("Jeanne", "Moreau", "")
    assert Customer.objects.get(email="paul@example.fr").last_name == "Dupont"
    assert Customer.objects.filter(phone="+33798765432").exists()


def test_ghost_export_through_the_suggestions():
    result = run_suggested("ghost.csv")
    assert result.created == 2 and errors(result) == {}
    sam = Customer.objects.get(email="email@example.com")
    assert (sam.first_name, sam.last_name) == ("Sam", "Memberino")
    assert sam.email_consent == Consent.SUBSCRIBED
    assert sorted(sam.tags.names()) == ["Newsletter", "VIP"]
    assert sam.notes.get().body == "Early supporter"
    assert result.warnings == [
        str(importing.WARN_IGNORED)
        % {"columns": "id, complimentary_plan, stripe_customer_id, created_at, deleted_at, tiers"}
    ]


def test_mailchimp_export_unquotes_its_tags_and_ignores_the_geo_columns():
    result = run_suggested("mailchimp_subscribed.csv")
    assert result.created == 2 and errors(result) == {}
    s5 = Customer.objects.get(email="s5@example.com")
    assert (s5.first_name, s5.last_name, s5.company) == ("Dolor", "Simet", "Lorem Co.")
    assert sorted(s5.tags.names()) == ["Lorem Editors", "VIP"]
    assert not s5.addresses.exists()  # CC and REGION are where the IP was
    c1 = Customer.objects.get(email="c1@example.com")
    assert address_of(c1).postal_code == "02114" and list(c1.tags.names()) == ["Editors"]


def test_square_export_reads_money_with_signs_and_its_subscription_states():
    result = run_suggested("square.csv")
    assert result.created == 3 and errors(result) == {}
    grace = Customer.objects.get(email="grace@example.com")
    assert grace.phone == "+15623972052" and grace.username == "X1Y2Z3"
    assert grace.email_consent == Consent.SUBSCRIBED
    assert grace.date_of_birth == datetime.date(1988, 7, 14)
    assert (grace.previous_total_spent, grace.previous_total_orders) == (
        decimal.Decimal("1234.56"),
        14,
    )
    # "unknown" is no answer, "bounced" no consent: neither subscribes, neither is an error.
    assert Customer.objects.get(phone="+13107038944").email_consent == Consent.NOT_SUBSCRIBED
    assert Customer.objects.get(email="ivy@example.com").email_consent == Consent.NOT_SUBSCRIBED


def test_woocommerce_heartland_and_lightspeed_through_the_suggestions():
    woo = run_suggested("woocommerce_analytics.csv")
    assert woo.created == 2 and errors(woo) == {}
    olivia = Customer.objects.get(email="olivia@example.com")
    assert (olivia.first_name, olivia.last_name) == ("Olivia", "Martin")
    assert olivia.phone == "+15125550147"
    assert olivia.previous_total_orders == 4
    assert address_of(Customer.objects.get(email="noah@example.com")).postal_code == "M5V 2T6"
    plugin = run_suggested("woocommerce_plugin.csv")
    assert plugin.created == 1 and errors(plugin) == {}
    liam = Customer.objects.get(email="liam@example.ie")
    assert (liam.company, address_of(liam).country_code, liam.username) == ("Walsh Ltd", "IE", "42")
    heartland = run_suggested("heartland.csv")
    assert heartland.created == 2 and errors(heartland) == {}
    assert address_of(Customer.objects.get(email="support@example.com")).postal_code == "02127"
    assert Customer.objects.get(phone="+18883472190").username == "1"
    lightspeed = run_suggested("lightspeed_x.csv")
    assert lightspeed.created == 1 and errors(lightspeed) == {}
    ruby = Customer.objects.get(email="ruby@example.co.nz")
    assert ruby.group.name == "Retail" and address_of(ruby).city == "Auckland"


def test_french_and_spanish_files_through_the_suggestions():
    fr = run_suggested("clients_fr.csv")
    assert fr.created == 1 and errors(fr) == {}
    elodie = Customer.objects.get(email="elodie@example.fr")
    assert (elodie.first_name, elodie.last_name) == ("Élodie", "Lefèvre")
    assert elodie.phone == "+33612345678"
    assert elodie.email_consent == Consent.SUBSCRIBED
    assert elodie.date_of_birth == datetime.date(1985, 3, 9)
    assert address_of(elodie).country_code == "FR"
    es = run_suggested("clientes_es.csv")
    assert es.created == 1 and errors(es) == {}
    jose = Customer.objects.get(email="jose@example.es")
    assert (jose.first_name, jose.last_name) == ("José", "García López")
    assert jose.email_consent == Consent.SUBSCRIBED and address_of(jose).country_code == "ES"
    assert jose.phone == "+34612345678"


def test_the_leading_quote_is_dropped_only_where_the_policy_says():
    header = (FIXTURES / "shopify_2021.csv").read_text().splitlines()[0]
    row = ",,q@example.com,'Acme,,,,,,,,'02186,'+16175550134,no,,,,'+not a formula?,no"
    result = run(f"{header}\r\n{row}\r\n")
    assert errors(result) == {}
    customer = Customer.objects.get()
    assert address_of(customer).postal_code == "02186" and customer.phone == "+16175550134"
    assert customer.company == "'Acme"  # no formula character follows: the quote is data
    assert customer.notes.get().body == "+not a formula?"


def test_phones_and_zips_a_spreadsheet_turned_into_numbers():
    header = (FIXTURES / "shopify_2021.csv").read_text().splitlines()[0]
    exact = ",,n@example.com,,,,,,,,US,2114.0,2025550123.0,no,,,,,no"
    rounded = ",,r@example.com,,,,,,,,US,,7.02255E+12,no,,,,,no"
    result = run(f"{header}\r\n{exact}\r\n{rounded}\r\n")
    assert errors(result) == {2: str(NUMBER_ROUNDED) % {"column": "Phone", "value": "7.02255E+12"}}
    customer = Customer.objects.get()
    assert customer.phone == "+12025550123" and address_of(customer).postal_code == "2114"
