"""CustomerFilterSet: every condition of the list, its bounds, its words and its errors."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.models import Address, Consent, Customer, Status, Tag
from customers.selectors.filtersets import (
    conditions_clean,
    conditions_from_query,
    conditions_sentence,
    customers_matching,
)
from customers.services.order_summary import order_summaries_refresh
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _store_currency(settings):
    settings.BACKOFFICE_STORE_CURRENCY = "USD"


def emails(queryset) -> set[str]:
    return set(queryset.values_list("email", flat=True))


def matching(**conditions) -> set[str]:
    return emails(customers_matching(conditions=conditions))


@pytest.fixture
def spenders(make_customer, make_order):
    """Three customers with real-shaped order histories (store currency USD)."""
    ana = make_customer(email="ana.garcia@example.com")
    ben = make_customer(email="ben.okafor@shop.co.uk")
    cleo = make_customer(email="cleo@example.com")
    for total in ("40.00", "60.00"):  # 2 orders, 100.00, average 50.00
        make_order(ana, total=total, currency="USD")
    for total in ("120.00", "80.00", "100.00", "200.00"):  # 4 orders, 500.00, average 125.00
        make_order(ben, total=total, currency="USD")
    # One order in euros at a stored rate (counted), one in pounds without a rate (apart).
    make_order(cleo, total="100.00", currency="EUR", exchange_rate=Decimal("1.10"))
    make_order(cleo, total="30.00", currency="GBP")
    return ana, ben, cleo


# --- ranges ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({"total_spent_min": "100"}, {"ana", "ben", "cleo"}),  # the minimum is inclusive
        ({"total_spent_min": "100.01"}, {"ben", "cleo"}),
        ({"total_spent_max": "100"}, {"ana", "none"}),  # so is the maximum
        ({"total_spent_min": "100", "total_spent_max": "110"}, {"ana", "cleo"}),
        ({"total_spent_min": "", "total_spent_max": ""}, {"ana", "ben", "cleo", "none"}),
        ({"order_count_min": "2"}, {"ana", "ben", "cleo"}),
        ({"order_count_min": "3"}, {"ben"}),
        ({"order_count_max": "0"}, {"none"}),
        ({"order_count_min": "2", "order_count_max": "2"}, {"ana", "cleo"}),
        ({"average_order_min": "110"}, {"ben", "cleo"}),
        ({"average_order_max": "50"}, {"ana"}),  # no counted order: no average, never matched
        ({"average_order_min": "50", "average_order_max": "110"}, {"ana", "cleo"}),
    ],
)
def test_ranges_accept_any_bounds(spenders, make_customer, conditions, expected):
    make_customer(email="none@example.com")
    found = {email.split("@")[0].split(".")[0] for email in matching(**conditions)}
    assert found == expected


def test_average_order_counts_only_orders_in_the_store_currency(spenders):
    ana, ben, cleo = spenders
    for customer in spenders:
        customer.refresh_from_db()
    assert (ana.counted_order_count, ana.average_order_value) == (2, Decimal("50.00"))
    assert (ben.counted_order_count, ben.average_order_value) == (4, Decimal("125.00"))
    # 100 EUR at 1.10 = 110.00 USD counted; the 30 GBP are shown apart, not averaged.
    assert (cleo.order_count, cleo.counted_order_count) == (2, 1)
    assert (cleo.total_spent, cleo.average_order_value) == (Decimal("110.00"), Decimal("110.00"))


@pytest.mark.parametrize(
    ("conditions", "field"),
    [
        ({"total_spent_min": "abc"}, "total_spent"),
        ({"total_spent_min": "500", "total_spent_max": "100"}, "total_spent"),
        ({"order_count_min": "2.5"}, "order_count"),
        ({"average_order_max": "-1"}, "average_order"),
        ({"created_from": "2026-02-30"}, "created"),
        ({"created_from": "2026-03-01", "created_to": "2026-02-01"}, "created"),
        ({"birthday_within": "400"}, "birthday_within"),
        ({"email_consent__exact": "maybe"}, "email_consent__exact"),
        ({"status": "deleted"}, "status"),
    ],
)
def test_invalid_values_are_refused_naming_the_condition(conditions, field):
    with pytest.raises(ValidationError) as caught:
        conditions_clean(conditions)
    assert caught.value.code == "invalid_condition"
    assert caught.value.params["field"] == field
    with pytest.raises(ValidationError):
        customers_matching(conditions=conditions)


def test_max_below_min_says_so():
    with pytest.raises(ValidationError) as caught:
        conditions_clean({"total_spent_min": "500", "total_spent_max": "100"})
    assert caught.value.messages == ["Total spent: The maximum is below the minimum."]


def test_a_condition_no_filter_reads_is_reported_not_crashed_on():
    with pytest.raises(ValidationError) as caught:
        conditions_clean({"total_spent_min": "10", "loyalty_points_min": "5"})
    assert caught.value.code == "unknown_condition"
    assert caught.value.params["field"] == "loyalty_points_min"


def test_clean_normalises():
    assert conditions_clean(
        {"total_spent_min": " 100 ", "total_spent_max": "", "tag_any": ["VIP", " Gold "]}
    ) == {"total_spent_min": "100", "tag_any": ["VIP", "Gold"]}


# --- dates ----------------------------------------------------------------------------------


def _at(day: str, hour: int = 12) -> datetime.datetime:
    return timezone.make_aware(
        datetime.datetime.combine(datetime.date.fromisoformat(day), datetime.time(hour))
    )


def test_created_range_covers_whole_days(make_customer):
    make_customer(email="jan31@example.com", created_at=_at("2026-01-31", 23))
    make_customer(email="feb01@example.com", created_at=_at("2026-02-01", 0))
    make_customer(email="feb28@example.com", created_at=_at("2026-02-28", 23))
    make_customer(email="mar01@example.com", created_at=_at("2026-03-01", 0))
    feb = {"feb01@example.com", "feb28@example.com"}
    assert matching(created_from="2026-02-01", created_to="2026-02-28") == feb
    assert matching(created_from="2026-02-01") == feb | {"mar01@example.com"}
    assert matching(created_to="2026-01-31") == {"jan31@example.com"}


def test_last_order_and_consent_changed_ranges(make_customer, make_order):
    old = make_customer(email="old@example.com", email_consent_updated_at=_at("2025-06-01"))
    new = make_customer(email="new@example.com", sms_consent_updated_at=_at("2026-06-01"))
    make_customer(email="never@example.com")
    make_order(old, total="10.00", placed_at=_at("2025-05-05"))
    make_order(new, total="10.00", placed_at=_at("2026-05-05"))
    assert matching(last_order_from="2026-01-01") == {"new@example.com"}
    assert matching(last_order_to="2025-12-31") == {"old@example.com"}
    assert matching(email_consent_changed_to="2025-12-31") == {"old@example.com"}
    assert matching(sms_consent_changed_from="2026-05-01") == {"new@example.com"}


@pytest.mark.parametrize(
    ("today", "days", "expected"),
    [
        # Crosses the year's end: 28 December + 7 days reaches 4 January.
        ("2026-12-28", 7, {"dec30", "jan03"}),
        ("2026-12-28", 2, {"dec30"}),
        ("2026-12-31", 0, set()),
        # 2027 has no 29 February: those born on it celebrate on the 28th.
        ("2027-02-27", 1, {"feb28", "feb29"}),
        ("2027-03-01", 3, {"mar01"}),
        # 2028 has one: the 28th and the 29th are each their own day.
        ("2028-02-27", 1, {"feb28"}),
        ("2028-02-29", 0, {"feb29"}),
        ("2026-06-01", 366, {"dec30", "jan03", "feb28", "feb29", "mar01"}),
    ],
)
def test_birthday_within_the_next_days(make_customer, monkeypatch, today, days, expected):
    for name, born in [
        ("dec30", "1990-12-30"),
        ("jan03", "1985-01-03"),
        ("feb28", "1979-02-28"),
        ("feb29", "1996-02-29"),
        ("mar01", "2001-03-01"),
    ]:
        make_customer(email=f"{name}@example.com", date_of_birth=datetime.date.fromisoformat(born))
    make_customer(email="unknown@example.com")
    monkeypatch.setattr(timezone, "localdate", lambda: datetime.date.fromisoformat(today))
    found = {email.split("@")[0] for email in matching(birthday_within=str(days))}
    assert found == expected


# --- the default address, contact details ------------------------------------------------


def test_location_reads_the_default_address_only(make_customer, make_address):
    paris = make_customer(email="paris@example.com")
    make_address(paris, is_default=True, city="Paris", province_code="", country_code="FR")
    make_address(paris, is_default=False, city="Boston", province_code="MA", country_code="US")
    boston = make_customer(email="boston@example.com")
    make_address(boston, is_default=True, city="Boston", province_code="MA", country_code="US")
    nowhere = make_customer(email="nowhere@example.com")
    make_address(nowhere, is_default=False, city="Lyon", province_code="", country_code="FR")
    assert matching(country="fr") == {"paris@example.com"}
    assert matching(country="US") == {"boston@example.com"}
    assert matching(province="ma") == {"boston@example.com"}
    assert matching(city="boston") == {"boston@example.com"}
    assert matching(country="US", city="Paris") == set()
    assert Address.objects.filter(city="Lyon").exists()


def test_email_domain_and_missing_contact_details(make_customer):
    make_customer(email="ana@example.com", phone="+16175550123")
    make_customer(email="ben@mail.example.com")
    make_customer(email="", phone="+33612345678", first_name="Chloé")
    assert matching(email_domain="example.com") == {"ana@example.com"}
    assert matching(email_domain="@Example.COM") == {"ana@example.com"}
    assert matching(no_email="yes") == {""}
    assert matching(no_phone="yes") == {"ben@mail.example.com"}


# --- tags -----------------------------------------------------------------------------------


@pytest.fixture
def tagged(make_customer):
    make_customer(email="vip-gold@example.com", tags=["VIP", "Gold"])
    make_customer(email="vip@example.com", tags=["VIP"])
    make_customer(email="gold@example.com", tags=["Gold", "Wholesale"])
    make_customer(email="plain@example.com")
    return {tag.name: tag.pk for tag in Tag.objects.all()}


def test_tags_any_all_none_by_name_or_id(tagged):
    vip, gold = tagged["VIP"], tagged["Gold"]
    assert matching(tag_any=["vip", "GOLD"]) == {
        "vip-gold@example.com",
        "vip@example.com",
        "gold@example.com",
    }
    assert matching(tag_any=f"{vip},{gold}") == matching(tag_any=["VIP", "Gold"])
    assert matching(tag_all=["VIP", str(gold)]) == {"vip-gold@example.com"}
    assert matching(tag_all="Gold") == {"vip-gold@example.com", "gold@example.com"}
    assert matching(tag_none=["VIP", "Wholesale"]) == {"plain@example.com"}
    assert matching(tag_none="Gold", tag_any="VIP") == {"vip@example.com"}
    assert matching(tag="vip") == {"vip-gold@example.com", "vip@example.com"}


def test_an_unknown_tag_matches_nobody_but_excludes_nobody(tagged):
    assert matching(tag_any="Platinum") == set()
    assert matching(tag_all=["VIP", "Platinum"]) == set()
    assert len(matching(tag_none="Platinum")) == 4


def test_tag_all_is_one_grouped_semi_join(tagged):
    conditions = {"tag_all": ["VIP", "Gold", "Wholesale"]}
    sql = str(customers_matching(conditions=conditions).query).upper()
    assert sql.count("GROUP BY") == 1 and "HAVING" in sql
    assert sql.count("CUSTOMERS_TAGGEDCUSTOMER") == 1


# --- the list's existing conditions -------------------------------------------------------


def test_status_defaults_to_current(make_customer):
    make_customer(email="active@example.com")
    make_customer(email="archived@example.com", status=Status.ARCHIVED)
    assert matching() == {"active@example.com"}
    assert matching(status="archived") == {"archived@example.com"}
    assert matching(status="all") == {"active@example.com", "archived@example.com"}


def test_account_conditions(make_customer):
    retail = CustomerGroup.objects.create(name="Retail")
    make_customer(
        email="a@example.com",
        group=retail,
        tax_exempt=True,
        email_consent=Consent.SUBSCRIBED,
        source="shopify",
        has_active_subscription=True,
        previous_total_spent=Decimal("250.00"),
    )
    make_customer(email="b@example.com", sms_consent=Consent.UNSUBSCRIBED)
    assert matching(group__id__exact=str(retail.pk)) == {"a@example.com"}
    assert matching(group__isnull="True") == {"b@example.com"}
    assert matching(tax_exempt__exact="1") == {"a@example.com"}
    assert matching(tax_exempt__exact="0") == {"b@example.com"}
    assert matching(email_consent__exact="subscribed") == {"a@example.com"}
    assert matching(sms_consent__exact="unsubscribed") == {"b@example.com"}
    assert matching(source__exact="shopify") == {"a@example.com"}
    assert matching(has_active_subscription__exact="1") == {"a@example.com"}
    assert matching(previous_spent="100-1000") == {"a@example.com"}
    assert matching(previous_spent="none") == {"b@example.com"}


def test_erasure_and_duplicates(make_customer):
    make_customer(email="gone@example.com", erasure_requested_at=timezone.now())
    make_customer(email="", phone="+16175550123", first_name="Twin")
    make_customer(email="twin@example.com", phone="+16175550123")
    assert matching(erasure="yes") == {"gone@example.com"}
    assert matching(erasure="no") == {"", "twin@example.com"}
    assert matching(duplicates="yes") == {"", "twin@example.com"}


def test_search_term_is_the_lists_search(make_customer):
    make_customer(email="ana@acme.example", company="Acme")
    make_customer(email="ben@example.com", phone="+16175550123")
    assert matching(q="acme") == {"ana@acme.example"}
    assert matching(q="(617) 555-0123") == {"ben@example.com"}
    assert matching(q="acme", total_spent_min="1") == set()


# --- the contract's other half: query strings and words ------------------------------------


def test_conditions_from_query_drop_paging_and_ordering():
    query = (
        "?p=3&o=-6&per_page=50&e=1&_changelist_filters=x"
        "&total_spent_min=100&tag_any=VIP&tag_any=Gold&q=acme&city="
    )
    assert conditions_from_query(query) == {
        "total_spent_min": "100",
        "tag_any": ["VIP", "Gold"],
        "q": "acme",
    }


def test_sentence(make_customer):
    make_customer(tags=["VIP"])
    conditions = {
        "total_spent_min": "100",
        "tag_any": "VIP",
        "email_consent__exact": "subscribed",
    }
    assert conditions_sentence(conditions) == (
        "Total spent at least 100 and tagged VIP and subscribed to email"
    )
    assert conditions_sentence(
        {"order_count_min": "2", "order_count_max": "5", "created_from": "2026-01-01"}
    ) == ("Number of orders between 2 and 5 and created on or after Jan. 1, 2026")
    assert conditions_sentence({}) == "All current customers"


def test_customers_matching_narrows_a_given_queryset(make_customer):
    a = make_customer(email="a@example.com", tags=["VIP"])
    make_customer(email="b@example.com", tags=["VIP"])
    base = Customer.objects.filter(pk=a.pk)
    assert emails(customers_matching(conditions={"tag": "VIP"}, queryset=base)) == {a.email}


def test_refresh_keeps_the_average_equal_to_the_aggregate(make_customer, make_order):
    """The stored average is the counted orders' mean, after the orders change."""
    customer = make_customer(email="avg@example.com")
    for total in ("10.00", "10.00", "10.01"):
        make_order(customer, total=total, currency="USD")
    customer.refresh_from_db()
    assert customer.average_order_value == Decimal("10.00")  # 30.01 / 3, to the cent
    customer.orders.filter(total=Decimal("10.01")).update(total=Decimal("25.00"))
    order_summaries_refresh(customer_ids=[customer.pk])
    customer.refresh_from_db()
    assert (customer.counted_order_count, customer.average_order_value) == (3, Decimal("15.00"))
