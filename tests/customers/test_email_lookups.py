"""Every exact-email lookup goes through ``emails_condition`` and reads an index.

There is no plain index on email (migration 0018): the unmerged customers are read through the
unique index on lower(email), the merged ones through the partial status index. Each entry path
that looks customers up by email is checked for what it finds and for its plan on both
databases.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.channels.shopify import customer_from_payload
from customers.models import Channel, ChannelConnection, Customer, Status, emails_condition
from customers.selectors.matching import customers_find_by_keys
from customers.selectors.search import customers_search
from customers.services.channels import (
    ChannelCustomer,
    channel_connection_issue_token,
    channel_customer_sync,
    channel_customers_for,
    channel_service_user,
)
from customers.services.merge import customer_unmerge, customers_merge
from tests.customers.test_index_diet import _indexes, _plan

pytestmark = pytest.mark.django_db

UNIQUE = "customer_email_ci_unique_unmerged"
STATUS = "customer_status_idx"
LOOKUP = 'LOWER("customers_customer"."email") IN ('
# An equality or IN on the email column itself, which no index serves now (not "email = ''").
PLAIN = re.compile(r"\"customers_customer\"\.\"email\" (?:= '[^']|IN \()")


@contextmanager
def email_lookups():
    """Collect the SQL of the queries sent inside the block that look customers up by email.

    None may still compare the email column itself.
    """
    queries: list[str] = []
    with CaptureQueriesContext(connection) as ctx:
        yield queries
    sent = [q["sql"] for q in ctx.captured_queries]
    assert [sql for sql in sent if PLAIN.search(sql)] == []
    queries.extend(sql for sql in sent if LOOKUP in sql)
    assert queries, sent


def assert_reads_indexes(sql: str, params=None, *, merged: bool) -> None:
    """The query's plan reads the unique lower(email) index (and the status index if merged)."""
    assert 'LOWER("customers_customer"."email")' in sql, sql
    text = _plan(sql, params)
    assert UNIQUE in text, text
    assert (STATUS in text) is merged, text
    if connection.vendor == "sqlite":
        assert not re.search(r"SCAN customers_customer( |$)", text, re.MULTILINE), text
    else:
        assert "Seq Scan on customers_customer" not in text, text


@pytest.fixture
def pos(db) -> ChannelConnection:
    return ChannelConnection.objects.create(channel=Channel.POS, name="Till")


def test_the_plain_email_index_is_gone():
    assert "customer_email_idx" not in _indexes(Customer)
    assert UNIQUE in _indexes(Customer)


def test_a_lookup_finds_the_same_email_whole_and_in_any_case(make_customer):
    ann = make_customer(email="ann@example.com")
    make_customer(email="annie@example.com")
    make_customer(email="", phone="+12015557381")
    assert list(Customer.objects.with_emails(["ann@example.com"])) == [ann]
    # The unique constraint's "same email": "email = %s" found the same, since every entry
    # path stores emails lower-cased (test_every_entry_path_stores_emails_lower_cased).
    assert list(Customer.objects.with_emails(["Ann@Example.com"])) == [ann]
    assert list(Customer.objects.with_emails(["ann@example"])) == []
    # No email designates no one, not every customer without one.
    assert list(Customer.objects.with_emails([""])) == []
    assert list(Customer.objects.with_emails([])) == []


def test_every_entry_path_stores_emails_lower_cased():
    # The change form and the services run clean(); the import, Shopify and the API lower-case
    # the email they read (services/importing/rows.py, channels/shopify.py, channels/api.py).
    typed = Customer(email="  Ann@Example.COM ")
    typed.clean()
    assert typed.email == "ann@example.com"
    assert customer_from_payload({"id": 1, "email": "Bob@Shop.Example"}).email == (
        "bob@shop.example"
    )


def test_merged_customers_are_found_unless_left_out(superuser, make_customer):
    survivor = make_customer(email="keep@example.com")
    absorbed = make_customer(email="gone@example.com")
    customers_merge(actor=superuser, survivor_id=survivor.pk, absorbed_ids=[absorbed.pk])
    newcomer = make_customer(email="gone@example.com")  # the merged record freed the email
    both = Customer.objects.with_emails(["gone@example.com"]).order_by("pk")
    assert list(both) == [absorbed, newcomer]
    assert list(Customer.objects.with_emails(["gone@example.com"], merged=False)) == [newcomer]
    for merged in (True, False):
        queryset = Customer.objects.filter(emails_condition(["gone@example.com"], merged=merged))
        assert_reads_indexes(*queryset.query.sql_with_params(), merged=merged)


def test_the_list_search_finds_an_exact_email_through_the_index(make_customer):
    ann = make_customer(email="ann@example.com")
    make_customer(email="annie@example.com")
    with email_lookups() as queries:
        found = list(customers_search(Customer.objects.all(), " Ann@Example.com "))
    assert found == [ann]
    for sql in queries:
        assert_reads_indexes(sql, merged=True)


def test_matching_finds_live_and_merged_holders_through_the_indexes(superuser, make_customer):
    survivor = make_customer(email="keep@example.com")
    absorbed = make_customer(email="gone@example.com")
    customers_merge(actor=superuser, survivor_id=survivor.pk, absorbed_ids=[absorbed.pk])
    wanted = ["keep@example.com", "gone@example.com", "nobody@example.com"]
    with email_lookups() as queries:
        by_email, by_phone = customers_find_by_keys(emails=wanted)
    # The merged record's email designates its survivor; an unknown email nothing.
    assert by_email == {"keep@example.com": survivor, "gone@example.com": survivor}
    assert by_phone == {}
    assert_reads_indexes(queries[0], merged=True)


def test_the_pos_api_finds_a_customer_by_email(client, make_customer, pos):
    ann = make_customer(email="ann@example.com")
    token = channel_connection_issue_token(actor="test", connection_id=pos.pk)
    with email_lookups() as queries:
        response = client.get(
            "/api/pos/v1/customers",
            {"email": " Ann@Example.com "},
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
    assert response.status_code == 200 and response.json()["id"] == ann.pk
    assert_reads_indexes(queries[0], merged=True)


def test_a_channel_customer_matches_by_email_through_the_indexes(make_customer, pos):
    ann = make_customer(email="ann@example.com", first_name="Ann")
    actor = channel_service_user(connection=pos)
    data = ChannelCustomer(external_id="C-1", email="ann@example.com", first_name="Annie")
    with email_lookups() as queries:
        result = channel_customer_sync(actor=actor, connection=pos, data=data)
    assert result.customer.pk == ann.pk and not result.created
    assert Customer.objects.get(pk=ann.pk).first_name == "Annie"
    assert_reads_indexes(queries[0], merged=True)


def test_a_channel_customer_matched_by_phone_may_not_take_another_ones_email(
    settings, make_customer, pos
):
    settings.BACKOFFICE_CUSTOMER_MATCHING = "phone_then_email"
    holder = make_customer(email="taken@example.com")
    actor = channel_service_user(connection=pos)
    data = ChannelCustomer(external_id="C-2", email="taken@example.com", phone="+12025550123")
    with email_lookups() as queries, pytest.raises(ValidationError) as excinfo:
        channel_customer_sync(actor=actor, connection=pos, data=data)
    assert excinfo.value.code == "email_used"
    assert excinfo.value.params["customer"] == holder.pk
    assert not Customer.objects.filter(phone="+12025550123").exists()
    assert_reads_indexes(queries[0], merged=False)


def test_a_channel_update_may_not_take_another_customers_email(make_customer, pos):
    holder = make_customer(email="taken@example.com")
    ann = make_customer(email="ann@example.com")
    actor = channel_service_user(connection=pos)
    first = ChannelCustomer(external_id="C-3", email="ann@example.com")
    channel_customer_sync(actor=actor, connection=pos, data=first)
    moved = ChannelCustomer(external_id="C-3", email="taken@example.com")
    with email_lookups() as queries, pytest.raises(ValidationError) as excinfo:
        channel_customer_sync(actor=actor, connection=pos, data=moved)
    assert excinfo.value.code == "email_used"
    assert excinfo.value.params["customer"] == holder.pk
    assert Customer.objects.get(pk=ann.pk).email == "ann@example.com"
    assert_reads_indexes(queries[-1], merged=False)


def test_a_privacy_request_designates_customers_by_email(make_customer, pos):
    ann = make_customer(email="ann@example.com")
    make_customer(email="bob@example.com")
    with email_lookups() as queries:
        found = list(channel_customers_for(connection=pos, emails=["ann@example.com"]))
    assert found == [ann]
    assert len(queries) == 1


def test_an_undo_of_a_merge_is_refused_when_the_email_was_taken_since(superuser, make_customer):
    survivor, other = make_customer(email="a@x.com"), make_customer(email="b@x.com")
    result = customers_merge(actor=superuser, survivor_id=survivor.pk, absorbed_ids=[other.pk])
    newcomer = make_customer(email="b@x.com")
    with email_lookups() as queries, pytest.raises(ValidationError) as excinfo:
        customer_unmerge(actor=superuser, merge_id=result.merge.pk)
    assert [e.code for e in excinfo.value.error_list] == ["unmerge_email_taken"]
    assert str(newcomer) in excinfo.value.messages[0]
    assert Customer.objects.get(pk=other.pk).status == Status.MERGED
    assert_reads_indexes(queries[0], merged=False)
