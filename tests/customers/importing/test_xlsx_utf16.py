"""Excel .xlsx workbooks and Excel's UTF-16 "Unicode text": the same rules as CSV."""

from __future__ import annotations

import codecs
import datetime
import io

import openpyxl
import pytest

from customers.models import Consent, Customer
from customers.services import importing
from customers.services.importing import xlsx
from customers.services.importing.rows import NUMBER_ROUNDED
from customers.services.importing.xlsx import (
    FILE_XLS_OLD,
    FILE_XLSX_BROKEN,
    FILE_XLSX_TOO_BIG,
    cell_text,
)
from tests.customers.importing.helpers import SHOPIFY_HEADER, errors, run

pytestmark = pytest.mark.django_db

HEADER = SHOPIFY_HEADER.split(",")


def workbook(rows: list[list], *, first_sheet_rows: list[list] | None = None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in first_sheet_rows if first_sheet_rows is not None else rows:
        sheet.append(row)
    if first_sheet_rows is not None:
        other = book.create_sheet("Second")
        for row in rows:
            other.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def shopify_row(**cells) -> list:
    row = [None] * len(HEADER)
    for name, value in cells.items():
        row[HEADER.index(name)] = value
    return row


def test_an_xlsx_export_imports_like_its_csv():
    data = workbook(
        [
            HEADER,
            shopify_row(
                **{
                    "First Name": "Ana",
                    "Email": "ana@example.es",
                    "Accepts Email Marketing": "yes",
                    "Default Address Country Code": "US",
                    "Default Address Zip": "02114",
                    "Phone": 2025550123.0,  # a phone a spreadsheet stored as a number
                    "Tax Exempt": True,
                    "Tags": "VIP, Madrid",
                }
            ),
            [None] * len(HEADER),  # an empty row is skipped, not an error
            shopify_row(**{"Email": "zip@example.com", "Default Address Zip": 2114}),
        ]
    )
    result = run(data)
    assert result.format == importing.SHOPIFY and errors(result) == {}
    assert result.created == 2
    ana = Customer.objects.get(email="ana@example.es")
    assert ana.phone == "+12025550123" and ana.tax_exempt is True
    assert ana.email_consent == Consent.SUBSCRIBED
    assert sorted(ana.tags.names()) == ["Madrid", "VIP"]
    assert ana.addresses.get().postal_code == "02114"
    # A ZIP typed as a number lost its zero in the spreadsheet: the digits are what is left.
    assert Customer.objects.get(email="zip@example.com").addresses.get().postal_code == "2114"


def test_xlsx_dates_and_an_unknown_header_go_through_a_mapping():
    data = workbook(
        [
            ["Courriel", "Prénom", "Date de naissance", "Abonné"],
            ["ada@example.com", "Ada", datetime.datetime(1985, 3, 9), "oui"],
        ]
    )
    with pytest.raises(importing.ImportFileError) as exc:
        run(data)
    assert exc.value.code == "unknown_header"
    result = run(
        data,
        mapping={
            "Courriel": "email",
            "Prénom": "first_name",
            "Date de naissance": "date_of_birth",
            "Abonné": "email_consent",
        },
    )
    assert errors(result) == {}
    ada = Customer.objects.get()
    assert ada.date_of_birth == datetime.date(1985, 3, 9)
    assert ada.email_consent == Consent.SUBSCRIBED


def test_a_rounded_number_in_a_phone_column_is_an_error_never_stored():
    data = workbook([HEADER, shopify_row(**{"Email": "r@example.com", "Phone": "7.02255E+12"})])
    result = run(data)
    assert errors(result) == {1: str(NUMBER_ROUNDED) % {"column": "Phone", "value": "7.02255E+12"}}
    assert not Customer.objects.exists()


def test_a_formula_is_never_evaluated():
    data = workbook(
        [HEADER, shopify_row(**{"Email": "f@example.com", "First Name": "=1+1", "Note": "=A1"})]
    )
    result = run(data)
    assert errors(result) == {}
    customer = Customer.objects.get()
    # openpyxl wrote no cached value: the cell reads empty, never "2".
    assert customer.first_name == "" and not customer.notes.exists()


def test_only_the_first_sheet_is_read():
    data = workbook(
        [HEADER, shopify_row(**{"Email": "second@example.com"})],
        first_sheet_rows=[HEADER, shopify_row(**{"Email": "first@example.com"})],
    )
    assert run(data).created == 1
    assert list(Customer.objects.values_list("email", flat=True)) == ["first@example.com"]


def test_broken_old_and_bomb_workbooks_are_refused(settings, monkeypatch):
    with pytest.raises(importing.ImportFileError) as exc:
        run(b"PK\x03\x04" + b"\x00" * 100)
    assert exc.value.messages == [str(FILE_XLSX_BROKEN) % {"error": "BadZipFile"}]
    with pytest.raises(importing.ImportFileError) as exc:
        run(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert exc.value.messages == [str(FILE_XLS_OLD)]
    # An archive unpacking to more than MAX_EXPANSION times its size is not opened.
    settings.BACKOFFICE_IMPORT_MAX_BYTES = 1000
    monkeypatch.setattr(xlsx, "MAX_EXPANSION", 2)
    big = workbook([HEADER, *[shopify_row(Email=f"a{i}@example.com") for i in range(200)]])
    with pytest.raises(importing.ImportFileError) as exc:
        run(big)
    assert exc.value.code == "xlsx_too_big" and exc.value.message == FILE_XLSX_TOO_BIG
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("x", "x"),
        (True, "yes"),
        (12, "12"),
        (2025550123.0, "2025550123"),
        (12.5, "12.5"),
        (datetime.datetime(2024, 1, 2), "2024-01-02"),
        (datetime.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02 03:04:05"),
        (datetime.date(2024, 1, 2), "2024-01-02"),
    ],
)
def test_cells_become_the_text_a_csv_would_hold(value, text):
    assert cell_text(value) == text


def test_utf16_unicode_text_from_excel_is_read():
    text = "First Name\tLast Name\tEmail\tTags\r\nInès\tNúñez\tines@example.es\t東京, VIP\r\n"
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        Customer.objects.all().delete()
        result = run(bom + text.encode(codec))
        assert errors(result) == {} and result.created == 1
        ines = Customer.objects.get()
        assert (ines.first_name, ines.last_name) == ("Inès", "Núñez")
        assert sorted(ines.tags.names()) == ["VIP", "東京"]


def test_broken_utf16_is_refused_not_replaced():
    data = codecs.BOM_UTF16_LE + "Email\r\n".encode("utf-16-le") + b"\x00\xd8"  # lone surrogate
    with pytest.raises(importing.ImportFileError) as exc:
        run(data)
    assert exc.value.code == "encoding"
