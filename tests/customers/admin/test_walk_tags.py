"""Tags typed the way Shopify takes them: separated by commas only, shown plainly."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import Tag
from customers.services.tagging import tag_names_format, tag_names_parse
from tests.customers.bulk_helpers import confirm, messages_of, start
from tests.customers.test_editing import page_form_data

pytestmark = pytest.mark.django_db


def tags_of(customer) -> list[str]:
    return sorted(customer.tags.names())


def change_url(customer) -> str:
    return reverse("admin:customers_customer_change", args=[customer.pk])


@pytest.mark.parametrize(
    ("typed", "names"),
    [
        ("Black Friday", ["Black Friday"]),
        ("Gift card buyer, VIP", ["Gift card buyer", "VIP"]),
        ("  Black   Friday ,, vip, VIP ,", ["Black Friday", "vip"]),
        ('"Loyal customer", Newsletter', ["Loyal customer", "Newsletter"]),
        (" , ", []),
    ],
)
def test_tags_are_separated_by_commas_only(typed, names):
    assert tag_names_parse(typed) == names


def test_tags_are_written_back_plainly():
    assert tag_names_format(["Loyal customer", "Newsletter"]) == "Loyal customer, Newsletter"


def test_change_form_shows_plain_tags_and_saves_multi_word_tags(admin_client, make_customer):
    customer = make_customer(tags=["Newsletter", "Loyal customer"])
    page = admin_client.get(change_url(customer))
    html = page.content.decode()
    assert 'name="tags" value="Loyal customer, Newsletter"' in html
    assert "&quot;" not in html.split('name="tags"')[1].split(">")[0]

    data = page_form_data(page)
    data["tags"] = "Loyal customer, Black Friday, Gift card buyer"
    response = admin_client.post(change_url(customer), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert tags_of(customer) == ["Black Friday", "Gift card buyer", "Loyal customer"]
    assert not Tag.objects.filter(name__in=["Black", "Friday", "Gift", "card", "buyer"]).exists()


def test_bulk_add_and_remove_read_multi_word_tags_as_one(make_staff, client, make_customer):
    a, b = make_customer(), make_customer(tags=["Gift card buyer", "VIP"])
    client.force_login(make_staff("view_customer", "tag_customer"))

    added = confirm(client, start(client, "add_tags", [a, b]), tags="Black Friday")
    assert messages_of(added) == ["Tag “Black Friday” added to 2 customers."]
    assert tags_of(a) == ["Black Friday"]

    removed = confirm(client, start(client, "remove_tags", [a, b]), tags="Gift card buyer")
    assert messages_of(removed) == ["Tag “Gift card buyer” removed from 1 customer."]
    assert tags_of(b) == ["Black Friday", "VIP"]
    assert Tag.objects.filter(name="Black Friday").count() == 1
    assert not Tag.objects.filter(name__in=["Black", "Friday"]).exists()
