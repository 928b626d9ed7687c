"""The CSV import (upload, preview, tabs, confirm, result, rejected rows) and the export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.browser.pages import (
    LIST,
    click_and_wait,
    listed_names,
    messages,
    run_action,
    select_all_matching,
    sidebar_filter,
    tick,
    wait_for_job_page,
)
from tests.jobs.worker import running_worker

SHOPIFY_HEADER = (
    "First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,"
    "Default Address Address1,Default Address Address2,Default Address City,"
    "Default Address Province Code,Default Address Country Code,Default Address Zip,"
    "Default Address Phone,Phone,Accepts SMS Marketing,Tags,Note,Tax Exempt"
)
SHOPIFY_FILE = "\r\n".join(
    [
        SHOPIFY_HEADER,
        "Nadia,Benali,nadia.benali@example.com,yes,,12 Elm St,,Boston,MA,US,'02114,,"
        '\'+16175550101,no,"VIP, Newsletter",,no',
        "Alice,Martin,ALICE@example.com,,,,,,,,,,,,Loyal,,",
        "Bad,Email,not-an-email,no,,,,,,,,,,,,,no",
        "",
    ]
).encode()


@pytest.fixture
def worker(tmp_path):
    """The import's check and confirm run as jobs: a real db_worker process runs them."""
    with running_worker(tmp_path):
        yield


@pytest.fixture
def alice(make_customer):
    return make_customer(first_name="Alice", last_name="Martin", email="alice@example.com")


def upload(page, url, content: bytes = SHOPIFY_FILE, name: str = "customers_export.csv"):
    page.goto(url(LIST))
    click_and_wait(page.locator(".object-tools").get_by_role("link", name="Import"))
    assert page.get_by_role("heading", name="Import customers").is_visible()
    page.get_by_label("CSV file").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content}
    )
    click_and_wait(page.get_by_role("button", name="Check the file"))
    # The check runs in the worker: the page shows its progress, then reloads with the preview.
    wait_for_job_page(page)


def totals(page) -> list[str]:
    return page.locator("tr.import-totals td").all_inner_texts()


@pytest.mark.usefixtures("worker")
def test_import_upload_preview_confirm_result_and_rejected_rows(demo, admin_url, alice):
    upload(demo, admin_url)
    content = demo.locator("#content").inner_text()
    assert "Nothing has been written yet." in content
    assert "Format: Shopify" in content
    # New, updates, unchanged, skipped, errors, repeated keys.
    assert totals(demo) == ["1", "1", "0", "0", "1", "0"]
    # The errors are shown first.
    rows = demo.locator("#import-rows tbody tr").all_inner_texts()
    assert len(rows) == 1 and "not-an-email" in rows[0], rows

    click_and_wait(demo.get_by_role("button", name="Confirm the import"))
    wait_for_job_page(demo)
    assert (
        "Imported customers_export.csv: 1 created, 1 updated"
        in demo.locator("#content").inner_text()
    )
    assert totals(demo) == ["1", "1", "0", "0", "1", "0"]
    with demo.expect_download() as info:
        demo.get_by_role(
            "link", name="Download the rejected records with their reasons (CSV)"
        ).click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    rejected = list(csv.reader(io.StringIO(text)))
    assert len(rejected) == 2, rejected
    assert "not-an-email" in rejected[1]

    click_and_wait(demo.get_by_role("link", name="Back to the customers"))
    assert {"Nadia Benali", "Alice Martin"} <= set(listed_names(demo))
    row = demo.locator("#result_list tbody tr").filter(has_text="Alice Martin")
    assert "Loyal" in row.inner_text()


@pytest.mark.usefixtures("worker")
def test_import_preview_tabs_show_the_rows_of_one_outcome(demo, admin_url, alice):
    upload(demo, admin_url)
    assert demo.locator("#content strong", has_text="Errors (1)").is_visible()
    click_and_wait(demo.locator("#content").get_by_role("link", name="New (1)"))
    assert "Nothing has been written yet." in demo.locator("#content").inner_text()
    assert demo.locator("#content strong", has_text="New (1)").is_visible()
    rows = demo.locator("#import-rows tbody tr").all_inner_texts()
    assert len(rows) == 1 and "nadia.benali@example.com" in rows[0], rows
    # Back shows the errors tab again, not the browser's ERR_CACHE_MISS page.
    demo.go_back()
    assert demo.locator("#content strong", has_text="Errors (1)").is_visible()
    rows = demo.locator("#import-rows tbody tr").all_inner_texts()
    assert len(rows) == 1 and "not-an-email" in rows[0], rows


def download_export(page) -> list[dict[str, str]]:
    with page.expect_download() as info:
        page.get_by_role("button", name="Download", exact=True).click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_export_of_the_whole_list_and_of_ticked_rows(demo, admin_url, make_customer):
    make_customer(first_name="Ex", last_name="One", email="one@example.com", phone="+12015550111")
    make_customer(first_name="Ex", last_name="Two", email="two@example.com")
    make_customer(first_name="Ex", last_name="Three", email="=cmd@example.com")
    demo.goto(admin_url(LIST))
    click_and_wait(demo.locator(".object-tools").get_by_role("link", name="Export"))
    demo.get_by_label("All customers").check()
    rows = download_export(demo)
    assert sorted(r["Email"] for r in rows) == [
        "'=cmd@example.com",
        "one@example.com",
        "two@example.com",
    ]
    assert next(r for r in rows if r["Email"] == "one@example.com")["Phone"] == "'+12015550111"

    demo.goto(admin_url(LIST))
    tick(demo, "Ex One", "Ex Two")
    run_action(demo, "Export selected customers")
    assert "2 customers selected." in demo.locator("#content").inner_text()
    rows = download_export(demo)
    assert sorted(r["Last Name"] for r in rows) == ["One", "Two"]
    assert not messages(demo)


def test_export_of_all_customers_matching_the_filtered_list(demo, admin_url, make_customer):
    for n in range(1, 13):
        make_customer(first_name="Ex", last_name=f"Loyal{n:02d}", tags=["Loyal"])
    make_customer(first_name="Ex", last_name="Other", email="other@example.com")
    demo.goto(admin_url(f"{LIST}?per_page=10"))
    sidebar_filter(demo, "tag", "Loyal")
    assert len(listed_names(demo)) == 10
    select_all_matching(demo, 12)
    run_action(demo, "Export selected customers")
    assert demo.get_by_label("The filtered list").is_checked()
    rows = download_export(demo)
    assert sorted(r["Last Name"] for r in rows) == [f"Loyal{n:02d}" for n in range(1, 13)]
