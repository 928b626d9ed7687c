"""A clerk who may only view and change customers: what is hidden, and the 403 page."""

from __future__ import annotations

import logging

import pytest

from tests.browser.pages import LIST, click_and_wait, customer_field, listed_names, messages


@pytest.fixture
def alice(make_customer):
    return make_customer(first_name="Alice", last_name="Martin", email="alice@example.com")


def test_clerk_sees_and_edits_customers_without_the_sensitive_tools(clerk, admin_url, alice):
    clerk.goto(admin_url("/admin/"))
    index = clerk.locator("#content-main").inner_text()
    assert "Customers" in index
    for hidden in ("Customer groups", "Orders", "Customer events", "Users"):
        assert hidden not in index

    clerk.goto(admin_url(LIST))
    assert listed_names(clerk) == ["Alice Martin"]
    tools = clerk.locator(".object-tools").inner_text()
    for hidden in ("Possible duplicates", "Import", "Export", "Add customer"):
        assert hidden.lower() not in tools.lower(), tools
    actions = clerk.locator("select[name=action] option").all_inner_texts()
    for hidden in (
        "Delete selected customers",
        "Merge selected customers",
        "Export selected customers",
        "Email selected customers",
        "Request erasure of selected customers",
        "Archive selected customers",
        "Add tags to selected customers",
    ):
        assert hidden not in actions

    click_and_wait(clerk.locator("#result_list").get_by_role("link", name="Alice Martin"))
    tools = clerk.locator(".object-tools").inner_text()
    for hidden in ("Request erasure", "Export personal data", "Delete"):
        assert hidden.lower() not in tools.lower(), tools
    assert not clerk.get_by_role("link", name="Delete").count()
    customer_field(clerk, "Company").fill("Martin & Co")
    click_and_wait(clerk.get_by_role("button", name="Save and continue editing"))
    assert any("was changed successfully" in text for text in messages(clerk))


@pytest.mark.parametrize(
    "path",
    [
        "/admin/customers/customer/import/",
        "/admin/customers/customer/export/",
        "/admin/customers/customer/duplicates/",
    ],
)
def test_clerk_gets_the_403_page_in_the_admin_layout(clerk, admin_url, alice, path):
    response = clerk.goto(admin_url(path), referer=admin_url(LIST))
    assert response.status == 403
    assert clerk.get_by_role("heading", name="403 Forbidden").is_visible()
    assert clerk.locator("#site-name").inner_text().strip() == "Customer back office"
    assert clerk.locator(".breadcrumbs").inner_text().split() == ["Home", "›", "Forbidden"]
    assert clerk.locator("#content .errornote").inner_text().strip()
    assert "ask an administrator for the permission" in clerk.locator("#content").inner_text()
    assert "clerk" in clerk.locator("#user-tools").inner_text().lower()
    click_and_wait(clerk.get_by_role("link", name="Go back"))
    assert listed_names(clerk) == ["Alice Martin"]


def test_a_403_is_logged_once(clerk, admin_url, alice, settings, monkeypatch):
    # Django's own console handler writes only under DEBUG, as in `manage.py devserver`.
    settings.DEBUG = True
    written = []
    emit = logging.StreamHandler.emit

    def counting_emit(handler, record):
        # Only the console handlers of the project's configuration, not pytest's capture.
        if type(handler) is logging.StreamHandler:
            written.append(handler.format(record))
        return emit(handler, record)

    monkeypatch.setattr(logging.StreamHandler, "emit", counting_emit)
    assert clerk.goto(admin_url("/admin/customers/customer/import/")).status == 403
    forbidden = [line for line in written if "Forbidden (Permission denied)" in line]
    assert len(forbidden) == 1, forbidden
