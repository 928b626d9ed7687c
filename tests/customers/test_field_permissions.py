"""The change form: tags, group and source channel are read-only for whoever may not change
them, and a forged POST changes none of them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from customers.models import Channel, Customer, Tag
from customers.services.editing import (
    GROUP_NOT_ALLOWED,
    TAG_CREATE_NOT_ALLOWED,
    TAGS_NOT_ALLOWED,
    customer_save,
)
from groups.models import CustomerGroup
from tests.customers.test_editing import change_url, page_form_data

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:customers_customer_add")
CLERK = ("view_customer", "change_customer", "add_customer", "view_address", "view_note")


@pytest.fixture
def discount(db):
    return CustomerGroup.objects.create(name="Staff discount 50%")


@pytest.fixture
def customer(make_customer):
    return make_customer(first_name="Jean", email="jean@example.fr", tags=["VIP"])


def _inputs(html: str) -> dict[str, bool]:
    return {name: f'name="{name}"' in html for name in ("tags", "group", "source")}


def test_a_clerk_without_the_permissions_sees_tags_and_group_read_only(
    client, make_staff, customer, discount
):
    client.force_login(make_staff(*CLERK))
    html = client.get(change_url(customer)).content.decode()
    assert _inputs(html) == {"tags": False, "group": False, "source": False}
    assert '<div class="readonly">VIP</div>' in html  # still shown


def test_a_forged_post_moves_no_group_and_creates_no_tag(client, make_staff, customer, discount):
    client.force_login(make_staff(*CLERK))
    data = page_form_data(client.get(change_url(customer)))
    data.update(
        first_name="Jean-Paul", group=str(discount.pk), tags="VIP, Free shipping", source="shopify"
    )
    response = client.post(change_url(customer), data)
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.first_name == "Jean-Paul"  # what the clerk may change is saved
    assert customer.group_id is None
    assert sorted(customer.tags.names()) == ["VIP"]
    assert not Tag.objects.filter(name="Free shipping").exists()
    assert customer.source == Channel.MANUAL


def test_with_the_permissions_the_fields_are_editable(client, make_staff, customer, discount):
    client.force_login(make_staff(*CLERK, "tag_customer", "add_tag", "group_customer"))
    response = client.get(change_url(customer))
    assert _inputs(response.content.decode()) == {"tags": True, "group": True, "source": False}
    data = page_form_data(response)
    data.update(group=str(discount.pk), tags="VIP, Free shipping")
    assert client.post(change_url(customer), data).status_code == 302
    customer.refresh_from_db()
    assert customer.group == discount
    assert sorted(customer.tags.names()) == ["Free shipping", "VIP"]


def test_creating_a_tag_through_the_form_needs_the_tag_add_permission(client, make_staff, customer):
    Tag.objects.create(name="Wholesale", slug="wholesale")
    client.force_login(make_staff(*CLERK, "tag_customer"))
    data = page_form_data(client.get(change_url(customer)))
    data["tags"] = "VIP, Free shipping"
    response = client.post(change_url(customer), data)
    assert response.status_code == 200
    assert str(TAG_CREATE_NOT_ALLOWED % {"tags": "Free shipping"}) in response.content.decode()
    assert not Tag.objects.filter(name="Free shipping").exists()
    data["tags"] = "VIP, wholesale"  # an existing tag, in any case, is fine
    assert client.post(change_url(customer), data).status_code == 302
    customer.refresh_from_db()
    assert sorted(customer.tags.names()) == ["VIP", "Wholesale"]


def test_the_source_channel_is_set_by_the_system_on_the_add_form(client, make_staff, discount):
    client.force_login(make_staff(*CLERK))
    response = client.get(ADD_URL)
    assert _inputs(response.content.decode()) == {"tags": False, "group": False, "source": False}
    data = page_form_data(response)
    data.update(email="new@example.com", source="shopify", group=str(discount.pk), tags="Free")
    response = client.post(ADD_URL, data)
    assert response.status_code == 302, response.context["errors"]
    created = Customer.objects.get(email="new@example.com")
    assert (created.source, created.group_id) == (Channel.MANUAL, None)
    assert list(created.tags.names()) == [] and not Tag.objects.exists()


def test_a_superuser_adds_a_customer_with_tags_and_group_but_not_a_source(admin_client, discount):
    data = page_form_data(admin_client.get(ADD_URL))
    data.update(email="new@example.com", source="shipstation", group=str(discount.pk), tags="A")
    assert admin_client.post(ADD_URL, data).status_code == 302
    created = Customer.objects.get(email="new@example.com")
    assert (created.source, created.group, list(created.tags.names())) == (
        Channel.MANUAL,
        discount,
        ["A"],
    )


@pytest.mark.parametrize(
    ("perms", "change", "message"),
    [
        ((), {"group": True}, GROUP_NOT_ALLOWED),
        ((), {"tags": ["VIP", "Other"]}, TAGS_NOT_ALLOWED),
        (("tag_customer",), {"tags": ["VIP", "Brand new"]}, TAG_CREATE_NOT_ALLOWED),
    ],
)
def test_the_service_refuses_what_the_actor_may_not_change(
    make_staff, customer, discount, perms, change, message
):
    clerk = make_staff(*CLERK, *perms)
    stale = Customer.objects.get(pk=customer.pk)
    if change.get("group"):
        stale.group = discount
    with pytest.raises(ValidationError) as error:
        customer_save(
            actor=clerk, customer=stale, expected_version=stale.version, tags=change.get("tags")
        )
    assert error.value.messages == [
        str(message % {"tags": "Brand new"}) if "%(tags)s" in str(message) else str(message)
    ]
    customer.refresh_from_db()
    assert customer.group_id is None and sorted(customer.tags.names()) == ["VIP"]
    assert not Tag.objects.filter(name__in=["Other", "Brand new"]).exists()
