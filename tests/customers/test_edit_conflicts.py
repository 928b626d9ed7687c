"""A refused concurrent save shows, per field the other person changed, both values and a
choice; it keeps the user's own edits and never reverts the other person's change."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from customers.admin.forms import CONFLICT_CHOOSE
from customers.models import Consent, Customer
from tests.customers.test_editing import change_url, page_form_data

pytestmark = pytest.mark.django_db

_ROW = re.compile(r'<tr class="conflict-row" data-field="([^"]+)">(.*?)</tr>', re.S)
_RADIO = re.compile(
    r'<input type="radio" name="([^"]+)" value="(theirs|yours)"( checked)?> ([^<]*)'
)


def conflict_rows(response) -> dict[str, dict]:
    """The conflict table as the user reads it: per field, both values and the checked one."""
    rows = {}
    for name, cells in _ROW.findall(response.content.decode()):
        radios = _RADIO.findall(cells)
        rows[name] = {
            "theirs": html.unescape(radios[0][3].strip()),
            "yours": html.unescape(radios[1][3].strip()),
            "checked": [value for _input, value, checked, _label in radios if checked],
            "both": "you changed it too" in cells,
        }
    return rows


def browser_data(response, **choices) -> dict:
    """What the browser posts back from the refused page, with the checked radio buttons."""
    data = page_form_data(response)
    for name, row in conflict_rows(response).items():
        if row["checked"]:
            data[f"conflict-{name}"] = row["checked"][0]
    data.update({f"conflict-{name}": value for name, value in choices.items()})
    return data


@pytest.fixture
def customer(make_customer):
    return make_customer(
        first_name="Jean", email="jean@example.fr", phone="+33612345678", tags=["VIP"]
    )


@pytest.fixture
def clerks(superuser, make_staff):
    a, b = Client(), Client()
    a.force_login(make_staff("view_customer", "change_customer", "tag_customer", username="anna"))
    b.force_login(superuser)
    return a, b


def _open_both(clerks, customer):
    a, b = clerks
    return page_form_data(a.get(change_url(customer))), page_form_data(b.get(change_url(customer)))


def test_the_conflict_page_shows_both_values_and_the_resave_keeps_both_changes(clerks, customer):
    a, b = clerks
    a_data, b_data = _open_both(clerks, customer)
    b_data["email"] = "jean.dupont@example.fr"
    assert b.post(change_url(customer), b_data).status_code == 302
    a_data["phone"] = "+33698765432"
    refused = a.post(change_url(customer), a_data)
    assert refused.status_code == 200
    assert "boss saved this customer on" in refused.content.decode()
    assert conflict_rows(refused) == {
        "email": {
            "theirs": "jean.dupont@example.fr",
            "yours": "jean@example.fr",
            "checked": ["theirs"],  # Anna did not touch it: theirs unless she says otherwise
            "both": False,
        }
    }
    form = refused.context["adminform"].form
    assert (form["email"].value(), form["phone"].value()) == (
        "jean.dupont@example.fr",
        "+33698765432",  # her own edit, kept
    )
    assert a.post(change_url(customer), browser_data(refused)).status_code == 302
    customer.refresh_from_db()
    assert (customer.email, customer.phone) == ("jean.dupont@example.fr", "+33698765432")
    assert customer.version == 3


def test_choosing_your_own_value_applies_it(clerks, customer):
    a, b = clerks
    a_data, b_data = _open_both(clerks, customer)
    b_data["email"] = "jean.dupont@example.fr"
    b.post(change_url(customer), b_data)
    a_data["phone"] = "+33698765432"
    refused = a.post(change_url(customer), a_data)
    response = a.post(change_url(customer), browser_data(refused, email="yours"))
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.email, customer.phone) == ("jean@example.fr", "+33698765432")


def test_a_field_both_changed_needs_a_choice(clerks, customer):
    a, b = clerks
    a_data, b_data = _open_both(clerks, customer)
    b_data["first_name"] = "Jean-Pierre"
    b.post(change_url(customer), b_data)
    a_data.update(first_name="Jean-Paul", phone="+33698765432")
    refused = a.post(change_url(customer), a_data)
    rows = conflict_rows(refused)
    assert rows["first_name"] == {
        "theirs": "Jean-Pierre",
        "yours": "Jean-Paul",
        "checked": [],
        "both": True,
    }
    again = a.post(change_url(customer), browser_data(refused))
    assert again.status_code == 200
    assert str(CONFLICT_CHOOSE % {"field": "First name"}) in html.unescape(again.content.decode())
    assert "first_name" in conflict_rows(again)  # the table is still there to choose from
    assert Customer.objects.get(pk=customer.pk).first_name == "Jean-Pierre"
    done = a.post(change_url(customer), browser_data(again, first_name="yours"))
    assert done.status_code == 302
    customer.refresh_from_db()
    assert (customer.first_name, customer.phone) == ("Jean-Paul", "+33698765432")


def test_an_unsubscribe_while_the_form_is_open_is_not_reverted(clerks, customer):
    from customers.services.consent import UNSUBSCRIBE_ACTOR, customer_unsubscribe

    Customer.objects.filter(pk=customer.pk).update(email_consent=Consent.SUBSCRIBED)
    a, _b = clerks
    a_data = page_form_data(a.get(change_url(customer)))
    customer_unsubscribe(actor=UNSUBSCRIBE_ACTOR, customer_id=customer.pk, channel="email")
    a_data["company"] = "Dupont SARL"
    refused = a.post(change_url(customer), a_data)
    assert "customer (unsubscribe link) saved this customer" in refused.content.decode()
    rows = conflict_rows(refused)
    assert rows["email_consent"]["theirs"] == "Unsubscribed"
    assert rows["email_consent"]["yours"] == "Subscribed"
    assert a.post(change_url(customer), browser_data(refused)).status_code == 302
    customer.refresh_from_db()
    assert (customer.email_consent, customer.company) == (Consent.UNSUBSCRIBED, "Dupont SARL")


def test_a_tag_change_by_the_other_person_is_kept(clerks, customer):
    a, b = clerks
    a_data, b_data = _open_both(clerks, customer)
    b_data["tags"] = "VIP, Wholesale"
    b.post(change_url(customer), b_data)
    a_data["company"] = "Dupont SARL"
    refused = a.post(change_url(customer), a_data)
    assert conflict_rows(refused)["tags"]["theirs"] == "VIP, Wholesale"
    assert a.post(change_url(customer), browser_data(refused)).status_code == 302
    customer.refresh_from_db()
    assert sorted(customer.tags.names()) == ["VIP", "Wholesale"]
    assert customer.company == "Dupont SARL"


def test_a_tampered_state_falls_back_to_keeping_the_input(clerks, customer):
    a, b = clerks
    a_data, b_data = _open_both(clerks, customer)
    b_data["email"] = "jean.dupont@example.fr"
    b.post(change_url(customer), b_data)
    a_data["edit_state"] = "forged"
    refused = a.post(change_url(customer), a_data)
    assert refused.status_code == 200 and conflict_rows(refused) == {}
    assert refused.context["adminform"].form["expected_version"].value() == 2
