"""The customer list applies CustomerFilterSet: sidebar form, messages, selections, jobs, export."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backoffice.jobs.models import Job
from customers.admin.selection import filter_description
from customers.models import Customer, Status
from customers.services.order_summary import money_display
from tests.customers.admin.browser_form import submit
from tests.customers.bulk_helpers import LIST_URL, messages_of, start

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _store_currency(settings):
    settings.BACKOFFICE_STORE_CURRENCY = "USD"


def listed(response) -> set[str]:
    return {c.email for c in response.context["cl"].result_list}


@pytest.fixture
def shoppers(make_customer, make_order):
    """Five customers whose spend is 0, 50, 150, 300 and 1,200 dollars."""
    people = []
    for first, spent in [("Ana", 0), ("Ben", 50), ("Cleo", 150), ("Dev", 300), ("Eli", 1200)]:
        customer = make_customer(first_name=first, email=f"{first.lower()}@example.com")
        if spent:
            make_order(customer, total=Decimal(spent), currency="USD")
        people.append(customer)
    return people


def test_the_list_filters_on_a_range(admin_client, shoppers):
    response = admin_client.get(LIST_URL, {"total_spent_min": "100", "total_spent_max": "300"})
    assert response.status_code == 200
    assert listed(response) == {"cleo@example.com", "dev@example.com"}
    only_min = admin_client.get(LIST_URL, {"total_spent_min": "300"})
    assert listed(only_min) == {"dev@example.com", "eli@example.com"}


def test_the_sidebar_form_keeps_the_other_parameters(admin_client, shoppers):
    response = admin_client.get(
        LIST_URL, {"total_spent_min": "100", "q": "example", "o": "-7", "status": "all", "p": "1"}
    )
    page = response.content.decode()
    form = page[page.index('class="conditions-filter"') :]
    form = form[: form.index("</form>")]
    assert '<input type="hidden" name="q" value="example">' in form
    assert '<input type="hidden" name="o" value="-7">' in form
    assert '<input type="hidden" name="status" value="all">' in form
    assert 'name="p"' not in form  # a new filter starts on the first page
    assert 'name="total_spent_min" value="100"' in form
    assert 'type="date" name="created_from"' in form
    assert 'name="birthday_within"' in form and 'name="tag_all"' in form


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"total_spent_min": "abc"}, "Total spent: Enter a number."),
        (
            {"total_spent_min": "500", "total_spent_max": "100"},
            "Total spent: The maximum is below the minimum.",
        ),
        ({"created_from": "2026-02-31"}, "Created: Enter a valid date."),
    ],
)
def test_invalid_input_is_a_message_on_the_page(admin_client, shoppers, query, message):
    response = admin_client.get(LIST_URL, {**query, "order_count_min": "1"})
    assert response.status_code == 200
    assert message in messages_of(response)
    # The invalid condition is dropped, the valid one still applies.
    assert listed(response) == {f"{n}@example.com" for n in ("ben", "cleo", "dev", "eli")}


def test_the_average_order_column_sorts(admin_client, shoppers):
    cl = admin_client.get(LIST_URL).context["cl"]
    index = cl.list_display.index("average_order")
    by_average = admin_client.get(LIST_URL, {"o": f"-{index}"})
    first = by_average.context["cl"].result_list[0]
    assert first.email == "eli@example.com"
    shown = money_display(Decimal("1200.00"), {})
    assert f'<td class="field-average_order">{shown}</td>' in by_average.content.decode()


def test_query_count_is_the_same_for_20_and_500_rows(admin_client, make_customer):
    def build(n: int, offset: int) -> None:
        Customer.objects.bulk_create(
            [
                Customer(
                    first_name=f"Name{offset + i}",
                    email=f"c{offset + i}@example.com",
                    total_spent=Decimal(100 + i),
                    order_count=2,
                    counted_order_count=2,
                    average_order_value=Decimal(50),
                )
                for i in range(n)
            ]
        )
        for customer in Customer.objects.filter(first_name__startswith="Name")[:5]:
            customer.tags.add("VIP")

    query = {
        "total_spent_min": "50",
        "average_order_max": "100",
        "created_from": "2000-01-01",
        "tag_none": "Blocked",
        "per_page": "500",
        "email_domain": "example.com",
    }
    build(20, 0)
    with CaptureQueriesContext(connection) as small:
        assert len(admin_client.get(LIST_URL, query).context["cl"].result_list) == 20
    build(480, 20)
    with CaptureQueriesContext(connection) as big:
        assert len(admin_client.get(LIST_URL, query).context["cl"].result_list) == 500
    assert len(big) == len(small)


def test_confirmation_pages_describe_every_condition(admin_client, shoppers, rf, superuser):
    request = rf.get(LIST_URL, {"total_spent_min": "100", "tag_any": "VIP", "q": "example"})
    request.user = superuser
    from django.contrib import admin

    lines = filter_description(admin.site.get_model_admin(Customer), request)
    assert "Total spent at least 100" in lines
    assert "Tagged VIP" in lines
    assert "Status: Current (not archived or merged)" in lines
    assert "Search: “example”" in lines


# --- select all over a range: the action, the job and the export act on exactly those rows ---


@pytest.fixture
def clerk(client, make_staff):
    user = make_staff("view_customer", "archive_customer", "export_customer")
    client.force_login(user)
    client.user = user
    return client


RANGE = "?total_spent_min=100&total_spent_max=300"


def test_select_all_over_a_range_archives_exactly_the_matching_rows(clerk, shoppers):
    page = start(clerk, "archive", url=LIST_URL + RANGE, select_across=True, ids=[shoppers[2].pk])
    assert page.status_code == 200
    assert "Total spent between 100 and 300" in html.unescape(page.content.decode())
    response = submit(clerk, page)
    assert "2 customers archived." in messages_of(response)
    archived = Customer.objects.filter(status=Status.ARCHIVED)
    assert set(archived.values_list("first_name", flat=True)) == {"Cleo", "Dev"}


def test_select_all_over_a_range_in_a_job(
    clerk, shoppers, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.BACKOFFICE_BULK_JOB_THRESHOLD = 1
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    monkeypatch.setattr("backoffice.jobs.progress.PROGRESS_INTERVAL", 0)
    query = "?average_order_min=100&order_count_min=1"
    page = start(clerk, "archive", url=LIST_URL + query, select_across=True, ids=[shoppers[4].pk])
    with django_capture_on_commit_callbacks(execute=True):
        submit(clerk, page, follow=False)
    job = Job.objects.get()
    assert (job.state, job.total) == ("done", 3)
    archived = Customer.objects.filter(status=Status.ARCHIVED)
    assert set(archived.values_list("first_name", flat=True)) == {"Cleo", "Dev", "Eli"}


def test_the_export_of_the_filtered_list_holds_the_range(clerk, shoppers):
    response = clerk.post(
        reverse("admin:customers_customer_export"),
        {
            "scope": "filtered",
            "filters": RANGE.lstrip("?"),
            "columns": ["Email"],
            "delimiter": ",",
        },
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content if response.streaming else [response.content])
    rows = body.decode("utf-8-sig").split()
    assert sorted(rows[1:]) == ["cleo@example.com", "dev@example.com"]


def test_an_invalid_range_in_an_export_is_refused(clerk, shoppers):
    response = clerk.post(
        reverse("admin:customers_customer_export"),
        {
            "scope": "filtered",
            "filters": "total_spent_min=abc",
            "columns": ["Email"],
            "delimiter": ",",
        },
    )
    assert response.status_code == 400
    assert b"ana@example.com" not in response.content
