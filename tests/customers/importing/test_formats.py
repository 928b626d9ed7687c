"""Header rows: recognising the format, refusing what is not one."""

from __future__ import annotations

import pytest

from customers.models import Customer
from customers.services import importing
from customers.services.importing import ImportFileError
from tests.customers.importing.helpers import FIXTURES, run

pytestmark = pytest.mark.django_db


def test_unknown_header_names_what_it_found():
    with pytest.raises(ImportFileError) as exc:
        run(FIXTURES / "unknown_header.csv")
    assert exc.value.code == "unknown_header"
    assert "found: Nom, Courriel, Telephone" in exc.value.messages[0]


def test_duplicate_header_names_are_refused():
    with pytest.raises(ImportFileError) as exc:
        run(FIXTURES / "duplicate_header.csv")
    assert exc.value.messages == [str(importing.FILE_DUPLICATE_COLUMN) % {"column": "Email"}]
    assert not Customer.objects.exists()


def test_unknown_extra_columns_are_reported_once():
    # A known format (Shopify's defining columns) tolerates columns of its own.
    header = "First Name,Last Name,Email,Accepts Marketing,Address1,Loyalty points"
    result = run(f"{header}\r\n,,a@example.com,no,,12\r\n,,b@example.com,no,,3\r\n")
    assert result.created == 2
    assert result.warnings == [str(importing.WARN_IGNORED) % {"columns": "Loyalty points"}]
