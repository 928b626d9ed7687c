"""What the import tells a French or Spanish clerk: our field's name, the file's column beside it,
and each count in its own plural form."""

from __future__ import annotations

import pytest
from django.utils import translation

from customers.services.importing.results import ImportResult, describe
from tests.customers.importing.helpers import errors, run

pytestmark = pytest.mark.django_db

FILE = "Prénom,Nom,Courriel,Phone\r\nAnn,Lee,ann@example.com,12345\r\n"
MAPPING = {"Prénom": "first_name", "Nom": "last_name", "Courriel": "email", "Phone": "phone"}


@pytest.mark.parametrize(
    ("language", "start"),
    [
        ("fr", "Téléphone (colonne « Phone ») : "),
        ("es", "Teléfono (columna «Phone»): "),
        ("en", "Phone: "),
    ],
)
def test_a_refused_cell_names_the_field_in_the_readers_language(language, start):
    with translation.override(language):
        message = errors(run(FILE, mapping=MAPPING))[1]
    assert message.startswith(start), message


@pytest.mark.parametrize(
    ("language", "one", "many"),
    [
        (
            "fr",
            "1 créé, 1 mis à jour, 1 inchangé, 1 ignoré, 1 enregistrement refusé.",
            "2 créés, 2 mis à jour, 2 inchangés, 2 ignorés, 2 enregistrements refusés.",
        ),
        (
            "es",
            "1 creado, 1 actualizado, 1 sin cambios, 1 omitido, 1 registro rechazado.",
            "2 creados, 2 actualizados, 2 sin cambios, 2 omitidos, 2 registros rechazados.",
        ),
        (
            "en",
            "1 created, 1 updated, 1 unchanged, 1 skipped, 1 record rejected.",
            "2 created, 2 updated, 2 unchanged, 2 skipped, 2 records rejected.",
        ),
    ],
)
def test_each_total_agrees_with_its_own_number(language, one, many):
    def result(n: int) -> ImportResult:
        totals = ImportResult(file="x.csv", format="shopify")
        totals.created = totals.updated = totals.unchanged = totals.skipped = n
        totals.errors = [object()] * n
        return totals

    with translation.override(language):
        assert (describe(result(1)), describe(result(2))) == (one, many)
