"""The timeline on the customer change page: sentences, kind links, pages, permissions."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from customers.audit.events import customer_updated_event
from customers.models import Customer, CustomerEvent, Note, Order
from customers.services.editing import RelatedEdits, customer_save
from customers.services.orders import orders_record
from customers.services.privacy import customer_request_erasure, customers_process_erasure
from tests.customers.test_editing import page_form_data

pytestmark = pytest.mark.django_db


def change_url(customer, **params) -> str:
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def timeline_rows(response) -> list[list[str]]:
    """The timeline's rows as the user reads them: when, by, event, details."""
    rows = re.findall(r'<tr class="timeline-entry[^"]*">(.*?)</tr>', section(response), re.S)
    return [[_text(cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)] for row in rows]


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def section(response) -> str:
    html = response.content.decode()
    start = html.index('id="timeline"')
    return html[start : html.index("</fieldset>", start)]


@pytest.fixture
def ada(superuser, make_customer):
    ada = make_customer(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    stored = Customer.objects.get(pk=ada.pk)
    stored.company = "Analytical Engines"
    customer_save(
        actor=superuser, customer=stored, related=RelatedEdits(notes_added=[Note(body="Call")])
    )
    orders_record(
        actor="shopify-sync",
        orders=[Order(customer=ada, number="#1001", total="25.00", source="shopify")],
    )
    return ada


def _when(event) -> str:
    return date_format(timezone.localtime(event.created_at), "DATETIME_FORMAT")


def test_the_change_page_shows_the_stream_newest_first(admin_client, ada):
    response = admin_client.get(change_url(ada))
    order, note, edit = CustomerEvent.objects.filter(customer_ref=ada.pk).order_by("-pk")
    assert timeline_rows(response) == [
        [_when(order), "shopify-sync", "Order recorded", "Order #1001 recorded: 25.00 USD"],
        [_when(note), "boss", "Note added", "Note: “Call”."],
        [_when(edit), "boss", "Updated", "Company set to Analytical Engines."],
    ]
    html = section(response)
    order_url = reverse("admin:customers_order_change", args=[order.data["order"]])
    assert f'<a href="{order_url}">Order recorded</a>' in html
    assert reverse("admin:customers_customer_history", args=[ada.pk]) in html
    # One stream: the old "latest changes" block is gone.
    assert "latest changes" not in response.content.decode().lower()


def test_kind_links_filter_the_stream_and_keep_the_other_parameters(admin_client, ada):
    response = admin_client.get(change_url(ada, _changelist_filters="q%3Dada"))
    html = section(response)
    assert "?_changelist_filters=q%3Dada&amp;timeline=notes#timeline" in html
    notes = admin_client.get(change_url(ada, timeline="notes"))
    assert [row[2] for row in timeline_rows(notes)] == ["Note added"]
    assert "<strong>Notes</strong>" in section(notes)
    # The change form is still whole: posting it back saves nothing new.
    assert (
        admin_client.post(change_url(ada, timeline="notes"), page_form_data(notes)).status_code
        == 302
    )


def test_the_timeline_pages_older_and_back(admin_client, make_customer):
    customer = make_customer()
    for i in range(25):
        customer_updated_event(
            actor="test", customer=customer, changes={"company": [f"C{i}", f"C{i + 1}"]}, related={}
        )
    first = admin_client.get(change_url(customer))
    assert len(timeline_rows(first)) == 20
    assert timeline_rows(first)[0][3] == "Company changed from C24 to C25."
    older = re.search(r'class="timeline-older" href="\?([^"#]+)#timeline"', section(first))
    second = admin_client.get(change_url(customer) + "?" + older.group(1).replace("&amp;", "&"))
    assert [row[3] for row in timeline_rows(second)] == [
        f"Company changed from C{i} to C{i + 1}." for i in range(4, -1, -1)
    ]
    assert 'class="timeline-older"' not in section(second)
    newer = re.search(r'class="timeline-newer" href="\?([^"#]+)#timeline"', section(second))
    back = admin_client.get(change_url(customer) + "?" + newer.group(1).replace("&amp;", "&"))
    assert timeline_rows(back) == timeline_rows(first)


def test_the_change_page_costs_the_same_queries_for_5_or_60_events(admin_client, make_customer):
    def page_queries(count: int) -> int:
        customer = make_customer()
        for _ in range(count):
            customer_updated_event(
                actor="test", customer=customer, changes={"company": ["a", "b"]}, related={}
            )
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(change_url(customer))
        assert len(timeline_rows(response)) == min(count, 20)
        return len(ctx.captured_queries)

    assert page_queries(5) == page_queries(60)


def test_staff_without_orders_or_notes_permissions_do_not_see_them(client, make_staff, ada):
    client.force_login(make_staff("view_customer"))
    response = client.get(change_url(ada))
    assert [row[2] for row in timeline_rows(response)] == ["Updated"]
    html = section(response)
    assert "timeline=orders" not in html and "timeline=notes" not in html
    assert "#1001" not in html and "Call" not in html
    # Asking for a hidden kind by hand shows the whole (allowed) stream, not the hidden one.
    assert [row[2] for row in timeline_rows(client.get(change_url(ada, timeline="notes")))] == [
        "Updated"
    ]
    client.force_login(make_staff("view_customer", "view_order", "view_note"))
    response = client.get(change_url(ada))
    assert [row[2] for row in timeline_rows(response)] == [
        "Order recorded",
        "Note added",
        "Updated",
    ]


def test_an_erased_customers_timeline_shows_nothing_personal(admin_client, superuser, ada):
    customer_request_erasure(actor=superuser, customer_id=ada.pk)
    customers_process_erasure(actor="test", now=timezone.now() + datetime.timedelta(days=400))
    response = admin_client.get(change_url(ada))
    assert response.status_code == 200
    rows = timeline_rows(response)
    assert [row[2] for row in rows] == [
        "Personal data erased",
        "Erasure requested",
        "Order recorded",
        "Note added",
        "Updated",
    ]
    html = section(response)
    for personal in ("Ada", "Lovelace", "ada@example.com", "Analytical", "Call"):
        assert personal not in html
