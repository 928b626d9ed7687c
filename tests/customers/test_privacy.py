"""Erasure (request, hold, process, cancel) and the personal-data export, end to end."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, models
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import (
    Address,
    Customer,
    CustomerEvent,
    CustomerMerge,
    EventKind,
    Note,
    Order,
    Status,
    TaggedCustomer,
)
from customers.services import privacy
from customers.services.editing import customer_save
from customers.services.merge import customer_unmerge, customers_merge
from customers.services.privacy import (
    ADDRESS_EXPORT_FIELDS,
    COMMAND_ACTOR,
    CUSTOMER_EXPORT_FIELDS,
    ERASURE_ALREADY_REQUESTED,
    ERASURE_NOT_REQUESTED,
    EVENT_EXPORT_FIELDS,
    NOTE_EXPORT_FIELDS,
    ORDER_EXPORT_FIELDS,
    customer_cancel_erasure,
    customer_export_personal_data,
    customer_request_erasure,
    customers_process_erasure,
)
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:customers_customer_changelist")
DAY = datetime.timedelta(days=1)


# Every piece of personal data the fixture customer holds: none may survive erasure anywhere.
PERSONAL = (
    "Ånnika",
    "Løvström",
    "annika@example.se",
    "+46701234567",
    "1984-02-29",
    "Fika AB",
    "annika84",
    "Drottninggatan",
    "Stockholm",
    "11151",
    "allergic to nuts",
    "Ann-Marie",
    "Kungsgatan",
)


def change_url(customer) -> str:
    return reverse("admin:customers_customer_change", args=[customer.pk])


def erasure_url(customer, step: str) -> str:
    return reverse("admin:customers_customer_erasure", args=[customer.pk, step])


@pytest.fixture
def person(superuser, make_customer, make_address, make_order):
    """A customer with every kind of personal data, an order, and a history of edits."""
    group = CustomerGroup.objects.create(name="Retail")
    customer = make_customer(
        first_name="Ann-Marie",
        last_name="Løvström",
        email="annika@example.se",
        phone="+46701234567",
        date_of_birth=datetime.date(1984, 2, 29),
        company="Fika AB",
        username="annika84",
        group=group,
        tax_exempt=True,
        tags=["VIP"],
    )
    # An edit through the service: its audit event holds the old and new first name.
    customer.first_name = "Ånnika"
    customer.email_consent = "subscribed"
    customer_save(actor=superuser, customer=customer, expected_version=customer.version)
    make_address(
        customer,
        is_default=True,
        address1="Drottninggatan 1",
        city="Stockholm",
        postal_code="11151",
        country_code="SE",
        province_code="",
    )
    Note.objects.create(customer=customer, body="allergic to nuts", author=superuser)
    order = make_order(
        customer,
        number="#5001",
        total="99.90",
        currency="SEK",
        placed_at=timezone.now() - 10 * DAY,
        shipping_address={
            "name": "Ånnika Løvström",
            "address1": "Kungsgatan 2",
            "city": "Stockholm",
            "zip": "11151",
            "country_code": "SE",
        },
    )
    LogEntry.objects.log_actions(
        user_id=superuser.pk, queryset=[customer], action_flag=CHANGE, change_message="[]"
    )
    customer.refresh_from_db()
    customer.order = order
    return customer


def everything_stored_about(customer_id: int) -> str:
    """Dump every row that could hold the customer's data, as text to search."""
    rows = [
        list(Customer.objects.filter(pk=customer_id).values()),
        list(Address.objects.filter(customer_id=customer_id).values()),
        list(Note.objects.filter(customer_id=customer_id).values()),
        list(Order.objects.filter(customer_id=customer_id).values()),
        list(CustomerEvent.objects.filter(customer_ref=customer_id).values()),
        list(
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(Customer),
                object_id=str(customer_id),
            ).values("object_repr", "change_message")
        ),
    ]
    return json.dumps(rows, default=str, ensure_ascii=False)


def _assert_erased_but_accounted_for(client, clerk, person) -> None:
    """What erasure took away, and what it left: the accounts and the fact of the erasure."""
    # What is gone.
    stored = everything_stored_about(person.pk)
    for text in PERSONAL:
        assert text not in stored, text
    person.refresh_from_db()
    assert (person.first_name, person.last_name, person.email, person.phone) == ("", "", "", "")
    assert person.date_of_birth is None
    assert (person.company, person.username) == ("", "")
    assert not Address.objects.filter(customer=person).exists()
    assert not Note.objects.filter(customer=person).exists()
    assert not TaggedCustomer.objects.filter(content_object=person).exists()
    assert person.email_consent == "not_subscribed"
    # What is left: the accounts and the fact of the erasure.
    assert person.status == Status.REDACTED
    assert person.erasure_requested_at is None
    assert person.group.name == "Retail" and person.tax_exempt
    order = Order.objects.get(pk=person.order.pk)
    assert (order.number, order.total, order.currency, order.customer_id) == (
        "#5001",
        Decimal("99.90"),
        "SEK",
        person.pk,
    )
    assert order.placed_at == person.order.placed_at
    assert order.shipping_address == {"country_code": "SE"}
    erased = CustomerEvent.objects.get(customer=person, kind=EventKind.REDACTED)
    assert erased.actor_label == "process_erasure_requests"
    assert erased.data["requested_by"] == clerk.username
    assert erased.data["hold_days"] == 180
    # The earlier events stay (who did what, when) but their values are gone.
    update = CustomerEvent.objects.get(customer=person, kind=EventKind.UPDATED)
    assert update.data["changes"]["first_name"] == ["[redacted]", "[redacted]"]
    consent = CustomerEvent.objects.get(customer=person, kind=EventKind.CONSENT_CHANGED)
    assert consent.data == {
        "channel": "email",
        "old": "not_subscribed",
        "new": "subscribed",
        "source": "admin",
    }
    history = client.get(
        reverse("admin:customers_customer_history", args=[person.pk])
    ).content.decode()
    assert f"Requested by {clerk.username} on" in history
    assert "First name changed from [redacted] to [redacted]." in history
    for text in PERSONAL:
        assert text not in history, text
    # The admin shows the husk read-only, named by its id.
    page = client.get(change_url(person))
    assert page.status_code == 200
    assert f"#{person.pk}" in page.content.decode()
    assert not page.context["has_change_permission"]


def test_erasure_end_to_end(client, make_staff, person):
    clerk = make_staff("view_customer", "change_customer", "request_erasure_customer")
    client.force_login(clerk)
    for text in PERSONAL:
        assert text in everything_stored_about(person.pk), text

    # Request it with the list action: a confirmation page first, then the request.
    data = {"action": "request_erasure", "_selected_action": [person.pk]}
    page = client.post(LIST_URL, data)
    assert page.status_code == 200
    assert "Request erasure of this customer?" in page.content.decode()
    assert Customer.objects.get(pk=person.pk).erasure_requested_at is None
    response = client.post(LIST_URL, {**data, "post": "yes"}, follow=True)
    assert "Erasure requested for 1 customer." in response.content.decode()
    person.refresh_from_db()
    assert person.erasure_requested_at is not None
    assert person.erasure_requested_by == clerk
    assert person.version == 3
    assert CustomerEvent.objects.filter(
        customer=person, kind=EventKind.ERASURE_REQUESTED, actor=clerk
    ).exists()
    # The pending state shows on the list and on the change page; deletion is not offered.
    assert "Erasure pending" in client.get(LIST_URL).content.decode()
    page = client.get(change_url(person)).content.decode()
    assert "Erasure pending: requested on" in page
    assert "Cancel erasure request" in page
    assert not Customer.objects.deletable().filter(pk=person.pk).exists()

    # Within the hold (180 days after the last order, placed 10 days ago): nothing happens.
    run = customers_process_erasure(actor=COMMAND_ACTOR, now=timezone.now())
    assert run.erased == [] and [pk for pk, _ in run.waiting] == [person.pk]
    assert run.waiting[0][1] == person.order.placed_at + 180 * DAY
    assert Customer.objects.get(pk=person.pk).status == Status.ACTIVE

    later = timezone.now() + 171 * DAY
    before = everything_stored_about(person.pk)
    run = customers_process_erasure(actor=COMMAND_ACTOR, now=later, dry_run=True)
    assert run.due == [person.pk] and run.erased == []
    assert everything_stored_about(person.pk) == before

    run = customers_process_erasure(actor=COMMAND_ACTOR, now=later)
    assert run.erased == [person.pk]

    _assert_erased_but_accounted_for(client, clerk, person)

    # A second run finds nothing to do and writes nothing.
    events = CustomerEvent.objects.count()
    again = customers_process_erasure(actor=COMMAND_ACTOR, now=later)
    assert again.due == [] and again.erased == []
    assert CustomerEvent.objects.count() == events


def test_hold_counts_from_the_last_order(make_customer, make_order):
    customer = make_customer()
    now = timezone.now()
    make_order(customer, placed_at=now - 400 * DAY)
    last = make_order(customer, placed_at=now - 179 * DAY)
    customer_request_erasure(actor="test", customer_id=customer.pk)
    assert customers_process_erasure(actor=COMMAND_ACTOR, now=now).erased == []
    assert customers_process_erasure(
        actor=COMMAND_ACTOR, now=last.placed_at + 180 * DAY
    ).erased == [customer.pk]


def test_hold_setting_and_no_orders(settings, make_customer, make_order):
    settings.BACKOFFICE_ERASURE_HOLD_DAYS = 30
    no_orders = make_customer()
    recent = make_customer()
    make_order(recent, placed_at=timezone.now() - 31 * DAY)
    waiting = make_customer()
    make_order(waiting, placed_at=timezone.now() - 29 * DAY)
    untouched = make_customer()
    for customer in (no_orders, recent, waiting):
        customer_request_erasure(actor="test", customer_id=customer.pk)
    run = customers_process_erasure(actor=COMMAND_ACTOR)
    assert sorted(run.erased) == sorted([no_orders.pk, recent.pk])
    assert [pk for pk, _ in run.waiting] == [waiting.pk]
    untouched.refresh_from_db()
    assert untouched.status == Status.ACTIVE and untouched.email


def test_batches_cost_a_bounded_number_of_queries(make_customer, make_address, make_order):
    def erase(n: int) -> int:
        customers = [make_customer(tags=["x"]) for _ in range(n)]
        for customer in customers:
            make_address(customer)
            make_order(customer, placed_at=timezone.now() - 365 * DAY)
            customer_request_erasure(actor="test", customer_id=customer.pk)
        with CaptureQueriesContext(connection) as ctx:
            assert len(customers_process_erasure(actor=COMMAND_ACTOR).erased) == n
        return len(ctx.captured_queries)

    assert erase(2) == erase(20)


def test_records_merged_into_the_customer_are_erased_too(make_customer, make_order):
    survivor = make_customer(email="keep@example.com")
    absorbed = make_customer(
        first_name="Old", email="old@example.com", status="merged", merged_into=survivor
    )
    make_order(absorbed, placed_at=timezone.now() - 5 * DAY)
    customer_request_erasure(actor="test", customer_id=survivor.pk)
    # The absorbed record's order counts for the hold.
    assert customers_process_erasure(actor=COMMAND_ACTOR).erased == []
    assert customers_process_erasure(
        actor=COMMAND_ACTOR, now=timezone.now() + 200 * DAY
    ).erased == [survivor.pk]
    absorbed.refresh_from_db()
    assert (absorbed.status, absorbed.email, absorbed.first_name) == ("redacted", "", "")
    assert absorbed.merged_into is None
    assert CustomerEvent.objects.get(customer=absorbed, kind=EventKind.REDACTED).data == {
        "merged_into": survivor.pk
    }


def test_a_request_cancelled_or_an_order_placed_meanwhile_is_respected(make_customer, make_order):
    cancelled = make_customer()
    ordered = make_customer()
    for customer in (cancelled, ordered):
        customer_request_erasure(actor="test", customer_id=customer.pk)
    ids = [cancelled.pk, ordered.pk]
    # Between the run's list of due customers and its batch, one is cancelled, one orders.
    customer_cancel_erasure(actor="test", customer_id=cancelled.pk)
    make_order(ordered)
    assert privacy._erase_batch(actor="test", ids=ids, now=timezone.now()) == []
    assert Customer.objects.filter(pk__in=ids, status="active").count() == 2


def test_cancellation(client, make_staff, make_customer):
    customer = make_customer()
    clerk = make_staff("view_customer", "request_erasure_customer")
    client.force_login(clerk)
    response = client.post(erasure_url(customer, "request"), follow=True)
    assert f"Erasure of {customer} requested." in response.content.decode()
    page = client.get(erasure_url(customer, "cancel"))
    assert "Cancel the erasure request of this customer?" in page.content.decode()
    response = client.post(erasure_url(customer, "cancel"), follow=True)
    assert f"Erasure request of {customer} cancelled." in response.content.decode()
    customer.refresh_from_db()
    assert customer.erasure_requested_at is None and customer.erasure_requested_by is None
    events = CustomerEvent.objects.filter(customer=customer).order_by("pk")
    kinds = list(events.values_list("kind", flat=True))
    assert kinds == [EventKind.ERASURE_REQUESTED, EventKind.ERASURE_CANCELLED]
    assert customers_process_erasure(actor=COMMAND_ACTOR).due == []
    assert Customer.objects.get(pk=customer.pk).status == Status.ACTIVE
    # Cancelling again says why nothing happened.
    response = client.post(erasure_url(customer, "cancel"), follow=True)
    assert str(ERASURE_NOT_REQUESTED % {"customer": customer}) in response.content.decode()


def test_cancel_action_and_skips(client, make_staff, make_customer):
    pending = make_customer()
    plain = make_customer()
    customer_request_erasure(actor="test", customer_id=pending.pk)
    client.force_login(make_staff("view_customer", "request_erasure_customer"))
    data = {"action": "cancel_erasure", "_selected_action": [pending.pk, plain.pk], "post": "yes"}
    html = client.post(LIST_URL, data, follow=True).content.decode()
    assert "Erasure request cancelled for 1 customer." in html
    assert "1 customer skipped: no pending request." in html
    assert Customer.objects.get(pk=pending.pk).erasure_requested_at is None


def test_request_twice_or_on_a_merged_customer_is_refused(make_customer):
    customer = make_customer()
    merged = make_customer(status="merged", merged_into=customer)
    customer_request_erasure(actor="test", customer_id=customer.pk)
    with pytest.raises(ValidationError) as error:
        customer_request_erasure(actor="test", customer_id=customer.pk)
    assert error.value.messages == [str(ERASURE_ALREADY_REQUESTED % {"customer": customer})]
    with pytest.raises(ValidationError):
        customer_request_erasure(actor="test", customer_id=merged.pk)


def test_request_bumps_the_version_so_an_open_form_is_stale(make_customer):
    customer = make_customer()
    customer_request_erasure(actor="test", customer_id=customer.pk)
    customer.first_name = "Changed"
    with pytest.raises(ValidationError) as error:
        customer_save(actor="test", customer=customer, expected_version=1)
    assert error.value.code == "stale_version"
    customer.refresh_from_db()
    assert customer.erasure_requested_at is not None and customer.first_name != "Changed"


def test_command_dry_run_changes_nothing_and_real_run_erases(make_customer):
    customer = make_customer(first_name="Zoë")
    customer_request_erasure(actor="test", customer_id=customer.pk)
    out = StringIO()
    call_command("process_erasure_requests", "--dry-run", stdout=out)
    assert f"customer #{customer.pk}: would erase" in out.getvalue()
    assert "Dry run: 1 customer(s) would be erased" in out.getvalue()
    assert "Zoë" not in out.getvalue()
    assert Customer.objects.get(pk=customer.pk).first_name == "Zoë"
    out = StringIO()
    call_command("process_erasure_requests", stdout=out)
    assert "Erased 1 customer(s)" in out.getvalue()
    assert Customer.objects.get(pk=customer.pk).status == Status.REDACTED
    out = StringIO()
    call_command("process_erasure_requests", stdout=out)
    assert "Erased 0 customer(s)" in out.getvalue()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_run_skips_rows_another_run_is_erasing(make_customer):
    """While one run holds a batch's locks, a second run erases nobody twice."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks (its writers are serialised instead)")
    import threading

    from django.db import connections, transaction

    customer = make_customer()
    customer_request_erasure(actor="test", customer_id=customer.pk)
    locked, release, results = threading.Event(), threading.Event(), {}

    def first_run():
        try:
            with transaction.atomic():
                list(Customer.objects.select_for_update().filter(pk=customer.pk))
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=first_run)
    thread.start()
    locked.wait(10)
    results["second"] = customers_process_erasure(actor=COMMAND_ACTOR)
    release.set()
    thread.join()
    assert results["second"].due == [customer.pk]
    assert results["second"].erased == []  # skipped, not waited for and done twice
    assert customers_process_erasure(actor=COMMAND_ACTOR).erased == [customer.pk]
    assert customers_process_erasure(actor=COMMAND_ACTOR).erased == []
    assert CustomerEvent.objects.filter(customer=customer, kind=EventKind.REDACTED).count() == 1


# --- personal-data export ------------------------------------------------------------------


def _model_fields(model, *, skip=()) -> set[str]:
    """Every field a model stores (concrete fields and the tag manager), by name.

    Generated columns (the address matching key) are computed from exported fields, so they add
    nothing to the export and change with the fields they come from when those are redacted.
    """
    return {
        f.name
        for f in model._meta.get_fields()
        if (f.concrete or (f.many_to_many and not f.auto_created))
        and not isinstance(f, models.GeneratedField)
        and f.name not in skip
    }


def test_export_lists_every_field_of_every_model():
    """A field added to a model later must be added to the export (or this fails)."""
    assert set(CUSTOMER_EXPORT_FIELDS) == _model_fields(Customer)
    assert set(ADDRESS_EXPORT_FIELDS) == _model_fields(Address, skip={"customer"})
    assert set(NOTE_EXPORT_FIELDS) == _model_fields(Note, skip={"customer"})
    assert set(ORDER_EXPORT_FIELDS) == _model_fields(Order, skip={"customer"})
    assert set(EVENT_EXPORT_FIELDS) == _model_fields(
        CustomerEvent, skip={"customer", "customer_ref"}
    )


def test_export_holds_everything_about_the_customer(superuser, person, make_customer):
    absorbed = make_customer(email="older@example.se", status="merged", merged_into=person)
    document = customer_export_personal_data(actor=superuser, customer_id=person.pk)
    text = json.dumps(document, ensure_ascii=False)
    for value in PERSONAL:
        assert value in text, value
    row = document["customer"]
    assert set(row) == _model_fields(Customer)
    stored = Customer.objects.filter(pk=person.pk).values()[0]
    for name in _model_fields(Customer) - {"group", "tags", "merged_into", "erasure_requested_by"}:
        value = stored[name]
        expected = value.isoformat() if hasattr(value, "isoformat") else value
        expected = str(expected) if isinstance(expected, Decimal) else expected
        assert row[name] == expected, name
    assert row["group"] == {"id": person.group_id, "name": "Retail"}
    assert row["tags"] == ["VIP"]
    assert document["consent"]["email"]["state"] == "subscribed"
    assert document["consent"]["history"][0] | {"at": None} == {
        "at": None,
        "by": superuser.username,
        "event": "consent_changed",
        "channel": "email",
        "old": "not_subscribed",
        "new": "subscribed",
        "source": "admin",
    }
    (address,) = document["addresses"]
    assert set(address) == _model_fields(Address, skip={"customer"})
    assert address["city"] == "Stockholm"
    (note,) = document["notes"]
    assert note["body"] == "allergic to nuts" and note["author"] == superuser.username
    (order,) = document["orders"]
    assert (order["number"], order["total"], order["currency"]) == ("#5001", "99.90", "SEK")
    assert order["shipping_address"]["address1"] == "Kungsgatan 2"
    kinds = [event["kind"] for event in document["events"]]
    assert kinds == [
        EventKind.UPDATED,
        EventKind.CONSENT_CHANGED,
        EventKind.PERSONAL_DATA_EXPORTED,
    ]
    assert document["events"][0]["data"] == {"changes": {"first_name": ["Ann-Marie", "Ånnika"]}}
    assert [r["customer"]["email"] for r in document["merged_records"]] == [absorbed.email]


def test_export_download_from_the_change_page(client, make_staff, person):
    clerk = make_staff("view_customer", "export_personal_data_customer")
    client.force_login(clerk)
    url = reverse("admin:customers_customer_personal_data", args=[person.pk])
    assert url in client.get(change_url(person)).content.decode()
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == (
        f'attachment; filename="customer-{person.pk}-personal-data.json"'
    )
    document = json.loads(response.content)
    assert document["customer"]["email"] == "annika@example.se"
    assert CustomerEvent.objects.filter(
        customer=person, kind=EventKind.PERSONAL_DATA_EXPORTED, actor=clerk
    ).exists()


def test_export_after_a_bulk_version_bump_still_works(superuser, make_customer):
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(version=F("version") + 1)
    document = customer_export_personal_data(actor=superuser, customer_id=customer.pk)
    assert document["customer"]["version"] == 2


def test_a_pending_erasure_blocks_what_the_banner_says(make_customer, superuser):
    """The banner's list (ERASURE_BLOCKS) names exactly the three services that refuse."""
    from customers.services.deletion import DeleteBlock, customers_delete
    from customers.services.emailing import EmailSkip, customers_email
    from customers.services.merge import customers_merge
    from customers.services.privacy import ERASURE_BLOCKS

    pending = make_customer(email="pending@example.com")
    other = make_customer(email="other@example.com")
    customer_request_erasure(actor=superuser, customer_id=pending.pk)

    deleted = customers_delete(actor=superuser, customers=[pending.pk])
    assert deleted.deleted == 0
    assert [kept.reasons for kept in deleted.kept] == [[DeleteBlock.ERASURE]]
    emailed = customers_email(
        actor=superuser, customers=[pending.pk], subject="Hi", body="Hello", marketing=False
    )
    assert (emailed.emailed, emailed.skipped) == (0, {EmailSkip.ERASURE: 1})
    with pytest.raises(ValidationError):
        customers_merge(actor=superuser, survivor_id=other.pk, absorbed_ids=[pending.pk])
    assert Customer.objects.filter(pk=pending.pk, merged_into=None).exists()
    assert [str(item) for item in ERASURE_BLOCKS] == ["deleted", "merged", "emailed"]


# --- merges: snapshots, chains, no way back ------------------------------------------------

MERGES_URL = "admin:customers_customer_merges"
UNMERGE_URL = "admin:customers_customer_unmerge"


@pytest.fixture
def chain(superuser, make_customer, make_order):
    """W merged into Z, then Z into X, each survivor taking a value of the record it absorbed."""
    w = make_customer(
        first_name="Wanda", last_name="Wexley", email="wanda@example.org", phone="+12025550143"
    )
    z = make_customer(first_name="Zeb", last_name="Zorn", email="zeb@example.org", phone="")
    x = make_customer(first_name="Xena", last_name="Xu", email="xena@example.org")
    make_order(w, placed_at=timezone.now() - 400 * DAY)
    first = customers_merge(
        actor=superuser, survivor_id=z.pk, absorbed_ids=[w.pk], field_choices={"phone": w.pk}
    ).merge
    second = customers_merge(
        actor=superuser,
        survivor_id=x.pk,
        absorbed_ids=[z.pk],
        field_choices={"last_name": z.pk},
    ).merge
    return w, z, x, first, second


CHAIN_PERSONAL = (
    "Wanda",
    "Wexley",
    "wanda@example.org",
    "+12025550143",
    "Zeb",
    "Zorn",
    "zeb@example.org",
    "Xena",
)


def test_erasure_follows_a_merge_chain_and_scrubs_the_merge_records(client, make_staff, chain):
    w, z, x, first, second = chain
    stored = json.dumps(
        list(CustomerMerge.objects.values("survivor_before", "survivor_after")), default=str
    )
    assert "+12025550143" in stored and "Zorn" in stored
    # Before: a clerk sees W on Z's merges page and in the list of merged records.
    client.force_login(make_staff("view_customer", "change_customer", "merge_customer"))
    assert "wanda@example.org" in client.get(reverse(MERGES_URL, args=[z.pk])).content.decode()
    assert "wanda@example.org" in client.get(LIST_URL, {"status": "merged"}).content.decode()
    customer_request_erasure(actor="test", customer_id=x.pk)
    out = StringIO()
    call_command("process_erasure_requests", stdout=out)
    assert "Erased 1 customer(s)" in out.getvalue()

    for record in (w, z, x):
        record.refresh_from_db()
        assert (record.status, record.email, record.first_name, record.merged_into) == (
            Status.REDACTED,
            "",
            "",
            None,
        )
    redacted = dict(
        CustomerEvent.objects.filter(kind=EventKind.REDACTED).values_list("customer_ref", "data")
    )
    assert redacted[x.pk]["merged_records"] == sorted([w.pk, z.pk])
    assert redacted[z.pk] == {"merged_into": x.pk}
    assert redacted[w.pk] == {"merged_into": z.pk}
    for merge in (first, second):
        merge.refresh_from_db()
        for snapshot in (merge.survivor_before, merge.survivor_after):
            assert snapshot["email"] == "[redacted]" and snapshot["first_name"] == "[redacted]"
            assert snapshot["tax_exempt"] is False  # bookkeeping stays
    stored = json.dumps(
        [
            list(CustomerMerge.objects.values()),
            list(Customer.objects.values()),
            list(CustomerEvent.objects.values("data")),
        ],
        default=str,
        ensure_ascii=False,
    )
    for text in CHAIN_PERSONAL:
        assert text not in stored, text

    # What a clerk sees: the merges pages, the list of merged records, no way to undo.
    for survivor in (z, x):
        page = client.get(reverse(MERGES_URL, args=[survivor.pk]))
        assert page.status_code == 200
        html = page.content.decode()
        assert f"#{w.pk if survivor == z else z.pk}" in html
        assert "Unmerge" not in html
        for text in CHAIN_PERSONAL:
            assert text not in html, text
    for status in ("merged", "redacted", "all"):
        html = client.get(LIST_URL, {"status": status}).content.decode()
        for text in CHAIN_PERSONAL:
            assert text not in html, text
    response = client.post(reverse(UNMERGE_URL, args=[z.pk, first.pk]), follow=True)
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        f"#{z.pk} has had their personal data erased: a merge that involves them cannot be undone.",
        f"#{w.pk} has had their personal data erased: a merge that involves them cannot be undone.",
    ]
    page = client.get(reverse(UNMERGE_URL, args=[x.pk, second.pk])).content.decode()
    assert "has had their personal data erased: a merge that involves them" in page
    w.refresh_from_db()
    assert w.status == Status.REDACTED


def test_no_unmerge_restores_an_erased_person(superuser, chain):
    w, z, x, first, second = chain
    customer_request_erasure(actor="test", customer_id=x.pk)
    customers_process_erasure(actor=COMMAND_ACTOR)
    for merge in (second, first):
        with pytest.raises(ValidationError) as error:
            customer_unmerge(actor=superuser, merge_id=merge.pk)
        assert {e.code for e in error.value.error_list} == {"unmerge_erased"}
    assert Customer.objects.filter(pk__in=[w.pk, z.pk, x.pk], status=Status.REDACTED).count() == 3


def test_an_undone_merge_forgets_an_absorbed_person_later_erased(superuser, make_customer):
    kept = make_customer(first_name="Kim", email="kim@example.org")
    gone = make_customer(first_name="Gus", last_name="Gone", email="gus@example.org")
    merge = customers_merge(
        actor=superuser,
        survivor_id=kept.pk,
        absorbed_ids=[gone.pk],
        field_choices={"last_name": gone.pk},
    ).merge
    kept.refresh_from_db()
    customer_unmerge(actor=superuser, merge_id=merge.pk, expected_version=kept.version)
    customer_request_erasure(actor="test", customer_id=gone.pk)
    assert customers_process_erasure(actor=COMMAND_ACTOR).erased == [gone.pk]
    merge.refresh_from_db()
    assert merge.survivor_after["last_name"] == "[redacted]"
    assert "Gone" not in json.dumps([merge.survivor_before, merge.survivor_after])
    trail = CustomerEvent.objects.filter(customer_ref=kept.pk, kind=EventKind.MERGED).get()
    assert trail.data["changes"] == {"last_name": ["[redacted]", "[redacted]"]}
    assert trail.data["merge"] == merge.pk
    kept.refresh_from_db()
    assert (kept.status, kept.first_name) == (Status.ACTIVE, "Kim")


def test_a_chain_costs_one_query_per_level(make_customer):
    def erase(depth: int) -> int:
        top = make_customer()
        parent = top
        for _ in range(depth):
            parent = make_customer(status=Status.MERGED, merged_into=parent)
        customer_request_erasure(actor="test", customer_id=top.pk)
        with CaptureQueriesContext(connection) as ctx:
            assert customers_process_erasure(actor=COMMAND_ACTOR).erased == [top.pk]
        return len(ctx.captured_queries)

    assert erase(3) - erase(1) == 2
