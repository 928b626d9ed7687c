"""The segments admin: the list with live counts, "Save as segment", and who may do what."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from customers.models import Segment, Status
from customers.services.segments import segment_create

pytestmark = pytest.mark.django_db

SEGMENTS_URL = reverse("admin:customers_segment_changelist")
ADD_URL = reverse("admin:customers_segment_add")
CUSTOMERS_URL = reverse("admin:customers_customer_changelist")
ALL_SEGMENT_PERMS = ("view_segment", "add_segment", "change_segment", "delete_segment")


def change_url(segment: Segment) -> str:
    return reverse("admin:customers_segment_change", args=[segment.pk])


def page_text(response) -> str:
    return response.content.decode()


@pytest.fixture
def shoppers(make_customer):
    make_customer(first_name="Ann", last_name="Smith", tags=["VIP"])
    make_customer(first_name="Bob", last_name="Smith")
    make_customer(first_name="Cy", last_name="Jones", tags=["VIP"])
    make_customer(first_name="Dee", last_name="Smith", status=Status.ARCHIVED)


@pytest.fixture
def login(client, make_staff):
    def as_staff(*codenames, username=None):
        user = make_staff("view_customer", *codenames, username=username)
        client.force_login(user)
        client.user = user
        return client

    return as_staff


def test_the_list_shows_each_segments_live_count_share_and_author(login, shoppers):
    client = login(*ALL_SEGMENT_PERMS, username="ann")
    segment = segment_create(actor=client.user, name="Smiths", conditions={"q": "smith"})
    response = client.get(SEGMENTS_URL)
    assert response.status_code == 200
    text = page_text(response)
    # Ann and Bob of the three current customers (the archived Smith is not on the list).
    assert "2 customers · 66.7 %" in text
    assert f'href="{CUSTOMERS_URL}?segment={segment.pk}"' in text
    assert "ann ·" in text
    assert "Smiths" in text


def test_the_list_pays_one_count_per_segment_of_the_page(
    login, shoppers, django_assert_max_num_queries
):
    client = login(*ALL_SEGMENT_PERMS)
    for n in range(3):
        segment_create(actor=client.user, name=f"S{n}", conditions={"q": "smith"})
    with django_assert_max_num_queries(45) as three:
        client.get(SEGMENTS_URL)
    for n in range(3, 9):
        segment_create(actor=client.user, name=f"S{n}", conditions={"q": "smith"})
    with django_assert_max_num_queries(45) as nine:
        client.get(SEGMENTS_URL)
    # Per segment: its COUNT, after the search's two index probes for an exact identifier
    # (a term could be a sales-channel or Shopify id: selectors/search.py reads those first).
    assert len(nine.captured_queries) - len(three.captured_queries) == 6 * 3


def test_save_as_segment_takes_the_list_query_to_a_prefilled_form(login, shoppers):
    client = login(*ALL_SEGMENT_PERMS)
    listed = client.get(CUSTOMERS_URL + "?q=smith&o=2")
    link = f"{ADD_URL}?query={urlencode({'x': 'q=smith&o=2'})[2:]}"
    assert f'href="{link}"' in page_text(listed).replace("&amp;", "&")
    form = client.get(link)
    assert form.status_code == 200
    assert form.context["adminform"].form.initial["query"] == "q=smith"
    saved = client.post(link, {"name": "Smiths", "query": "q=smith&o=2", "shared": "on"})
    assert saved.status_code == 302 and saved["Location"] == SEGMENTS_URL
    segment = Segment.objects.get()
    # Ordering and paging are not conditions: only the filters and the search are kept.
    assert (segment.name, segment.conditions, segment.shared) == ("Smiths", {"q": "smith"}, True)
    assert segment.created_by == client.user
    assert "2 customers · 66.7 %" in page_text(client.get(SEGMENTS_URL))


def test_the_form_shows_what_is_wrong_instead_of_saving(login):
    client = login(*ALL_SEGMENT_PERMS)
    segment_create(actor=client.user, name="VIP", conditions={"tag": "VIP"})
    taken = client.post(ADD_URL, {"name": "vip", "query": "tag=VIP"})
    assert taken.status_code == 200
    assert taken.context["adminform"].form.errors["name"] == [
        "A segment named “vip” already exists."
    ]
    unknown = client.post(ADD_URL, {"name": "Shoes", "query": "shoe_size=42"})
    assert unknown.status_code == 200
    assert "shoe_size" in " ".join(unknown.context["adminform"].form.non_field_errors())
    assert Segment.objects.count() == 1


def test_a_stored_condition_on_a_removed_field_is_a_warning_not_a_500(login, shoppers):
    client = login(*ALL_SEGMENT_PERMS)
    segment = segment_create(actor=client.user, name="Old", conditions={"q": "smith"})
    Segment.objects.filter(pk=segment.pk).update(conditions={"loyalty_tier": "gold"})
    listed = client.get(SEGMENTS_URL)
    assert listed.status_code == 200
    assert 'class="errornote segment-problem"' in page_text(listed)
    assert "loyalty_tier" in page_text(listed)
    assert "0 customers · 0.0 %" in page_text(listed)
    opened = client.get(change_url(segment))
    assert opened.status_code == 200
    assert "This segment holds no customer until its conditions are corrected." in page_text(opened)


# --- permissions, enforced on the server ----------------------------------------------------


def test_view_without_add_sees_segments_but_cannot_create_one(login, make_staff, shoppers):
    author = make_staff(*ALL_SEGMENT_PERMS)
    segment = segment_create(actor=author, name="Smiths", conditions={"q": "smith"})
    client = login("view_segment")
    assert client.get(SEGMENTS_URL).status_code == 200
    assert "Save as segment" not in page_text(client.get(CUSTOMERS_URL))
    assert client.get(ADD_URL).status_code == 403
    assert client.post(ADD_URL, {"name": "Mine", "query": ""}).status_code == 403
    assert client.post(change_url(segment), {"name": "Renamed", "query": ""}).status_code == 403
    delete = reverse("admin:customers_segment_delete", args=[segment.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert list(Segment.objects.values_list("name", flat=True)) == ["Smiths"]


def test_add_without_change_creates_but_cannot_edit(login, shoppers):
    client = login("view_segment", "add_segment")
    assert "Save as segment" in page_text(client.get(CUSTOMERS_URL))
    created = client.post(ADD_URL, {"name": "Smiths", "query": "q=smith", "shared": "on"})
    assert created.status_code == 302
    segment = Segment.objects.get()
    assert client.post(change_url(segment), {"name": "Renamed", "query": ""}).status_code == 403
    segment.refresh_from_db()
    assert segment.name == "Smiths"


def test_without_view_the_segments_pages_are_refused(login, make_staff):
    author = make_staff(*ALL_SEGMENT_PERMS)
    segment = segment_create(actor=author, name="Smiths", conditions={"q": "smith"})
    client = login()
    assert client.get(SEGMENTS_URL).status_code == 403
    assert client.get(change_url(segment)).status_code == 403


def test_someone_elses_unshared_segment_does_not_exist_for_you(login, make_staff, shoppers):
    author = make_staff(*ALL_SEGMENT_PERMS, username="ann")
    private = segment_create(actor=author, name="Ann's", conditions={"q": "smith"}, shared=False)
    client = login(*ALL_SEGMENT_PERMS, username="bob")
    assert "Ann&#x27;s" not in page_text(client.get(SEGMENTS_URL))
    assert client.get(change_url(private)).status_code == 404
    assert client.post(change_url(private), {"name": "Mine", "query": ""}).status_code == 404
    delete = reverse("admin:customers_segment_delete", args=[private.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 404
    history = reverse("admin:customers_segment_history", args=[private.pk])
    assert client.get(history).status_code == 404
    assert Segment.objects.filter(pk=private.pk, name="Ann's").exists()


def test_delete_goes_through_the_service(login, shoppers):
    client = login(*ALL_SEGMENT_PERMS)
    segment = segment_create(actor=client.user, name="Smiths", conditions={"q": "smith"})
    delete = reverse("admin:customers_segment_delete", args=[segment.pk])
    response = client.post(delete, {"post": "yes"})
    assert response.status_code == 302
    assert not Segment.objects.exists()
    history = reverse("admin:customers_segment_history", args=[segment.pk])
    assert history  # the log entry stays for the audit
    from django.contrib.admin.models import DELETION, LogEntry

    assert LogEntry.objects.filter(object_id=str(segment.pk), action_flag=DELETION).count() == 1


def test_changing_a_segment_goes_through_the_service_and_shows_in_its_history(login, shoppers):
    client = login(*ALL_SEGMENT_PERMS)
    segment = segment_create(actor=client.user, name="Smiths", conditions={"q": "smith"})
    form = client.get(change_url(segment))
    assert form.context["adminform"].form.initial["query"] == "q=smith"
    assert "Customers who match:</strong> Matching “smith”" in page_text(form)
    response = client.post(
        change_url(segment),
        {"name": "Smith VIPs", "query": "q=smith&tag=VIP", "any_of_text": "", "shared": "on"},
    )
    assert response.status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.conditions) == ("Smith VIPs", {"q": "smith", "tag": "VIP"})
    history = client.get(reverse("admin:customers_segment_history", args=[segment.pk]))
    text = page_text(history)
    assert "Added." in text and "Changed name and conditions." in text


def test_any_of_lines_become_one_group_of_alternatives(login, shoppers):
    client = login(*ALL_SEGMENT_PERMS)
    response = client.post(
        ADD_URL,
        {
            "name": "VIP Smiths or Joneses",
            "query": "tag=VIP",
            "any_of_text": "q=smith\n/admin/customers/customer/?q=jones\n",
            "shared": "on",
        },
    )
    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.any_of == [[{"q": "smith"}, {"q": "jones"}]]
    listed = page_text(client.get(SEGMENTS_URL))
    assert "Tagged VIP and (matching “smith” or matching “jones”)" in listed
    assert "2 customers · 66.7 %" in listed
