"""Matching rows against the database and deciding each outcome."""

from __future__ import annotations

import pytest

from customers.models import (
    Channel,
    Consent,
    ConsentSource,
    Customer,
    CustomerEvent,
    EventKind,
    Status,
    Tag,
)
from customers.services import importing
from groups.models import CustomerGroup
from tests.customers.importing.helpers import FIXTURES, errors, run, shopify

pytestmark = pytest.mark.django_db


def test_repeated_key_is_applied_in_order_and_flagged():
    result = run(FIXTURES / "shopify_rules.csv")
    by_record = {r.record: r for r in result.reports}
    assert by_record[9].outcome == "updated" and by_record[9].repeated
    assert by_record[9].changes["last_name"] == ["Lefèvre", "Lefèvre-Martin"]
    assert by_record[9].changes["tags_added"] == ["Newsletter"]
    assert not by_record[1].repeated
    assert 3 not in by_record  # the blank record
    assert result.repeated_keys == 1


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


def test_ecwid_row_updates_a_known_customer(make_customer):
    known = make_customer(email="zoe@example.com", first_name="Old", last_name="Name")
    result = run(FIXTURES / "ecwid.csv")
    assert result.updated == 1
    known.refresh_from_db()
    assert (known.first_name, known.last_name) == ("Zoë", "Name")


def test_group_change_names_both_groups_and_a_new_group_is_reported(make_customer):
    retail = CustomerGroup.objects.create(name="Retail")
    make_customer(email="g@example.com", group=retail)
    result = run("Email,Group\r\ng@example.com,Wholesale\r\nh@example.com,retail\r\n")
    assert result.format == "backoffice"
    assert result.reports[0].changes["group"] == ["Retail", "Wholesale"]
    assert result.warnings == [str(importing.WARN_GROUP_CREATED) % {"name": "Wholesale"}]
    assert Customer.objects.get(email="h@example.com").group == retail
