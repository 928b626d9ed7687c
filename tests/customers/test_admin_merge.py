"""The merge pages as staff use them: duplicates page, merge action, merged URLs, unmerge."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from customers.models import Customer, CustomerMerge, Note, Order
from customers.services.merge import MERGE_NEEDS_TWO, customers_merge

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:customers_customer_changelist")
DUPLICATES_URL = reverse("admin:customers_customer_duplicates")
MERGE_URL = reverse("admin:customers_customer_merge")


def change_url(customer) -> str:
    return reverse("admin:customers_customer_change", args=[customer.pk])


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def merger(client, make_staff):
    client.force_login(make_staff("view_customer", "change_customer", "merge_customer"))
    return client


@pytest.fixture
def clerk(client, make_staff):
    client.force_login(make_staff("view_customer", "change_customer"))
    return client


@pytest.fixture
def pair(make_customer, make_order):
    old = make_customer(email="ana@shop.es", first_name="Ana", phone="+34612345678")
    pos = make_customer(email="ana.pos@shop.es", first_name="", phone="+34612345678")
    make_order(pos)
    make_order(pos)
    return old, pos


def action_post(client, customers, **extra):
    data = {"action": "merge_selected", "_selected_action": [c.pk for c in customers], **extra}
    return client.post(LIST_URL, data)


def confirm_data(customers, survivor, **choices):
    data = {
        "action": "merge_selected",
        "post": "yes",
        "_confirm": "1",
        "_selected_action": [c.pk for c in customers],
        "survivor": survivor.pk,
        "shown_survivor": survivor.pk,
    }
    for c in customers:
        data[f"version_{c.pk}"] = Customer.objects.get(pk=c.pk).version
    data.update({f"keep_{name}": pk for name, pk in choices.items()})
    return data


def test_merge_page_shows_records_side_by_side_with_defaults(merger, pair):
    old, pos = pair
    response = action_post(merger, [old, pos])
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["survivor"] == pos  # the most orders
    for text in ("ana@shop.es", "ana.pos@shop.es", "Ana", "After the merge", "Update preview"):
        assert text in html
    # The survivor's first name is empty: the default takes the first non-empty one.
    checked = re.search(r'name="keep_first_name" value="(\d+)" checked', html).group(1)
    assert int(checked) == old.pk
    preview = response.context["moves"]
    assert [(c, summary["orders"]) for c, summary, _tags in preview] == [(old, 0)]


def test_merge_page_changes_survivor_on_preview(merger, pair):
    old, pos = pair
    data = confirm_data([old, pos], old)
    del data["_confirm"]
    data["_preview"] = "1"
    data["shown_survivor"] = pos.pk
    response = merger.post(LIST_URL, data)
    assert response.context["survivor"] == old
    assert [(c, s["orders"]) for c, s, _t in response.context["moves"]] == [(pos, 2)]


def test_confirm_merges_and_redirects_to_the_survivor(merger, pair):
    old, pos = pair
    response = merger.post(LIST_URL, confirm_data([old, pos], pos, email=old.pk))
    assert response.status_code == 302 and response["Location"] == change_url(pos)
    old.refresh_from_db()
    pos.refresh_from_db()
    assert (old.status, old.merged_into) == ("merged", pos)
    assert pos.email == "ana@shop.es" and pos.first_name == "Ana"
    assert pos.orders.count() == 2
    assert "Merged 1 customer into" in texts(response)[0]
    # The absorbed record's old URL leads to the survivor.
    response = merger.get(change_url(old))
    assert response.status_code == 302 and response["Location"] == change_url(pos)
    # ... and it left the default list.
    listed = merger.get(LIST_URL).context["cl"].result_list
    assert old not in listed and pos in listed


def test_merge_of_any_number_of_customers(merger, make_customer, make_order):
    customers = [make_customer() for _ in range(6)]
    for c in customers[2:]:
        make_order(c)
    response = merger.post(LIST_URL, confirm_data(customers, customers[0]))
    assert response.status_code == 302
    assert Customer.objects.filter(status="merged", merged_into=customers[0]).count() == 5
    assert customers[0].orders.count() == 4


def test_selection_of_one_is_refused(merger, pair):
    response = action_post(merger, [pair[0]])
    assert response.status_code == 302
    assert str(MERGE_NEEDS_TWO) in texts(response)


def test_refused_customer_is_named(merger, pair):
    old, pos = pair
    Customer.objects.filter(pk=old.pk).update(status="redacted")
    response = action_post(
        merger,
        [old, pos],
    )
    assert response.status_code == 302
    assert any(
        "erased" in text and str(Customer.objects.get(pk=old.pk)) in text
        for text in texts(response)
    )


def test_stale_page_is_told_to_reload(merger, pair):
    old, pos = pair
    data = confirm_data([old, pos], pos)
    Customer.objects.filter(pk=old.pk).update(first_name="Changed", version=old.version + 1)
    response = merger.post(LIST_URL, data)
    assert response.status_code == 302
    assert any("reload" in text for text in texts(response))
    assert Customer.objects.get(pk=old.pk).status == "active"


def test_staff_without_permission_is_not_offered_and_cannot_post(clerk, pair):
    old, pos = pair
    response = clerk.get(LIST_URL)
    assert "merge_selected" not in response.content.decode()
    assert "Possible duplicates" not in response.content.decode()
    response = clerk.post(LIST_URL, confirm_data([old, pos], pos))
    assert Customer.objects.get(pk=old.pk).status == "active"
    assert not CustomerMerge.objects.exists()
    assert clerk.get(DUPLICATES_URL).status_code == 403
    assert clerk.get(MERGE_URL, {"ids": f"{old.pk},{pos.pk}"}).status_code == 403


def test_duplicates_page_lists_groups_with_reason_and_merge_link(
    merger, pair, make_customer, make_address
):
    old, pos = pair
    a = make_customer(email="a@x.com")
    b = make_customer(email="b@x.com")
    make_address(a, address1="12 Rue de la Paix", postal_code="75002", country_code="FR")
    make_address(b, address1="12, rue de la paix", postal_code="75002", country_code="FR")
    make_customer(email="gone@x.com", phone="+34612345678", status="redacted")
    response = merger.get(DUPLICATES_URL)  # same phone first
    html = response.content.decode()
    assert response.status_code == 200
    groups = [(g.reason, tuple(c.pk for c in g.customers)) for g in response.context["groups"]]
    assert groups == [("phone", tuple(sorted([old.pk, pos.pk])))]
    assert "Same phone" in html and "?reason=address" in html
    response = merger.get(DUPLICATES_URL, {"reason": "address"})
    groups = [(g.reason, tuple(c.pk for c in g.customers)) for g in response.context["groups"]]
    assert groups == [("address", tuple(sorted([a.pk, b.pk])))]
    html = response.content.decode()
    assert "Same postal address" in html and "12 Rue de la Paix" in html
    assert f"{MERGE_URL}?ids={min(a.pk, b.pk)},{max(a.pk, b.pk)}" in html
    # The group's link opens the merge page.
    response = merger.get(MERGE_URL, {"ids": f"{a.pk},{b.pk}"})
    assert response.status_code == 200
    assert set(response.context["customers"]) == {a, b}


def test_duplicates_page_is_paginated(merger, make_customer):
    for n in range(55):
        make_customer(phone=f"+1617555{n:04d}")
        make_customer(phone=f"+1617555{n:04d}")
    first = merger.get(DUPLICATES_URL)
    assert len(first.context["groups"]) == 50 and first.context["next_page"] == 2
    assert "?reason=phone&amp;p=2" in first.content.decode()
    second = merger.get(DUPLICATES_URL, {"p": 2})
    assert len(second.context["groups"]) == 5 and second.context["next_page"] is None
    assert {g.key for g in first.context["groups"]}.isdisjoint(
        g.key for g in second.context["groups"]
    )


def test_possible_duplicates_filter(merger, pair, make_customer):
    loner = make_customer(email="alone@x.com")
    response = merger.get(LIST_URL, {"duplicates": "yes"})
    listed = set(response.context["cl"].result_list)
    assert listed == set(pair) and loner not in listed


def test_unmerge_from_the_survivors_page(merger, pair, superuser):
    old, pos = pair
    result = customers_merge(actor=superuser, survivor_id=pos.pk, absorbed_ids=[old.pk])
    note = Note.objects.create(customer=pos, body="added after the merge")
    html = merger.get(change_url(pos)).content.decode()
    merges_url = reverse("admin:customers_customer_merges", args=[pos.pk])
    assert merges_url in html and "Unmerge" in html
    page = merger.get(merges_url).content.decode()
    unmerge_url = reverse("admin:customers_customer_unmerge", args=[pos.pk, result.merge.pk])
    assert unmerge_url in page and "ana@shop.es" in page
    confirm = merger.get(unmerge_url)
    assert "Yes, undo this merge" in confirm.content.decode()
    pos.refresh_from_db()
    response = merger.post(unmerge_url, {"version": pos.version})
    assert response.status_code == 302
    assert "Merge undone" in texts(response)[0]
    old.refresh_from_db()
    assert old.status == "active" and old.merged_into is None
    assert Note.objects.get(pk=note.pk).customer_id == pos.pk
    assert Order.objects.filter(customer=pos).count() == 2


def test_unmerge_page_explains_why_it_cannot_be_undone(merger, pair, superuser, make_customer):
    old, pos = pair
    result = customers_merge(actor=superuser, survivor_id=pos.pk, absorbed_ids=[old.pk])
    make_customer(email="ana@shop.es")
    unmerge_url = reverse("admin:customers_customer_unmerge", args=[pos.pk, result.merge.pk])
    html = merger.get(unmerge_url).content.decode()
    assert "ana@shop.es is now used by" in html and "Yes, undo this merge" not in html
    response = merger.post(unmerge_url, {})
    assert any("now used by" in text for text in texts(response))
    assert Customer.objects.get(pk=old.pk).status == "merged"


def test_unmerge_needs_the_permission(clerk, pair, superuser):
    old, pos = pair
    result = customers_merge(actor=superuser, survivor_id=pos.pk, absorbed_ids=[old.pk])
    merges_url = reverse("admin:customers_customer_merges", args=[pos.pk])
    unmerge_url = reverse("admin:customers_customer_unmerge", args=[pos.pk, result.merge.pk])
    assert unmerge_url not in clerk.get(merges_url).content.decode()
    assert clerk.post(unmerge_url, {}).status_code == 403
    assert Customer.objects.get(pk=old.pk).status == "merged"


def test_merged_twice_url_leads_to_the_last_survivor(merger, make_customer, superuser):
    first, second, last = make_customer(), make_customer(), make_customer()
    customers_merge(actor=superuser, survivor_id=second.pk, absorbed_ids=[first.pk])
    customers_merge(actor=superuser, survivor_id=last.pk, absorbed_ids=[second.pk])
    response = merger.get(change_url(first))
    assert response.status_code == 302 and response["Location"] == change_url(last)
    assert f"was merged into {last}" in texts(response)[0]


def test_duplicates_link_to_a_refused_group_names_the_reason(merger, pair):
    old, pos = pair
    Customer.objects.filter(pk=old.pk).update(erasure_requested_at="2026-01-01T00:00:00Z")
    response = merger.get(MERGE_URL, {"ids": f"{old.pk},{pos.pk}"})
    assert response.status_code == 302 and response["Location"] == DUPLICATES_URL
    assert any("pending erasure request" in text for text in texts(response))


def test_merge_page_refuses_more_records_than_it_can_show(merger, make_customer, monkeypatch):
    """A select-all over a big filtered list must not try to lay out thousands of records."""
    monkeypatch.setattr("customers.admin.merge.MERGE_MAX", 3)
    customers = [make_customer() for _ in range(4)]
    response = action_post(merger, customers[:1], select_across="1", index="0")
    assert response.status_code == 302
    assert texts(response) == [
        "4 customers are selected: merge at most 3 at a time, so that each record can be "
        "checked side by side."
    ]
    assert not Customer.objects.filter(status="merged").exists()
    assert action_post(merger, customers[:3]).status_code == 200  # three still fit
