"""The permission matrix: each sensitive view and admin action refuses a staff user without its
permission (not offered; a forged request changes nothing; 403) and an anonymous user (sent to
the login page), and serves a staff user who holds it.

To cover a new view or action, add one row to VIEWS or ACTIONS; every test below runs on it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import (
    Address,
    Customer,
    CustomerEvent,
    CustomerMerge,
    Note,
    Order,
    Tag,
    TaggedCustomer,
)
from customers.services.exporting import SHOPIFY_HEADERS
from customers.services.merge import customers_merge
from customers.services.privacy import customer_request_erasure
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:customers_customer_changelist")
LOGIN_URL = reverse("admin:login")


@dataclass(frozen=True)
class View:
    """A URL that needs a permission beyond viewing customers."""

    name: str
    permission: str
    method: str  # "get" or "post"
    url: Callable[[SimpleNamespace], str]
    data: Callable[[SimpleNamespace], dict] = lambda world: {}
    # The change page offers it as a button (a link to ``url``) to those allowed only.
    button_on: Callable[[SimpleNamespace], Customer] | None = None
    # Served to a staff user holding the permission: the status, and what it did (asserts).
    served: int = 200
    effect: Callable[[SimpleNamespace, object], None] = lambda world, response: None
    writes: bool = False  # False: serving it must leave the data exactly as it was


@dataclass(frozen=True)
class Action:
    """An action of the customer list."""

    name: str
    permission: str
    selected: Callable[[SimpleNamespace], list[Customer]]
    # The action's own form fields, if any (a function of the world when they name its rows).
    data: dict | Callable[[SimpleNamespace], dict] = field(default_factory=dict)
    writes: bool = True  # False: its last step is a page (export), not a change
    # What the confirmed action did, asserted exactly (or, for a page, what the page offers).
    effect: Callable[[SimpleNamespace, object], None] = lambda world, response: None
    # Customers the action may rewrite besides the selected ones (the merge's survivor).
    touches: Callable[[SimpleNamespace], list[Customer]] = lambda world: []
    # Where the confirmed action leads: back to the list, unless it says otherwise.
    location: Callable[[SimpleNamespace], str] = lambda world: LIST_URL + "?status=all"


def _erasure(step: str, target: str):
    return lambda w: reverse("admin:customers_customer_erasure", args=[getattr(w, target).pk, step])


def _upload(world) -> dict:
    body = b"First Name,Last Name,Email\r\nNew,Person,new.person@example.com\r\n"
    return {"import_file": SimpleUploadedFile("customers.csv", body, content_type="text/csv")}


def _merge_form(world) -> dict:
    """The merge page's confirm POST for ``other`` absorbing ``twin``, versions as shown."""
    versions = dict(
        Customer.objects.filter(pk__in=[world.other.pk, world.twin.pk]).values_list("pk", "version")
    )
    return {
        "survivor": world.other.pk,
        "shown_survivor": world.other.pk,
        **{f"version_{pk}": version for pk, version in versions.items()},
    }


def _fresh(customer: Customer) -> Customer:
    return Customer.objects.get(pk=customer.pk)


def _csv_rows(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def _import_previewed(world, response) -> None:
    summary = response.context["summary"]
    assert (summary["created"], summary["updated"], summary["error"]) == (1, 0, 0)
    assert not Customer.objects.filter(email="new.person@example.com").exists()


def _sample_served(world, response) -> None:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    header = b"".join(response.streaming_content if response.streaming else [response.content])
    assert header.decode().splitlines()[0] == ",".join(SHOPIFY_HEADERS)


def _exported(world, response) -> None:
    assert sorted(row["Email"] for row in _csv_rows(response)) == [
        "archived@example.com",
        "grouped@example.com",
        "other@example.com",
        "pending@example.com",
        "plain@example.com",
        "survivor@example.com",
        "twin@example.com",
    ]


def _merge_page_shown(world, response) -> None:
    assert {c.pk for c in response.context["customers"]} == {world.other.pk, world.twin.pk}


def _unmerged(world, response) -> None:
    assert response["Location"] == reverse(
        "admin:customers_customer_merges", args=[world.survivor.pk]
    )
    assert _fresh(world.absorbed).status == "active"
    assert CustomerMerge.objects.get(pk=world.merge.pk).undone_at is not None


def _erasure_requested(world, response) -> None:
    plain = _fresh(world.plain)
    assert plain.erasure_requested_at is not None
    assert plain.erasure_requested_by == response.wsgi_request.user


def _erasure_cancelled(world, response) -> None:
    pending = _fresh(world.pending)
    assert (pending.erasure_requested_at, pending.erasure_requested_by) == (None, None)


def _personal_data(world, response) -> None:
    assert response["Content-Type"] == "application/json; charset=utf-8"
    document = json.loads(response.content)
    assert document["customer"]["email"] == "plain@example.com"


def _deleted(world, response) -> None:
    assert not Customer.objects.filter(pk=world.other.pk).exists()


def _tags_are(*names):
    return lambda world, response: assert_equal(set(_fresh(world.plain).tags.names()), set(names))


def assert_equal(actual, expected) -> None:
    assert actual == expected


def _emailed(world, response) -> None:
    assert [(m.to, m.subject, m.body) for m in mail.outbox] == [
        (["plain@example.com"], "Hello Test", "Dear Test,")
    ]


def _merged(world, response) -> None:
    twin = _fresh(world.twin)
    assert (twin.status, twin.merged_into_id) == ("merged", world.other.pk)
    assert _fresh(world.other).status == "active"


def _export_page(world, response) -> None:
    assert response.context["form"].initial == {"scope": "selected", "ids": str(world.plain.pk)}


VIEWS = [
    View(
        "import page",
        "import_customer",
        "get",
        lambda w: reverse("admin:customers_customer_import"),
    ),
    View(
        "import upload",
        "import_customer",
        "post",
        lambda w: reverse("admin:customers_customer_import"),
        data=_upload,
        effect=_import_previewed,
    ),
    View(
        "import template",
        "import_customer",
        "get",
        lambda w: reverse("admin:customers_customer_sample"),
        effect=_sample_served,
    ),
    View(
        "export page",
        "export_customer",
        "get",
        lambda w: reverse("admin:customers_customer_export"),
    ),
    View(
        "export",
        "export_customer",
        "post",
        lambda w: reverse("admin:customers_customer_export"),
        data=lambda w: {"scope": "all", "columns": ["Email"], "delimiter": ","},
        effect=_exported,
    ),
    View(
        "possible duplicates page",
        "merge_customer",
        "get",
        lambda w: reverse("admin:customers_customer_duplicates"),
    ),
    View(
        "merge page",
        "merge_customer",
        "get",
        lambda w: reverse("admin:customers_customer_merge") + f"?ids={w.other.pk},{w.twin.pk}",
        effect=_merge_page_shown,
    ),
    View(
        "unmerge page",
        "merge_customer",
        "get",
        lambda w: reverse("admin:customers_customer_unmerge", args=[w.survivor.pk, w.merge.pk]),
    ),
    View(
        "unmerge",
        "merge_customer",
        "post",
        lambda w: reverse("admin:customers_customer_unmerge", args=[w.survivor.pk, w.merge.pk]),
        data=lambda w: {"version": _fresh(w.survivor).version},
        served=302,
        effect=_unmerged,
        writes=True,
    ),
    View(
        "request erasure page",
        "request_erasure_customer",
        "get",
        _erasure("request", "plain"),
        button_on=lambda w: w.plain,
    ),
    View(
        "request erasure",
        "request_erasure_customer",
        "post",
        _erasure("request", "plain"),
        served=302,
        effect=_erasure_requested,
        writes=True,
    ),
    View(
        "cancel erasure page",
        "request_erasure_customer",
        "get",
        _erasure("cancel", "pending"),
        button_on=lambda w: w.pending,
    ),
    View(
        "cancel erasure",
        "request_erasure_customer",
        "post",
        _erasure("cancel", "pending"),
        served=302,
        effect=_erasure_cancelled,
        writes=True,
    ),
    View(
        "personal-data export",
        "export_personal_data_customer",
        "get",
        lambda w: reverse("admin:customers_customer_personal_data", args=[w.plain.pk]),
        button_on=lambda w: w.plain,
        effect=_personal_data,
        writes=True,  # the export itself is audited
    ),
    View(
        "delete page",
        "delete_customer",
        "get",
        lambda w: reverse("admin:customers_customer_delete", args=[w.other.pk]),
        button_on=lambda w: w.other,
    ),
    View(
        "delete",
        "delete_customer",
        "post",
        lambda w: reverse("admin:customers_customer_delete", args=[w.other.pk]),
        data=lambda w: {"post": "yes"},
        served=302,
        effect=_deleted,
        writes=True,
    ),
]

ACTIONS = [
    Action(
        "request_erasure",
        "request_erasure_customer",
        lambda w: [w.plain],
        effect=_erasure_requested,
    ),
    Action(
        "cancel_erasure",
        "request_erasure_customer",
        lambda w: [w.pending],
        effect=_erasure_cancelled,
    ),
    Action(
        "add_tags",
        "tag_customer",
        lambda w: [w.plain],
        {"tags": "Newcomer"},
        effect=_tags_are("VIP", "Newcomer"),
    ),
    Action("remove_tags", "tag_customer", lambda w: [w.plain], {"tags": "VIP"}, effect=_tags_are()),
    Action(
        "assign_group",
        "group_customer",
        lambda w: [w.plain],
        {"group": "GROUP"},
        effect=lambda w, r: assert_equal(_fresh(w.plain).group_id, w.group.pk),
    ),
    Action(
        "remove_group",
        "group_customer",
        lambda w: [w.grouped],
        effect=lambda w, r: assert_equal(_fresh(w.grouped).group_id, None),
    ),
    Action(
        "archive",
        "archive_customer",
        lambda w: [w.plain],
        effect=lambda w, r: assert_equal(_fresh(w.plain).status, "archived"),
    ),
    Action(
        "unarchive",
        "archive_customer",
        lambda w: [w.archived],
        effect=lambda w, r: assert_equal(_fresh(w.archived).status, "active"),
    ),
    Action(
        "send_email",
        "email_customer",
        lambda w: [w.plain],
        {"subject": "Hello {first_name}", "body": "Dear {first_name},"},
        effect=_emailed,
    ),
    Action("delete_customers", "delete_customer", lambda w: [w.other], effect=_deleted),
    Action(
        "merge_selected",
        "merge_customer",
        lambda w: [w.other, w.twin],
        _merge_form,
        effect=_merged,
        touches=lambda w: [w.other],
        location=lambda w: reverse("admin:customers_customer_change", args=[w.other.pk]),
    ),
    Action(
        "export_selected", "export_customer", lambda w: [w.plain], writes=False, effect=_export_page
    ),
]


@pytest.fixture
def world(make_customer, make_address, make_order):
    plain = make_customer(email="plain@example.com", tags=["VIP"])
    make_address(plain, is_default=True)
    make_order(plain)
    Note.objects.create(customer=plain, body="note")
    pending = make_customer(email="pending@example.com")
    customer_request_erasure(actor="test", customer_id=pending.pk)
    other = make_customer(email="other@example.com")
    group = CustomerGroup.objects.create(name="Wholesale")
    grouped = make_customer(email="grouped@example.com", group=group)
    archived = make_customer(email="archived@example.com", status="archived")
    twin = make_customer(email="twin@example.com", phone=other.phone)
    survivor = make_customer(email="survivor@example.com")
    absorbed = make_customer(email="absorbed@example.com")
    customers_merge(actor="test", survivor_id=survivor.pk, absorbed_ids=[absorbed.pk])
    return SimpleNamespace(
        plain=plain,
        pending=pending,
        other=other,
        twin=twin,
        group=group,
        grouped=grouped,
        archived=archived,
        survivor=survivor,
        absorbed=absorbed,
        merge=CustomerMerge.objects.get(survivor=survivor),
    )


def stored_state() -> tuple:
    """Everything an action or view could change."""
    return tuple(
        list(model.objects.order_by("pk").values())
        for model in (
            Customer,
            Address,
            Note,
            Order,
            CustomerEvent,
            Tag,
            TaggedCustomer,
            CustomerGroup,
            CustomerMerge,
        )
    )


def all_codenames() -> list[str]:
    return list(
        Permission.objects.filter(content_type__app_label__in=["customers", "groups"])
        .values_list("codename", flat=True)
        .distinct()
    )


@pytest.fixture
def staff_without(make_staff):
    """A staff user holding every customer and group permission except the given one."""

    def build(codename: str):
        return make_staff(*(c for c in all_codenames() if c != codename))

    return build


def _request(client, view: View, world):
    call = client.post if view.method == "post" else client.get
    return call(view.url(world), view.data(world))


def test_every_custom_permission_is_covered():
    """Each sensitive permission of the branch has at least one row."""
    covered = {row.permission for row in VIEWS + ACTIONS}
    assert {
        "request_erasure_customer",
        "export_personal_data_customer",
        "tag_customer",
        "group_customer",
        "archive_customer",
        "email_customer",
        "delete_customer",
        "import_customer",
        "export_customer",
        "merge_customer",
    } <= covered


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_view_refuses_staff_without_its_permission(client, world, staff_without, view):
    client.force_login(staff_without(view.permission))
    before = stored_state()
    assert _request(client, view, world).status_code == 403
    assert stored_state() == before
    if view.button_on:
        page = client.get(
            reverse("admin:customers_customer_change", args=[view.button_on(world).pk])
        )
        assert page.status_code == 200
        assert view.url(world) not in page.content.decode()


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_view_refuses_staff_with_its_permission_but_no_access_to_customers(
    client, world, make_staff, view
):
    client.force_login(make_staff(view.permission))
    before = stored_state()
    assert _request(client, view, world).status_code == 403
    assert stored_state() == before


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_view_sends_anonymous_users_to_login(client, world, view):
    before = stored_state()
    response = _request(client, view, world)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)
    assert stored_state() == before


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_view_serves_staff_with_its_permission(client, world, make_staff, view):
    client.force_login(make_staff("view_customer", view.permission))
    before = stored_state()
    response = _request(client, view, world)
    assert response.status_code == view.served
    view.effect(world, response)
    if not view.writes:
        assert stored_state() == before
    if view.button_on:
        page = client.get(
            reverse("admin:customers_customer_change", args=[view.button_on(world).pk])
        )
        assert view.url(world) in page.content.decode()


def _offered(client) -> set[str]:
    response = client.get(LIST_URL, {"status": "all"})
    assert response.status_code == 200
    form = response.context["action_form"]  # None when no action at all is offered
    return {name for name, _label in form.fields["action"].choices} if form else set()


def _post_action(client, action: Action, world, *, confirmed: bool):
    extra = action.data(world) if callable(action.data) else action.data
    data = {
        "action": action.name,
        "_selected_action": [c.pk for c in action.selected(world)],
        # "GROUP" stands for the world's group, whose id is known only once it exists.
        **{k: (world.group.pk if v == "GROUP" else v) for k, v in extra.items()},
    }
    if confirmed:
        data["post"] = "yes"
    return client.post(LIST_URL + "?status=all", data)


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_action_is_not_offered_and_cannot_be_forged_without_its_permission(
    client, world, staff_without, action
):
    client.force_login(staff_without(action.permission))
    assert action.name not in _offered(client)
    before = stored_state()
    for confirmed in (False, True):
        response = _post_action(client, action, world, confirmed=confirmed)
        # Django's change list does not know the action: back to the list, which says so.
        assert response.status_code == 302
        assert response["Location"] == LIST_URL + "?status=all"
        shown = client.get(response["Location"])
        assert [str(m) for m in shown.context["messages"]] == ["No action selected."]
    assert stored_state() == before


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_action_sends_anonymous_users_to_login(client, world, action):
    before = stored_state()
    response = _post_action(client, action, world, confirmed=True)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)
    assert stored_state() == before


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_action_is_offered_and_works_with_its_permission(
    client, world, make_staff, action, django_capture_on_commit_callbacks
):
    client.force_login(make_staff("view_customer", action.permission))
    assert action.name in _offered(client)
    before = stored_state()
    page = _post_action(client, action, world, confirmed=False)
    assert page.status_code == 200
    assert stored_state() == before  # the first step only asks for confirmation
    if not action.writes:
        action.effect(world, page)
        return
    untouched = _customers_except([*action.selected(world), *action.touches(world)])
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_action(client, action, world, confirmed=True)
    assert response.status_code == 302
    assert response["Location"] == action.location(world)
    action.effect(world, response)
    # Nobody else changed.
    assert _customers_except([*action.selected(world), *action.touches(world)]) == untouched


def _customers_except(customers) -> list[dict]:
    return list(Customer.objects.exclude(pk__in=[c.pk for c in customers]).order_by("pk").values())
