"""What the tests read and do on the customer list, through the page only."""

from __future__ import annotations

import re

LIST = "/admin/customers/customer/"


def click_and_wait(locator) -> None:
    """Click something that loads a new page, and wait for that page."""
    with locator.page.expect_navigation():
        locator.click()


def listed_names(page) -> list[str]:
    """The names in the change list's rows, top to bottom (the first column of each row)."""
    return [text.strip() for text in page.locator("#result_list tbody tr th").all_inner_texts()]


def search(page, term: str) -> None:
    page.locator("#searchbar").fill(term)
    click_and_wait(page.locator("#changelist-search input[type=submit]"))


def sidebar_filter(page, title: str, choice: str) -> None:
    """Click a choice in the sidebar filter headed "By <title>"."""
    block = page.locator("#changelist-filter details").filter(
        has=page.locator("summary", has_text=re.compile(rf"^\s*By {re.escape(title)}\s*$"))
    )
    click_and_wait(block.get_by_role("link", name=choice, exact=True))


def tick(page, *names: str) -> None:
    """Tick the rows of the customers with these names."""
    for name in names:
        row = page.locator("#result_list tbody tr").filter(
            has=page.get_by_role("link", name=name, exact=True)
        )
        row.locator("input[name=_selected_action]").check()


def run_action(page, label: str) -> None:
    """Choose an action by its label and press Go."""
    page.locator("select[name=action]").select_option(label=label)
    click_and_wait(page.locator("#changelist-form button[name=index]"))


def select_all_matching(page, count: int) -> None:
    """Tick the page, then "Select all N customers" to select across every page."""
    page.locator("#action-toggle").check()
    page.get_by_role("button", name=f"Select all {count} customers").click()


def messages(page) -> list[str]:
    return [text.strip() for text in page.locator("ul.messagelist li").all_inner_texts()]


def customer_field(page, label: str):
    """A field of the change form's first fieldset (not the address inline's namesake)."""
    return page.locator("fieldset").first.get_by_label(f"{label}:", exact=True)


# A background job (the import's check and its confirm) runs in a real worker process.
JOB_TIMEOUT_MS = 60_000


def wait_for_job_page(page) -> None:
    """Wait until a job's page has reloaded itself with the job's outcome (its totals)."""
    page.locator("tr.import-totals").wait_for(timeout=JOB_TIMEOUT_MS)
