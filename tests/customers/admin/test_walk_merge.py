"""The merge page keeps the user's explicit choices, counts in plural forms, dates one way."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from customers.models import Customer, Note
from customers.services.merge import MERGE_FIELDS, merge_default_choices

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:customers_customer_changelist")


@pytest.fixture
def merger(client, make_staff):
    client.force_login(make_staff("view_customer", "change_customer", "merge_customer"))
    return client


@pytest.fixture
def three(make_customer, make_order):
    alpha = make_customer(first_name="Ann", last_name="Alpha", email="a@example.com")
    beta = make_customer(first_name="Ann", last_name="Beta", email="b@example.com")
    gamma = make_customer(first_name="Ann", last_name="Gamma", email="c@example.com")
    make_order(beta)
    make_order(beta)
    return alpha, beta, gamma


def post_data(customers, *, survivor, shown, choices, preview=True) -> dict:
    data = {
        "action": "merge_selected",
        "post": "yes",
        "_preview" if preview else "_confirm": "1",
        "_selected_action": [c.pk for c in customers],
        "survivor": survivor.pk,
        "shown_survivor": shown.pk,
    }
    for c in customers:
        data[f"version_{c.pk}"] = Customer.objects.get(pk=c.pk).version
    data.update({f"keep_{name}": pk for name, pk in choices.items()})
    return data


def checked(html: str, name: str) -> int:
    return int(re.search(rf'name="keep_{name}" value="(\d+)" checked', html).group(1))


def test_a_new_survivor_keeps_the_fields_the_user_chose(merger, three):
    alpha, beta, gamma = three
    first = merger.post(
        LIST_URL, {"action": "merge_selected", "_selected_action": [c.pk for c in three]}
    )
    assert first.context["survivor"] == beta
    # On beta's page the user picks gamma's email by hand, then keeps alpha instead.
    choices = merge_default_choices(beta, [alpha, gamma])
    assert set(choices) == set(MERGE_FIELDS)
    choices["email"] = gamma.pk
    response = merger.post(LIST_URL, post_data(three, survivor=alpha, shown=beta, choices=choices))
    html = response.content.decode()
    assert response.context["survivor"] == alpha
    assert checked(html, "email") == gamma.pk  # the explicit choice stays
    assert checked(html, "last_name") == alpha.pk  # an untouched field follows the new survivor
    rows = {row["name"]: row["result"] for row in response.context["rows"] if row["name"]}
    assert (rows["email"], rows["last_name"]) == ("c@example.com", "Alpha")

    # A second preview with the same survivor keeps every posted choice.
    choices = merge_default_choices(alpha, [beta, gamma]) | {"email": gamma.pk}
    again = merger.post(LIST_URL, post_data(three, survivor=alpha, shown=alpha, choices=choices))
    assert checked(again.content.decode(), "email") == gamma.pk


def test_the_merge_message_counts_each_thing_in_its_plural_form(merger, make_customer):
    kept = make_customer(first_name="Kim", email="kim@example.com")
    other = make_customer(first_name="Kim", email="kim2@example.com")
    Note.objects.create(customer=other, body="Prefers email.")
    choices = merge_default_choices(kept, [other])
    response = merger.post(
        LIST_URL,
        post_data([kept, other], survivor=kept, shown=kept, choices=choices, preview=False),
    )
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Merged 1 customer into {kept}: 0 orders, 1 note and 0 addresses moved."
    ]


def test_merge_page_dates_read_like_every_other_page(merger, three):
    alpha, beta, gamma = three
    response = merger.post(
        LIST_URL, {"action": "merge_selected", "_selected_action": [c.pk for c in three]}
    )
    created = next(row for row in response.context["rows"] if row["label"] == "created")
    expected = date_format(timezone.localtime(alpha.created_at), "DATETIME_FORMAT")
    assert expected in [cell["display"] for cell in created["cells"]]
    assert not re.search(r"\d\d/\d\d/\d{4}", response.content.decode())
