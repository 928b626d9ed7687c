"""End-to-end tests: Debian's Chromium, driven by Playwright, against Django's live server.

One browser per run of this package, one fresh browser context (cookies, language) per test.
The sign-in tests go through the real password and two-factor pages; every other test starts
with the session cookie of a user signed in the way the server tests do (``force_login``, second
factor verified, see tests/conftest.py), which saves two page loads per test.

A failing test leaves a screenshot and the page's HTML in the artifacts folder
($BROWSER_ARTIFACTS, else ``browser-artifacts/`` in the checkout), and pytest's summary names that
folder. Screenshots of the main pages in French and Spanish are always kept in its ``screens/``.

Without Chromium the tests skip, except under CI=true, where they fail: CI must run them.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.test import Client

CHROMIUM = os.environ.get("BROWSER_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling hosts this closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(
    os.environ.get("BROWSER_ARTIFACTS") or Path(__file__).resolve().parents[2] / "browser-artifacts"
)
# Fail fast: a page of this back office answers in well under a second on the live server.
TIMEOUT_MS = 10_000
PASSWORD = "correct horse battery staple"
CLERK_PERMISSIONS = ["view_customer", "change_customer"]

SCREENS = ARTIFACTS / "screens"

_saved: list[Path] = []
_screens: list[Path] = []


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    # The page fixture reads this at teardown to decide whether to keep evidence.
    if report.when == "call":
        item.browser_call_failed = report.failed
    return report


def pytest_terminal_summary(terminalreporter):
    reports = [
        report
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "nodeid", "").startswith("tests/browser/")
    ]
    if reports:
        # CI keeps the browser suite under 5 minutes; the log shows where it stands.
        seconds = sum(getattr(report, "duration", 0) for report in reports)
        tests = len({report.nodeid for report in reports})
        terminalreporter.write_sep("-", f"browser suite: {tests} tests in {seconds:.0f} s")
    if _saved or _screens:
        terminalreporter.write_sep("-", "browser artifacts")
    if _screens:
        terminalreporter.write_line(f"{len(_screens)} screenshots of the main pages: {SCREENS}")
    if _saved:
        terminalreporter.write_line(f"screenshots and page HTML of failed tests: {ARTIFACTS}")
        for path in _saved:
            terminalreporter.write_line(f"  {path.name}")


def screenshot(page, name: str) -> Path:
    """Keep a full-page screenshot of what the page shows now, failing or not."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    _screens.append(path)
    return path


@pytest.fixture(scope="package")
def browser():
    """Start Chromium once for the whole browser suite, and stop it when the suite is done."""
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Evidence from an earlier run would be mistaken for this run's.
    shutil.rmtree(ARTIFACTS, ignore_errors=True)

    # Sync Playwright keeps an asyncio loop in this thread, and Django refuses ORM calls while a
    # loop runs (SynchronousOnlyOperation); our ORM calls here are plain synchronous test set-up.
    # Scoped to this package so that the rest of the suite keeps Django's guard.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def _live_server_host(settings, live_server):
    # The suite's conftest allows only "testserver"; the browser talks to localhost.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost", "127.0.0.1"]


@pytest.fixture
def locale() -> str:
    """The browser's language (Accept-Language); a test overrides it with parametrize."""
    return "en-US"


@pytest.fixture
def context(browser, locale, request):
    ctx = browser.new_context(
        locale=locale, viewport={"width": 1366, "height": 900}, accept_downloads=True
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    for number, page in enumerate(ctx.pages):
        if getattr(request.node, "browser_call_failed", False):
            _save_artifacts(request.node.nodeid, number, page)
    ctx.close()


def _save_artifacts(nodeid: str, number: int, page) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("tests/browser/")[-1]).strip("_")
    stem = f"{stem}-{number}" if number else stem
    try:
        page.screenshot(path=ARTIFACTS / f"{stem}.png", full_page=True)
        _saved.append(ARTIFACTS / f"{stem}.png")
        (ARTIFACTS / f"{stem}.html").write_text(page.content(), encoding="utf-8")
        _saved.append(ARTIFACTS / f"{stem}.html")
    except Exception as error:  # a crashed page must not hide the test's own failure
        (ARTIFACTS / f"{stem}.error.txt").write_text(repr(error), encoding="utf-8")
        _saved.append(ARTIFACTS / f"{stem}.error.txt")


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def admin_url(live_server):
    """Build an absolute URL of the back office from a path ("/admin/...")."""
    return lambda path="/admin/": f"{live_server.url}{path}"


def log_in(page, url: str, username: str, password: str = PASSWORD) -> None:
    """Type the password on the admin's own login page, as staff do."""
    page.goto(url)
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    with page.expect_navigation():
        page.locator("input[type=submit]").click()


def sign_in(context, base_url: str, user: User) -> None:
    """Give the browser the session cookie of ``user``, signed in with both factors."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base_url}])


@pytest.fixture
def demo_user(transactional_db) -> User:
    return User.objects.create_superuser("demo", "demo@example.com", PASSWORD)


@pytest.fixture
def clerk_user(transactional_db) -> User:
    user = User.objects.create_user("clerk", "clerk@example.com", PASSWORD, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="customers", codename__in=CLERK_PERMISSIONS
        )
    )
    return user


@pytest.fixture
def manager_user(transactional_db) -> User:
    """A shop manager: every permission of the back office's own apps, not a superuser."""
    user = User.objects.create_user("manager", "manager@example.com", PASSWORD, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["customers", "groups", "jobs"])
    )
    return user


@pytest.fixture
def demo(page, context, live_server, demo_user):
    """A blank page signed in as a superuser: the test opens the page it needs."""
    sign_in(context, live_server.url, demo_user)
    return page


@pytest.fixture
def clerk(page, context, live_server, clerk_user):
    """A blank page signed in as a clerk who may only view and change customers."""
    sign_in(context, live_server.url, clerk_user)
    return page


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
