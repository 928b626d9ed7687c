"""The duplicates page's search: the one pair a clerk is looking for, by name, email or phone."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.phones import phone_search_regions_forget
from customers.selectors.duplicates import duplicate_groups

pytestmark = pytest.mark.django_db

DUPLICATES_URL = reverse("admin:customers_customer_duplicates")


@pytest.fixture(autouse=True)
def _fresh_regions():
    phone_search_regions_forget()


@pytest.fixture
def merger(client, make_staff):
    client.force_login(make_staff("view_customer", "change_customer", "merge_customer"))
    return client


@pytest.fixture
def groups(make_customer, make_address):
    """Three phone groups and one address group."""
    made = {}
    for n, (first, last) in enumerate([("Ana", "Ruiz"), ("Chloé", "Martin"), ("Bob", "Stone")]):
        phone = f"+1202555012{n}"
        made[first] = [
            make_customer(
                first_name=first, last_name=last, email=f"{last.lower()}@a.example", phone=phone
            ),
            make_customer(
                first_name=first,
                last_name=f"{last}-2",
                email=f"{last.lower()}2@b.example",
                phone=phone,
            ),
        ]
    for customer in made["Chloé"]:
        make_address(
            customer,
            address1="3 rue de la Paix",
            city="Paris",
            postal_code="75002",
            country_code="FR",
        )
    return made


def listed(response) -> list[set[int]]:
    return [set(group.ids) for group in response.context["groups"]]


@pytest.mark.parametrize(
    "search", ["chloé martin", "MARTIN2@B.EXAM", "(202) 555-0121", "2025550121"]
)
def test_search_keeps_the_groups_of_the_customers_it_finds(merger, groups, search):
    response = merger.get(DUPLICATES_URL, {"q": search})
    assert response.status_code == 200
    assert listed(response) == [{c.pk for c in groups["Chloé"]}]


def test_search_applies_to_every_kind_and_is_kept_in_the_links(merger, groups):
    response = merger.get(DUPLICATES_URL, {"q": "chloé", "reason": "address"})
    assert listed(response) == [{c.pk for c in groups["Chloé"]}]
    html = response.content.decode()
    assert 'name="q" value="chloé"' in html
    assert "?reason=phone&amp;q=chlo%C3%A9" in html
    assert merger.get(DUPLICATES_URL, {"q": "nobody"}).context["groups"] == []
    assert len(listed(merger.get(DUPLICATES_URL))) == 3


def test_search_is_one_query_whatever_the_number_of_groups(groups, make_customer):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            list(duplicate_groups(reason="phone", search="Stone"))
        return len(captured)

    before = queries()
    for n in range(5):
        make_customer(first_name="Stone", email=f"s{n}@x.example", phone=f"+1202555019{n}")
        make_customer(first_name="Stone", email=f"t{n}@x.example", phone=f"+1202555019{n}")
    phone_search_regions_forget()
    assert queries() == before
    assert len(list(duplicate_groups(reason="phone", search="Stone"))) == 6
