"""seed_demo is a developer's tool: never run on production by accident, never touching a user."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command

from customers.management.commands.seed_demo import NOT_IN_PRODUCTION
from customers.models import Customer

pytestmark = pytest.mark.django_db


def test_it_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError) as refused:
        call_command("seed_demo", customers=5, stdout=StringIO())

    assert str(refused.value) == NOT_IN_PRODUCTION
    assert not User.objects.exists()
    assert not Customer.objects.exists()


def test_force_runs_it_with_debug_off(settings):
    settings.DEBUG = False

    call_command("seed_demo", customers=5, force=True, stdout=StringIO())

    assert Customer.objects.count() == 9  # and the four planted duplicates
    assert User.objects.get(username="demo").check_password("demo")


@pytest.mark.parametrize("with_customers", [False, True])
def test_existing_demo_and_clerk_users_are_left_alone(settings, make_customer, with_customers):
    settings.DEBUG = True
    if with_customers:
        make_customer()
    # Someone made the demo account a real one: its own password, no longer a superuser.
    demo = User.objects.create_user("demo", password="a-real-secret", is_staff=True)
    clerk = User.objects.create_user("clerk", password="clerk-secret", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename="view_customer"))
    out = StringIO()

    call_command("seed_demo", customers=5, stdout=out)

    demo.refresh_from_db()
    clerk.refresh_from_db()
    assert demo.check_password("a-real-secret") and not demo.is_superuser
    assert clerk.check_password("clerk-secret")
    assert list(clerk.user_permissions.values_list("codename", flat=True)) == ["view_customer"]
    assert "demo (already there: password and permissions left as they were)" in out.getvalue()
    assert "demo / demo" not in out.getvalue()
