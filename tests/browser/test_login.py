"""Logging in and out through the admin's own pages."""

from tests.browser.conftest import PASSWORD
from tests.browser.pages import click_and_wait


def test_staff_logs_in_with_the_login_page_and_sees_the_customers(page, admin_url, demo_user):
    page.goto(admin_url("/admin/"))
    assert "/admin/login/" in page.url
    page.locator("#id_username").fill("demo")
    page.locator("#id_password").fill("wrong password")
    click_and_wait(page.locator("input[type=submit]"))
    assert (
        "Please enter the correct username and password" in page.locator(".errornote").inner_text()
    )

    page.locator("#id_password").fill(PASSWORD)
    click_and_wait(page.locator("input[type=submit]"))
    assert page.get_by_role("heading", name="Customers, groups and orders").is_visible()
    click_and_wait(page.locator("#customers-customer").get_by_role("link", name="Customers"))
    assert page.get_by_role("heading", name="Select customer to change").is_visible()

    click_and_wait(page.get_by_role("button", name="Log out"))
    assert page.get_by_role("heading", name="Logged out").is_visible()
