"""Words staff read in French and Spanish: the tag list's headers, the site title."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import Tag

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "headers"),
    [("fr", ["Nom", "Identifiant d’URL"]), ("es", ["Nombre", "Identificador de URL"])],
)
def test_tag_list_headers_are_translated(admin_client, language, headers):
    Tag.objects.create(name="VIP", slug="vip")
    html = admin_client.get(
        reverse("admin:customers_tag_changelist"), HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    for header in headers:
        assert f">{header}</a>" in html
    assert ">slug<" not in html.lower()


def test_spanish_site_title(admin_client):
    html = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Gestión de clientes" in html
    assert "Back office" not in html


def test_the_erasure_message_elides_before_a_vowel_in_french(admin_client, make_customer):
    from django.contrib.messages import get_messages

    alice = make_customer(first_name="Alice", last_name="", email="alice@example.fr")
    url = reverse("admin:customers_customer_erasure", args=[alice.pk, "request"])
    response = admin_client.post(url, HTTP_ACCEPT_LANGUAGE="fr")
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Effacement d’Alice demandé."]
