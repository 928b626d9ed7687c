"""Login brute force: a username is locked out from an address after a few wrong passwords."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import F
from django.urls import reverse

from tests.backoffice.helpers import password_login, signed_in_user_id

pytestmark = pytest.mark.django_db
ATTACKER = {"REMOTE_ADDR": "203.0.113.7"}


@pytest.fixture
def clerk(db) -> User:
    return User.objects.create_user("clerk", password="correct horse battery", is_staff=True)


def test_the_right_password_is_refused_after_a_burst_of_wrong_ones(client, clerk):
    assert settings.AXES_FAILURE_LIMIT == 5
    for attempt in range(20):
        response = password_login(client, "clerk", f"guess-{attempt}", **ATTACKER)
    assert response.status_code == 429
    assert "Sign-in locked" in response.content.decode()

    response = password_login(client, "clerk", "correct horse battery", **ATTACKER)

    assert response.status_code == 429
    assert "5 wrong passwords in a row" in response.content.decode()
    assert signed_in_user_id(client) is None


def test_the_lockout_is_per_username_and_address(client, clerk):
    for attempt in range(5):
        password_login(client, "clerk", f"guess-{attempt}", **ATTACKER)

    # The clerk at the shop's own address still signs in: an attacker cannot lock staff out.
    response = password_login(client, "clerk", "correct horse battery", REMOTE_ADDR="192.0.2.10")

    assert response.status_code == 302
    assert signed_in_user_id(client) == str(clerk.pk)


def test_an_administrator_sees_the_lockout_and_lifts_it(client, admin_client, clerk):
    for attempt in range(6):
        password_login(client, "clerk", f"guess-{attempt}", **ATTACKER)
    attempts_url = reverse("admin:axes_accessattempt_changelist")

    page = admin_client.get(attempts_url).content.decode()
    assert "clerk" in page and "203.0.113.7" in page and "Locked Out" in page
    attempt = AccessAttempt.objects.get(username="clerk")
    assert "guess-" not in str(attempt.post_data)  # the guessed passwords are not kept

    response = admin_client.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()

    response = password_login(client, "clerk", "correct horse battery", **ATTACKER)
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(clerk.pk)


def test_a_clerk_cannot_see_or_lift_lockouts(client, make_staff):
    clerk = make_staff("view_customer")
    client.force_login(clerk)

    response = client.get(reverse("admin:axes_accessattempt_changelist"))

    assert response.status_code == 403


def test_the_lockout_ends_after_the_cool_off(client, clerk):
    for attempt in range(5):
        password_login(client, "clerk", f"guess-{attempt}", **ATTACKER)
    assert password_login(client, "clerk", "correct horse battery", **ATTACKER).status_code == 429
    # An hour and a minute pass.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(hours=1, minutes=1))

    response = password_login(client, "clerk", "correct horse battery", **ATTACKER)

    assert response.status_code == 302
    assert signed_in_user_id(client) == str(clerk.pk)


def test_behind_a_proxy_the_address_the_proxy_saw_counts(client, clerk, settings):
    settings.BACKOFFICE_PROXY_COUNT = 1
    for attempt in range(5):
        # The attacker writes a new address of their own each time; our proxy appends the real one.
        forwarded = f"198.51.100.{attempt}, 203.0.113.7"
        password_login(
            client,
            "clerk",
            f"guess-{attempt}",
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    response = password_login(
        client,
        "clerk",
        "correct horse battery",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.99, 203.0.113.7",
    )
    assert response.status_code == 429
    assert AccessAttempt.objects.get().ip_address == "203.0.113.7"
    # A colleague behind the same proxy, from the shop's address, is not locked out.
    response = password_login(
        client,
        "clerk",
        "correct horse battery",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="192.0.2.10",
    )
    assert response.status_code == 302
