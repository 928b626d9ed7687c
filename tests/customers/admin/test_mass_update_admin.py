""" "Edit selected customers" as staff use it: the form, its one confirmation in words, the
permissions per change, "select all" across a filtered list and the background job."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backoffice.jobs.models import Job
from customers.models import Consent, Customer, CustomerEvent, Note, Status, Tag
from groups.models import CustomerGroup
from tests.customers.admin.browser_form import page_form, submit
from tests.customers.bulk_helpers import LIST_URL, action_choices, messages_of, start

pytestmark = pytest.mark.django_db

ACTION = "mass_update"
EDITOR = ["view_customer", "change_customer", "add_note", "tag_customer", "group_customer"]


@pytest.fixture
def login(client, make_staff):
    def as_staff(*codenames):
        user = make_staff(*codenames)
        client.force_login(user)
        client.user = user
        return client

    return as_staff


def text(response) -> str:
    return response.content.decode()


def review(client, customers, **typed):
    """Tick customers, choose the action, fill the form: the confirmation page."""
    page = start(client, ACTION, customers)
    assert page.status_code == 200
    return submit(client, page, follow=False, **typed)


# Who is offered what


@pytest.mark.parametrize(
    ("codenames", "offered"),
    [
        (["tag_customer"], True),
        (["group_customer"], True),
        (["change_customer"], True),
        ([], False),
        (["archive_customer", "email_customer"], False),
    ],
)
def test_the_action_is_offered_to_who_may_make_one_of_its_changes(login, codenames, offered):
    client = login("view_customer", *codenames)
    if client.get(LIST_URL).context["action_form"] is None:  # no action at all
        assert not offered
    else:
        assert (ACTION in action_choices(client)) is offered


def test_the_form_offers_only_the_changes_the_user_may_make(login, make_customer):
    client = login("view_customer", "tag_customer")
    page = start(client, ACTION, [make_customer()])
    _url, fields = page_form(page)
    html = text(page)
    assert 'name="change_add_tags"' in html and 'name="change_remove_tags"' in html
    for name in ("change_group", "change_tax_exempt", "change_sms_consent", "change_note"):
        assert f'name="{name}"' not in html
    assert fields["post"] == ["review"]


def test_a_change_posted_without_its_permission_is_refused(login, make_customer):
    ann = make_customer()
    client = login("view_customer", "tag_customer")
    forged = {"change_tax_exempt": "on", "tax_exempt": "yes", "change_add_tags": "on"}
    for step in ("review", "yes"):
        response = review(client, [ann], post=step, add_tags="VIP", **forged)
        assert response.status_code == 200
        assert "You do not have the permission to change “Tax exempt”." in text(response)
    stored = Customer.objects.get(pk=ann.pk)
    assert (stored.tax_exempt, stored.version) == (False, 1)
    assert not Tag.objects.exists() and not CustomerEvent.objects.exists()


def test_a_consent_upgrade_cannot_be_chosen_nor_forged(login, make_customer):
    ann = make_customer(sms_consent=Consent.UNSUBSCRIBED)
    client = login(*EDITOR)
    page = start(client, ACTION, [ann])
    html = text(page)
    assert '<option value="unsubscribed">' in html
    assert '<option value="subscribed">' not in html
    response = submit(
        client, page, follow=False, post="yes", change_sms_consent="on", sms_consent="subscribed"
    )
    assert response.status_code == 200
    assert "Select a valid choice." in text(response)
    assert Customer.objects.get(pk=ann.pk).sms_consent == Consent.UNSUBSCRIBED


# The flow


def test_tick_group_and_tag_review_in_words_then_confirm(login, make_customer):
    retail = CustomerGroup.objects.create(name="Retail")
    ann, bob = make_customer(first_name="Ann"), make_customer(first_name="Bob")
    other = make_customer()
    client = login(*EDITOR)
    page = review(
        client,
        [ann, bob],
        change_group="on",
        group=str(retail.pk),
        change_add_tags="on",
        add_tags="VIP, Gift card buyer",
        change_note="on",
        note="Called about the sale",
    )
    html = text(page)
    assert "These changes will be made to 2 customers:" in html
    assert "<li>Move to the group “Retail”.</li>" in html
    assert "<li>Add the tags: VIP, Gift card buyer.</li>" in html
    assert "<li>Add the note: “Called about the sale”.</li>" in html
    assert Customer.objects.filter(group=retail).count() == 0, "changed before confirming"

    response = submit(client, page)
    assert messages_of(response) == [
        "2 customers edited.",
        "2 customers moved to group “Retail”.",
        "Tag “VIP” added to 2 customers.",
        "Tag “Gift card buyer” added to 2 customers.",
        "Note added to 2 customers.",
    ]
    for customer in (ann, bob):
        stored = Customer.objects.get(pk=customer.pk)
        assert stored.group == retail
        assert set(stored.tags.names()) == {"VIP", "Gift card buyer"}
    assert Note.objects.filter(author=client.user).count() == 2
    assert Customer.objects.get(pk=other.pk).version == 1


def test_the_form_needs_a_ticked_change_and_its_value(login, make_customer):
    client = login(*EDITOR)
    ann = make_customer()
    nothing = review(client, [ann])
    assert "Choose at least one change." in text(nothing)
    missing = review(client, [ann], change_add_tags="on", change_note="on")
    assert "Give at least one tag." in text(missing)
    assert "Write the note to add, or untick this change." in text(missing)
    assert not CustomerEvent.objects.exists()


def test_going_back_from_the_confirmation_keeps_what_was_typed(login, make_customer):
    client = login(*EDITOR)
    ann = make_customer()
    page = review(client, [ann], change_tax_exempt="on", tax_exempt="yes")
    assert "<li>Tax exempt: yes.</li>" in text(page)
    url, payload = page_form(page)
    payload["post"] = ["review", "edit"]  # the "Change these changes" button
    back = client.post(url, payload)
    assert back.context["review"] is False
    form = back.context["form"]
    assert (form["change_tax_exempt"].value(), form["tax_exempt"].value()) == (True, "yes")
    assert 'value="yes" selected' in text(back)
    assert Customer.objects.get(pk=ann.pk).tax_exempt is False


def test_consent_withdrawal_and_flags_are_reported_per_change(login, make_customer):
    client = login(*EDITOR)
    subscribed = make_customer(email_consent=Consent.SUBSCRIBED)
    gone = make_customer(email_consent=Consent.UNSUBSCRIBED, status=Status.ARCHIVED)
    page = start(client, ACTION, [subscribed, gone], url=LIST_URL + "?status=all")
    page = submit(
        client,
        page,
        follow=False,
        change_email_consent="on",
        email_consent="not_subscribed",
        change_has_active_subscription="on",
        has_active_subscription="yes",
    )
    assert "<li>Email marketing: Not subscribed, where that withdraws consent.</li>" in text(page)
    response = submit(client, page)
    assert messages_of(response) == [
        "2 customers edited.",
        "Email marketing changed on 1 customer.",
        "Active subscription changed on 2 customers.",
    ]
    assert Customer.objects.get(pk=gone.pk).email_consent == Consent.UNSUBSCRIBED


def test_merged_customers_in_the_selection_are_said_to_be_left_alone(login, make_customer):
    client = login(*EDITOR)
    survivor = make_customer()
    merged = make_customer(status=Status.MERGED, merged_into=survivor)
    page = start(client, ACTION, [survivor, merged], url=LIST_URL + "?status=all")
    page = submit(client, page, follow=False, change_tax_exempt="on", tax_exempt="yes")
    response = submit(client, page)
    assert messages_of(response) == [
        "1 customer edited.",
        "1 customer was merged or erased and was left as it was.",
        "Tax exempt changed on 1 customer.",
    ]


def test_select_all_across_a_filtered_list(admin_client, make_customer):
    fair = CustomerGroup.objects.create(name="Fair")
    matching = [make_customer(group=fair) for _ in range(25)]
    other = make_customer()
    url = f"{LIST_URL}?group__id__exact={fair.pk}&per_page=10"
    page_ids = [c.pk for c in admin_client.get(url).context["cl"].result_list]
    page = start(admin_client, ACTION, url=url, select_across=True, ids=page_ids)
    assert "All 25 customers matching the list's filters are selected." in text(page)
    page = submit(admin_client, page, follow=False, change_add_tags="on", add_tags="Fair goer")
    assert "These changes will be made to 25 customers:" in text(page)
    assert "<li>Group: Fair</li>" in text(page)
    _url, fields = page_form(page)
    assert len(fields["_selected_action"]) == 10  # never one field per selected customer
    response = submit(admin_client, page)
    assert messages_of(response)[:2] == [
        "25 customers edited.",
        "Tag “Fair goer” added to 25 customers.",
    ]
    tagged = set(Customer.objects.filter(tags__name="Fair goer").values_list("pk", flat=True))
    assert tagged == {c.pk for c in matching}
    assert Customer.objects.get(pk=other.pk).version == 1


def test_confirming_costs_the_same_queries_for_5_and_50_customers(admin_client, make_customer):
    def queries(n: int) -> int:
        group = CustomerGroup.objects.create(name=f"G{n}")
        for _ in range(n):
            make_customer(group=group, tags=["Old"], sms_consent=Consent.SUBSCRIBED)
        url = f"{LIST_URL}?group__id__exact={group.pk}"
        first = Customer.objects.filter(group=group).first()
        page = start(admin_client, ACTION, url=url, select_across=True, ids=[first.pk])
        page = submit(
            admin_client,
            page,
            follow=False,
            change_sms_consent="on",
            sms_consent="unsubscribed",
            change_remove_tags="on",
            remove_tags="Old",
            change_note="on",
            note=f"Batch {n}",
            change_group="on",
            new_group=f"Retail {n}",  # created both times
        )
        with CaptureQueriesContext(connection) as ctx:
            response = submit(admin_client, page, follow=False)
        assert response.status_code == 302, text(response)
        return len(ctx.captured_queries)

    queries(1)  # warms the content-type cache the group's admin log entry reads
    assert queries(5) == queries(50)


# Above the threshold: a job


@pytest.fixture
def jobs_above_two(settings, monkeypatch):
    settings.BACKOFFICE_BULK_JOB_THRESHOLD = 2
    settings.BACKOFFICE_BULK_JOB_BATCH = 2
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    monkeypatch.setattr("backoffice.jobs.progress.PROGRESS_INTERVAL", 0)


def test_a_big_selection_runs_as_a_job_that_says_the_same_sentences(
    login, make_customer, jobs_above_two, django_capture_on_commit_callbacks
):
    client = login(*EDITOR, "add_customergroup")
    smiths = [make_customer(first_name=n, last_name="Smith") for n in ("Ann", "Bob", "Cy")]
    jones = make_customer(first_name="Dee", last_name="Jones")
    url = LIST_URL + "?q=smith"
    page = start(client, ACTION, url=url, select_across=True, ids=[smiths[0].pk])
    page = submit(
        client,
        page,
        follow=False,
        change_group="on",
        new_group="Retail",
        change_add_tags="on",
        add_tags="VIP",
        change_note="on",
        note="Smith family",
    )
    assert "These changes will be made to 3 customers:" in text(page)
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(client, page, follow=False)
    job = Job.objects.get()
    assert response["Location"] == reverse("admin:jobs_job_change", args=[job.pk])
    assert (job.kind, job.state, job.done, job.total) == (
        "customers.bulk.mass_update",
        "done",
        3,
        3,
    )
    assert job.message == (
        "3 customers edited. Group “Retail” created. 3 customers moved to group “Retail”. "
        "Tag “VIP” added to 3 customers. Note added to 3 customers."
    )
    assert CustomerGroup.objects.filter(name__iexact="retail").count() == 1
    for smith in smiths:
        stored = Customer.objects.get(pk=smith.pk)
        assert stored.group.name == "Retail" and set(stored.tags.names()) == {"VIP"}
    assert Note.objects.filter(body="Smith family").count() == 3
    assert Customer.objects.get(pk=jones.pk).version == 1
    shown = client.get(reverse("admin:jobs_job_change", args=[job.pk]))
    assert "Edit customers" in text(shown)


def test_a_double_click_on_a_big_selection_starts_one_job(login, make_customer, settings):
    settings.BACKOFFICE_BULK_JOB_THRESHOLD = 2  # the database queue: nothing runs here
    client = login(*EDITOR)
    ann = [make_customer(first_name=name, last_name="Smith") for name in ("Ann", "Bob", "Cy")][0]
    page = start(client, ACTION, url=LIST_URL + "?q=smith", select_across=True, ids=[ann.pk])
    page = submit(client, page, follow=False, change_tax_exempt="on", tax_exempt="yes")
    first = submit(client, page, follow=False)
    second = submit(client, page, follow=False)
    job = Job.objects.get()
    assert first["Location"] == second["Location"]
    assert job.params["data"]["tax_exempt"] is True
