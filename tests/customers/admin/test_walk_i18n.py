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
