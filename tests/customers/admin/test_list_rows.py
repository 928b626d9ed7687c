"""The customer list draws its rows itself (customers/admin/list_rows.py): Django's cells, faster.

Every test compares with what Django's own ``items_for_result`` draws for the same rows, so a
column, a link, a class or an escape that drifts fails here.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.admin.templatetags.admin_list import items_for_result
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.formats import date_format

from customers.admin.customer import _short_date
from customers.admin.list_rows import result_rows
from customers.models import Customer, Status
from customers.selectors import filtersets
from customers.selectors.filtersets import conditions_phrases
from groups.models import CustomerGroup
from tests.customers.bulk_helpers import LIST_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def assorted(make_customer, make_order, settings):
    """Customers of every shape a list cell has to draw."""
    settings.BACKOFFICE_STORE_CURRENCY = "USD"
    settings.BACKOFFICE_PHONE_REGION = "US"
    vip = CustomerGroup.objects.create(name="VIP <gold> & co")
    named = make_customer(
        first_name="Zoë",
        last_name='O\'Neil <b>"bold"</b>',
        email="zoe@example.com",
        phone="+12025550123",
        group=vip,
        tags=["zeta", "Alpha", "beta"],
    )
    make_order(named, total=Decimal("1234.50"), currency="USD")
    make_order(named, total=Decimal("10.00"), currency="EUR")
    make_customer(first_name="", last_name="", email="only-email@example.com")
    make_customer(first_name="", last_name="", email="", phone="+33612345678")
    pending = make_customer(first_name="Erin", last_name="Gone", email="erin@example.com")
    Customer.objects.filter(pk=pending.pk).update(erasure_requested_at=timezone.now())
    make_customer(first_name="Old", email="old@example.com", status=Status.ARCHIVED)
    return named


def _django_rows(cl) -> list[str]:
    return ["".join(items_for_result(cl, obj, None)) for obj in cl.result_list]


def _our_rows(cl) -> list[str]:
    return ["".join(row) for row in result_rows(cl)]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"status": "all", "per_page": "500"},
        {"status": "all", "o": "-7.2", "total_spent_min": "0", "q": "example"},
        {"tag": "beta", "per_page": "10"},
    ],
)
@pytest.mark.parametrize("language", ["en", "fr"])
def test_rows_are_the_cells_django_draws(admin_client, assorted, query, language):
    response = admin_client.get(LIST_URL, query, headers={"accept-language": language})
    assert response.status_code == 200
    cl = response.context["cl"]
    assert cl.result_list
    ours = _our_rows(cl)
    assert ours == _django_rows(cl)
    # And they are what the page shows.
    page = response.content.decode()
    for row in ours:
        assert f"<tr>{row}</tr>" in page


def test_a_row_shows_each_column_as_staff_read_it(admin_client, assorted):
    response = admin_client.get(LIST_URL, {"q": "zoe@example.com"})
    (row,) = _our_rows(response.context["cl"])
    kept = "?_changelist_filters=q%3Dzoe%2540example.com"
    url = f"/admin/customers/customer/{assorted.pk}/change/{kept}"
    assert (
        f'<th class="field-display_name"><a href="{url}">'
        "Zoë O&#x27;Neil &lt;b&gt;&quot;bold&quot;&lt;/b&gt;</a></th>"
    ) in row
    assert f'<td class="field-email"><a href="{url}">zoe@example.com</a></td>' in row
    assert '<td class="field-phone_formatted">(202) 555-0123</td>' in row
    assert '<td class="field-group nowrap">VIP &lt;gold&gt; &amp; co</td>' in row
    assert '<td class="field-tag_list">Alpha, beta, zeta</td>' in row
    assert '<td class="field-spent">1234.50 USD + 10.00 EUR</td>' in row
    assert row.startswith(
        '<td class="action-checkbox"><input type="checkbox" name="_selected_action" '
        f'value="{assorted.pk}" class="action-select" aria-label="Select this object for an '
        'action - Zoë O&#x27;Neil &lt;b&gt;&quot;bold&quot;&lt;/b&gt;"></td>'
    )


def test_the_tag_names_are_the_customers_own(admin_client, assorted, make_customer):
    make_customer(first_name="Tagless", email="tagless@example.com")
    response = admin_client.get(LIST_URL)
    shown = {c.email: c.listed_tag_names for c in response.context["cl"].result_list}
    assert sorted(shown["zoe@example.com"]) == ["Alpha", "beta", "zeta"]
    assert shown["tagless@example.com"] == []
    # Without the page's names (another caller), the column reads the customer's tags.
    admin = response.context["cl"].model_admin
    assert admin.tag_list(Customer.objects.get(pk=assorted.pk)) == "Alpha, beta, zeta"


def test_the_page_builds_one_filterset_and_the_same_queries_for_20_and_500_rows(
    admin_client, make_customer
):
    for n in range(30):
        make_customer(first_name=f"Shopper{n}", tags=["VIP"])
    query = {"total_spent_min": "0", "orders": "0", "tag": "VIP", "q": "Shopper"}
    original = filtersets.CustomerFilterSet.__init__
    built = []

    def counted(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    counts = {}
    for size in ("20", "500"):
        built.clear()
        with (
            mock.patch.object(filtersets.CustomerFilterSet, "__init__", counted),
            CaptureQueriesContext(connection) as queries,
        ):
            response = admin_client.get(LIST_URL, {**query, "per_page": size})
        assert response.status_code == 200
        assert len(built) == 1
        counts[size] = len(queries.captured_queries)
    assert len(response.context["cl"].result_list) == 30
    assert counts["20"] == counts["500"]
    # The conditions in words (the confirmation pages show them) come from the same FilterSet.
    (spec,) = [s for s in response.context["cl"].filter_specs if hasattr(s, "used_filters")]
    words = [choice["display"] for choice in spec.choices(response.context["cl"])]
    assert words == [phrase for _name, phrase in conditions_phrases({"total_spent_min": "0"})]
    assert words == ["total spent at least 0"]


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_the_list_dates_are_the_locales_short_dates_in_the_store_time_zone(settings, language):
    settings.TIME_ZONE = "America/New_York"
    moments = [
        datetime.datetime(2026, 3, 1, 3, 30, tzinfo=datetime.UTC),  # still 28 February there
        datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC),
        datetime.datetime(2025, 12, 31, 23, 59, tzinfo=datetime.UTC),
    ]
    with translation.override(language):
        shown = [_short_date(moment) for moment in moments]
        expected = [
            date_format(timezone.localtime(moment), "SHORT_DATE_FORMAT") for moment in moments
        ]
    assert shown == expected
    assert shown[0] != shown[1]
    assert _short_date(None) == "—"
