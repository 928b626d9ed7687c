"""The permission matrix: each sensitive view and admin action refuses a staff user without its
permission (not offered; a forged request changes nothing; 403) and an anonymous user (sent to
the login page), and serves a staff user who holds it.

To cover a new view or action, add one row to VIEWS or ACTIONS; every test below runs on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
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


@dataclass(frozen=True)
class Action:
    """An action of the customer list."""

    name: str
    permission: str
    selected: Callable[[SimpleNamespace], list[Customer]]
    # The action's own form fields, if any (a function of the world when they name its rows).
    data: dict | Callable[[SimpleNamespace], dict] = field(default_factory=dict)
    writes: bool = True  # False: its last step is a page (export), not a change


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
    ),
    View(
        "import template",
        "import_customer",
        "get",
        lambda w: reverse("admin:customers_customer_sample"),
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
    ),
    View(
        "request erasure page",
        "request_erasure_customer",
        "get",
        _erasure("request", "plain"),
        button_on=lambda w: w.plain,
    ),
    View("request erasure", "request_erasure_customer", "post", _erasure("request", "plain")),
    View(
        "cancel erasure page",
        "request_erasure_customer",
        "get",
        _erasure("cancel", "pending"),
        button_on=lambda w: w.pending,
    ),
    View("cancel erasure", "request_erasure_customer", "post", _erasure("cancel", "pending")),
    View(
        "personal-data export",
        "export_personal_data_customer",
        "get",
        lambda w: reverse("admin:customers_customer_personal_data", args=[w.plain.pk]),
        button_on=lambda w: w.plain,
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
    ),
]

ACTIONS = [
    Action("request_erasure", "request_erasure_customer", lambda w: [w.plain]),
    Action("cancel_erasure", "request_erasure_customer", lambda w: [w.pending]),
    Action("add_tags", "tag_customer", lambda w: [w.plain], {"tags": "Newcomer"}),
    Action("remove_tags", "tag_customer", lambda w: [w.plain], {"tags": "VIP"}),
    Action("assign_group", "group_customer", lambda w: [w.plain], {"group": "GROUP"}),
    Action("remove_group", "group_customer", lambda w: [w.grouped]),
    Action("archive", "archive_customer", lambda w: [w.plain]),
    Action("unarchive", "archive_customer", lambda w: [w.archived]),
    Action(
        "send_email",
        "email_customer",
        lambda w: [w.plain],
        {"subject": "Hello {first_name}", "body": "Dear {first_name},"},
    ),
    Action("delete_customers", "delete_customer", lambda w: [w.other]),
    Action("merge_selected", "merge_customer", lambda w: [w.other, w.twin], _merge_form),
    Action("export_selected", "export_customer", lambda w: [w.plain], writes=False),
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
    response = _request(client, view, world)
    assert response.status_code in (200, 302)
    assert not response.get("Location", "").startswith(LOGIN_URL)
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
        assert response.status_code in (200, 302, 403)
        assert response["Content-Type"].startswith("text/html")  # no CSV, no download
        assert 'name="post" value="yes"' not in response.content.decode()  # no confirmation
    assert stored_state() == before


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_action_sends_anonymous_users_to_login(client, world, action):
    before = stored_state()
    response = _post_action(client, action, world, confirmed=True)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)
    assert stored_state() == before


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_action_is_offered_and_works_with_its_permission(client, world, make_staff, action):
    client.force_login(make_staff("view_customer", action.permission))
    assert action.name in _offered(client)
    before = stored_state()
    assert _post_action(client, action, world, confirmed=False).status_code == 200
    assert stored_state() == before  # the first step only asks for confirmation
    if not action.writes:
        return
    assert _post_action(client, action, world, confirmed=True).status_code == 302
    assert stored_state() != before
