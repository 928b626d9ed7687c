"""Issue 12, export and list side: previous-platform totals, xlsx export, tag filter at scale."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from backoffice.jobs.models import Job
from backoffice.jobs.registry import JobCancelled
from customers.admin.import_export import XLSX_CONTENT_TYPE, XLSX_NAME
from customers.models import Customer, ExportRecord, Tag, TaggedCustomer
from customers.services.exporting import ALL_HEADERS, customers_export_lines, xlsx_write
from customers.services.importing import customers_import

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:customers_customer_changelist")
EXPORT_URL = reverse("admin:customers_customer_export")


@pytest.fixture
def exporter(client, make_staff):
    client.force_login(make_staff("view_customer", "export_customer"))
    return client


def sheet_rows(body: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    return [tuple(cell.value for cell in row) for row in sheet.iter_rows()]


# -- previous-platform totals
def test_change_page_shows_the_previous_platform_apart_from_our_orders(
    admin_client, make_customer, make_order
):
    customer = make_customer(previous_total_orders=12, previous_total_spent=Decimal("1234.56"))
    make_order(customer, total=Decimal("10.00"))
    page = admin_client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    html = page.content.decode()
    assert "Orders: 1 · Total spent: 10.00 USD" in html
    assert "On the previous platform: 12 orders, 1234.56 USD<" in html
    customer.previous_total_orders = customer.previous_total_spent = None
    customer.save()
    page = admin_client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    assert "On the previous platform" not in page.content.decode()


def test_previous_totals_export_and_import_back(make_customer, superuser):
    make_customer(
        email="migrated@example.com",
        shopify_id="7012345678901",
        previous_total_orders=3,
        previous_total_spent=Decimal("117800.00"),
    )
    assert {"Customer ID", "Total Spent", "Total Orders"} <= set(ALL_HEADERS)
    body = "".join(customers_export_lines(queryset=Customer.objects.all()))
    header, row = body.lstrip("\ufeff").splitlines()[:2]
    assert header.endswith("Customer ID,Total Spent,Total Orders")
    assert row.endswith(",7012345678901,117800.00,3")
    Customer.objects.all().delete()
    result = customers_import(
        actor=superuser, source=io.BytesIO(body.encode()), filename="customers.csv"
    )
    assert (result.created, result.errors) == (1, [])
    back = Customer.objects.get()
    assert (back.shopify_id, back.previous_total_spent, back.previous_total_orders) == (
        "7012345678901",
        Decimal("117800.00"),
        3,
    )


def test_list_filters_on_the_previous_platform_total_spent(admin_client, make_customer):
    make_customer(email="none@example.com")
    make_customer(email="small@example.com", previous_total_spent=Decimal("99.99"))
    make_customer(email="mid@example.com", previous_total_spent=Decimal("100.00"))
    make_customer(email="big@example.com", previous_total_spent=Decimal("1000.00"))

    def listed(value: str) -> list[str]:
        page = admin_client.get(LIST_URL, {"previous_spent": value})
        return sorted(c.email for c in page.context["cl"].result_list)

    assert listed("none") == ["none@example.com"]
    assert listed("0-100") == ["small@example.com"]
    assert listed("100-1000") == ["mid@example.com"]
    assert listed("1000+") == ["big@example.com"]
    page = admin_client.get(LIST_URL)
    assert "By previous platform total spent" in page.content.decode()


# -- xlsx
def test_xlsx_export_writes_text_and_numbers_never_a_formula(exporter, make_customer):
    make_customer(
        first_name='=HYPERLINK("http://evil")',
        last_name="\x01=1+1",
        email="x@example.com",
        phone="+16175550134",
        previous_total_orders=4,
        previous_total_spent=Decimal("12.50"),
    )
    columns = ["First Name", "Last Name", "Email", "Phone", "Total Spent", "Total Orders"]
    response = exporter.post(
        EXPORT_URL, {"scope": "all", "columns": columns, "delimiter": ",", "file_format": "xlsx"}
    )
    assert response["Content-Type"] == XLSX_CONTENT_TYPE
    assert response["Content-Disposition"] == f'attachment; filename="{XLSX_NAME}"'
    body = b"".join(response.streaming_content)
    assert sheet_rows(body) == [
        tuple(columns),
        ('\'=HYPERLINK("http://evil")', "'=1+1", "x@example.com", "'+16175550134", 12.5, 4),
    ]
    workbook = load_workbook(io.BytesIO(body))
    cells = list(workbook.worksheets[0].iter_rows(min_row=2))[0]
    assert [cell.data_type for cell in cells] == ["s", "s", "s", "s", "n", "n"]
    assert ExportRecord.objects.get().rows == 1


def test_an_interrupted_xlsx_export_leaves_no_spooled_sheet(tmp_path):
    from openpyxl.worksheet._writer import ALL_TEMP_FILES

    spooled = set(ALL_TEMP_FILES)

    def rows():
        yield ["Email"]
        yield ["a@example.com"]
        raise JobCancelled

    with pytest.raises(JobCancelled):
        xlsx_write(rows(), str(tmp_path / "out.xlsx"))
    assert set(ALL_TEMP_FILES) == spooled
    assert not (tmp_path / "out.xlsx").exists()


def test_a_negative_amount_is_a_number_in_xlsx(tmp_path):
    target = tmp_path / "out.xlsx"
    xlsx_write([["Total Spent", "Total Orders", "Note"], ["'-5.00", "0", "'-5.00"]], str(target))
    assert sheet_rows(target.read_bytes())[1] == (-5.0, 0, "'-5.00")


def test_the_export_form_offers_excel(exporter):
    html = exporter.get(EXPORT_URL).content.decode()
    assert '<option value="xlsx">Excel (.xlsx)</option>' in html


def test_a_big_xlsx_export_is_written_by_the_job(exporter, make_customer, settings, monkeypatch):
    settings.BACKOFFICE_EXPORT_JOB_THRESHOLD = 2
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    monkeypatch.setattr("backoffice.jobs.progress.PROGRESS_INTERVAL", 0)
    for i in range(3):
        make_customer(email=f"e{i}@example.com", first_name=f"+E{i}")
    data = {"scope": "all", "columns": ["Email", "First Name"], "file_format": "xlsx"}
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = exporter.post(EXPORT_URL, {**data, "delimiter": ","})
    job = Job.objects.get()
    assert response["Location"] == f"{EXPORT_URL}?job={job.pk}"
    job.refresh_from_db()
    assert job.result == {"rows": 3, "bytes": job.result["bytes"]}
    download = exporter.get(EXPORT_URL, {"download": job.pk})
    assert download["Content-Disposition"] == f'attachment; filename="{XLSX_NAME}"'
    rows = sheet_rows(b"".join(download.streaming_content))
    assert rows == [("Email", "First Name")] + [(f"e{i}@example.com", f"'+E{i}") for i in range(3)]


# -- tag filter with 10,000 tags
def _tags(count: int, make_customer) -> list[Tag]:
    tags = Tag.objects.bulk_create(
        Tag(name=f"tag {i:05}", slug=f"tag-{i:05}") for i in range(count)
    )
    customers = [make_customer(email=f"t{i}@example.com") for i in range(3)]
    # tag 00007 is the most used (3 customers), then tag 00003 (2): they come first.
    links = [(0, 7), (1, 7), (2, 7), (0, 3), (1, 3), (2, count - 1)]
    TaggedCustomer.objects.bulk_create(
        TaggedCustomer(content_object=customers[c], tag=tags[t]) for c, t in links
    )
    return tags


def _tag_options(html: str) -> int:
    return html.count("?tag=")


def test_tag_filter_lists_the_most_used_tags_first_and_stays_small(admin_client, make_customer):
    tags = _tags(10_000, make_customer)
    with CaptureQueriesContext(connection) as big:
        page = admin_client.get(LIST_URL)
    html = page.content.decode()
    spec = next(s for s in page.context["cl"].filter_specs if s.parameter_name == "tag")
    names = [name for _, name in spec.lookup_choices]
    assert len(names) == 30 and names[:2] == ["tag 00007", "tag 00003"]
    assert _tag_options(html) == 30
    assert len(html) < 150_000
    # The rarely used last tag is not listed, but once chosen it is shown, selected.
    rare = tags[-1]
    page = admin_client.get(LIST_URL, {"tag": rare.pk})
    assert [c.email for c in page.context["cl"].result_list] == ["t2@example.com"]
    selected = f'<li class="selected">\n    <a href="?tag={rare.pk}">tag 09999</a>'
    assert selected in page.content.decode()
    Tag.objects.exclude(pk__in=[t.pk for t in tags[:10]] + [tags[-1].pk]).delete()
    with CaptureQueriesContext(connection) as small:
        admin_client.get(LIST_URL)
    assert len(big) == len(small)


def test_tag_filter_accepts_a_name_from_the_search_box(admin_client, make_customer):
    _tags(50, make_customer)
    page = admin_client.get(LIST_URL, {"tag": "TAG 00003"})
    assert sorted(c.email for c in page.context["cl"].result_list) == [
        "t0@example.com",
        "t1@example.com",
    ]
    html = page.content.decode()
    assert 'name="tag" placeholder="Tag name"' in html
    page = admin_client.get(LIST_URL, {"tag": "no such tag"})
    assert list(page.context["cl"].result_list) == []
