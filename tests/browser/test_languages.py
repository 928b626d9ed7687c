"""The main pages in French and Spanish show no English outside the customers' own data.

A word shown on the English page that is also shown on the French (or Spanish) page is
untranslated, unless it is data or a word both languages spell the same way.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import screenshot, sign_in
from tests.browser.pages import LIST, messages, wait_for_job_page
from tests.jobs.worker import running_worker

# Column names of the CSV formats (file formats, never translated) and brand names.
NOT_TRANSLATED = {
    "shopify",
    "ecwid",
    "shipstation",
    "windows",
    "excel",
    "xlsx",
    "unicode",
    "alpha",
    "customerimportsample",
    "first",
    "last",
    "full",
    "name",
    "email",
    "phone",
    "company",
    "address",
    "line",
    "city",
    "state",
    "province",
    "country",
    "code",
    "postal",
    "default",
    "accepts",
    "marketing",
    "birth",
    "date",
    "group",
    "status",
    "source",
    "tags",
    "note",
    "notes",
    "username",
    "password",
    "tax",
    "exempt",
    "total",
    "spent",
    "orders",
    "customer",  # Shopify's "Customer ID" column, in the export's column list
    # The tag example of the change form's help text.
    "black",
    "friday",
}
# Words French or Spanish spell as English does.
SAME_IN_BOTH = {
    "fr": {
        "segment",
        "segments",
        "conditions",
        "codes",
        "actions",
        "action",
        "import",
        "importer",
        "page",
        "point",
        "audit",
        "date",
        "note",
        "notes",
        "total",
        "version",
        "province",
        "plus",
        "change",
        "format",
        "code",
        "postal",
        "back",
        "office",
        "marketing",
        "export",
        "apostrophe",
    },
    "es": {"total", "postal", "marketing", "error", "format", "date"},
}


@pytest.fixture
def elodie(make_customer, make_order, make_address):
    from groups.models import CustomerGroup

    group = CustomerGroup.objects.create(name="Revendeurs")
    customer = make_customer(
        first_name="Élodie",
        last_name="Lefèvre",
        email="elodie.lefevre@example.fr",
        phone="+33612345678",
        group=group,
        tags=["Fidélité"],
    )
    make_customer(first_name="Zoé", last_name="Lefèvre", phone="+33612345678", email="")
    make_address(
        customer,
        address1="3 rue Oberkampf",
        city="Paris",
        province_code="",
        country_code="FR",
        postal_code="75011",
        is_default=True,
    )
    make_order(customer, number="#1001")
    return customer


@pytest.fixture
def elodie_history(elodie, demo_user):
    """Élodie with events on her history: tags added, then an archive and an unarchive."""
    from customers.models import Customer
    from customers.services.archiving import customers_archive, customers_unarchive
    from customers.services.tagging import customers_add_tags

    one = Customer.objects.filter(pk=elodie.pk)
    customers_add_tags(actor=demo_user, customers=one, names=["Nouveauté"])
    customers_archive(actor=demo_user, customers=one)
    customers_unarchive(actor=demo_user, customers=one)
    return elodie


def _words(text: str, data: str) -> set[str]:
    data_words = {w.lower() for w in re.findall(r"[^\W\d_]{4,}", data)}
    # File names (a template's, an export's) are data too, in any language.
    text = re.sub(r"\S+\.(?:csv|xlsx)\b", " ", text)
    return {w.lower() for w in re.findall(r"[^\W\d_]{4,}", text)} - data_words


def _pages(elodie) -> dict[str, str]:
    twin = elodie.__class__.objects.get(first_name="Zoé")
    return {
        "index": "/admin/",
        "list": LIST,
        "change": f"{LIST}{elodie.pk}/change/",
        "history": f"{LIST}{elodie.pk}/history/",
        "duplicates": f"{LIST}duplicates/",
        "merge": f"{LIST}merge/?ids={elodie.pk},{twin.pk}",
        "import": f"{LIST}import/",
        "export": f"{LIST}export/",
        "jobs": "/admin/jobs/job/",
    }


PAGES = ["index", "list", "change", "history", "duplicates", "merge", "import", "export", "jobs"]
# Known translation bugs of issue 14, by page: these flip when fixed.
KNOWN: dict[str, str] = {}
DATA = " ".join(
    [
        "demo manager Élodie Lefèvre Zoé elodie.lefevre@example.fr Revendeurs Fidélité Nouveauté",
        "3 rue Oberkampf Paris 75011 FR",
    ]
)


def _case(page: str):
    reason = KNOWN.get(page)
    marks = (
        [pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"issue 14: {reason}")]
        if reason
        else []
    )
    return pytest.param(page, id=page, marks=marks)


def visible_text(browser, url: str, user, locale: str, *, screen: str = "") -> str:
    """The visible text of a page's user tools, sidebar and content, in the browser's language."""
    ctx = browser.new_context(locale=locale, viewport={"width": 1366, "height": 900})
    try:
        sign_in(ctx, url.split("/admin/")[0], user)
        page = ctx.new_page()
        response = page.goto(url)
        assert response.status == 200, url
        if screen:
            screenshot(page, screen)
        return " ".join(
            page.locator(sel).inner_text()
            for sel in ("#user-tools", "#nav-sidebar", "#content")
            if page.locator(sel).count()
        )
    finally:
        ctx.close()


@pytest.mark.parametrize("name", [_case(page) for page in PAGES])
def test_page_shows_no_english_outside_data(browser, admin_url, manager_user, elodie_history, name):
    url = admin_url(_pages(elodie_history)[name])
    english = _words(visible_text(browser, url, manager_user, "en-US"), DATA)
    untranslated = {}
    for lang in ("fr", "es"):
        # The lead looks at these: every main page in French and Spanish at a laptop's width.
        text = visible_text(browser, url, manager_user, lang, screen=f"{lang}-{name}")
        words = (english & _words(text, DATA)) - SAME_IN_BOTH[lang] - NOT_TRANSLATED
        if words:
            untranslated[lang] = " ".join(sorted(words))
    assert not untranslated, untranslated


@pytest.mark.parametrize("lang", ["fr", "es"])
def test_superuser_index_shows_no_english(browser, admin_url, demo_user, lang):
    url = admin_url("/admin/")
    english = _words(visible_text(browser, url, demo_user, "en-US"), "demo")
    shown = _words(visible_text(browser, url, demo_user, lang), "demo")
    untranslated = (english & shown) - SAME_IN_BOTH[lang] - NOT_TRANSLATED
    assert not untranslated, " ".join(sorted(untranslated))


@pytest.mark.parametrize(
    ("locale", "english_words"),
    [
        # French staff say "back-office": the French title may keep it.
        ("fr", {"customer"}),
        ("es", {"customer", "back", "office"}),
    ],
)
def test_site_name_is_translated(demo, admin_url, locale, english_words):
    demo.goto(admin_url("/admin/"))
    title = demo.locator("#site-name").inner_text().strip()
    assert title
    assert not set(re.findall(r"[^\W\d_]+", title.lower())) & english_words, title


# --- known French and Spanish bugs of issue 14, on the pages where staff meet them ---------

BAD_PHONE_FILE = "\r\n".join(
    [
        "First Name,Last Name,Email,Phone",
        "Jean,Dupont,jean.dupont@example.fr,",
        "Paul,Faux,paul.faux@example.fr,12345",
        "",
    ]
).encode()


def import_in_the_page_language(page, url) -> None:
    """Upload a file, then confirm it, by the form's controls (their labels are translated)."""
    page.goto(url(f"{LIST}import/"))
    page.locator("input[type=file]").set_input_files(
        {"name": "clients.csv", "mimeType": "text/csv", "buffer": BAD_PHONE_FILE}
    )
    with page.expect_navigation():
        page.locator("#content input[type=submit].default").click()
    if "/columns/" in page.url:
        # A file of no known format: the column page first, its suggestions already right.
        with page.expect_navigation():
            page.locator("#content input[type=submit].default").click()
    wait_for_job_page(page)


@pytest.fixture
def worker(tmp_path):
    with running_worker(tmp_path):
        yield


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("locale", ["fr-FR"])
def test_french_import_error_names_the_field_in_french(demo, admin_url):
    import_in_the_page_language(demo, admin_url)
    errors = demo.locator("#import-rows tbody tr").all_inner_texts()
    assert len(errors) == 1 and "12345" in errors[0], errors
    # The file's own column may be quoted; the field is named in French.
    assert not re.search(r"\bPhone\s?:", errors[0]), errors[0]
    assert re.search(r"Téléphone\b[^:]*:\s?12345", errors[0]), errors[0]


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize(
    ("locale", "one_created"), [("fr-FR", r"\b1 créé(?!s)"), ("es-ES", r"\b1 creado(?!s)")]
)
def test_import_totals_agree_in_number(demo, admin_url, locale, one_created):
    import_in_the_page_language(demo, admin_url)
    screenshot(demo, f"{locale[:2]}-import-preview")
    with demo.expect_navigation():
        demo.locator("#content form input[type=submit].default").click()
    wait_for_job_page(demo)
    screenshot(demo, f"{locale[:2]}-import-result")
    shown = demo.locator("#content").inner_text() + " ".join(
        demo.locator("ul.messagelist li").all_inner_texts()
    )
    assert not re.search(r"\b1 (créés|creados|rejetés|rechazados)\b", shown), shown
    assert re.search(one_created, shown), shown


@pytest.mark.parametrize("locale", ["fr-FR", "es-ES"])
def test_tag_list_headers_are_translated(demo, admin_url, elodie):
    demo.goto(admin_url("/admin/customers/tag/"))
    headers = demo.locator("#result_list thead th").all_text_contents()
    assert headers and not [h for h in headers if "slug" in h.lower()], headers


@pytest.mark.parametrize("locale", ["fr-FR"])
def test_french_history_title_elides_before_a_vowel(demo, admin_url, make_customer):
    alice = make_customer(first_name="Alice", last_name="Martin")
    demo.goto(admin_url(f"{LIST}{alice.pk}/history/"))
    title = demo.locator("#content h1").inner_text()
    assert re.fullmatch(r"Historique d[’']Alice Martin", title.strip()), title


# Spanish words for erasure: the glossary keeps one.
ERASURE_TERMS = {"borrado": r"borr", "supresión": r"supri|supres", "anonimización": r"anonimi"}


@pytest.mark.parametrize("locale", ["es-ES"])
def test_spanish_uses_one_word_for_erasure(demo, admin_url, elodie):
    demo.goto(admin_url(LIST))
    texts = demo.locator("select[name=action] option[value*=erasure]").all_inner_texts()
    erasure_filter = demo.locator("#changelist-filter details").filter(
        has=demo.locator("a[href*='erasure=']")
    )
    texts.append(erasure_filter.locator("summary").inner_text())
    demo.goto(admin_url(f"{LIST}{elodie.pk}/change/"))
    texts.append(demo.locator("a.request-erasure-link").inner_text())
    with demo.expect_navigation():
        demo.locator("a.request-erasure-link").click()
    texts.append(demo.locator("#content").inner_text())
    with demo.expect_navigation():
        demo.locator("#content input[type=submit]").click()
    texts += [demo.locator(".erasure-banner").inner_text(), *messages(demo)]
    used = {
        term
        for term, stem in ERASURE_TERMS.items()
        if any(re.search(stem, text, re.IGNORECASE) for text in texts)
    }
    assert len(used) == 1, (used, texts)
