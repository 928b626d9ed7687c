"""Sessions end after a working day without activity; a new password ends the other sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.backoffice.helpers import INDEX_URL, LIST_URL, LOGIN_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    """Move the clock the session store reads."""
    real_now = timezone.now

    def move(delta: timedelta) -> None:
        monkeypatch.setattr(timezone, "now", lambda: real_now() + delta)

    return move


def test_the_default_idle_timeout_is_eight_hours():
    assert settings.BACKOFFICE_SESSION_IDLE_SECONDS == 8 * 3600
    assert settings.SESSION_COOKIE_AGE == settings.BACKOFFICE_SESSION_IDLE_SECONDS
    assert settings.SESSION_SAVE_EVERY_REQUEST


def test_activity_keeps_the_session_and_idleness_ends_it(client, make_staff, clock):
    clerk = make_staff("view_customer")
    client.force_login(clerk)
    assert client.get(LIST_URL).status_code == 200

    clock(timedelta(hours=7, minutes=59))
    assert client.get(LIST_URL).status_code == 200  # ...and the eight hours start again
    clock(timedelta(hours=15, minutes=58))
    assert client.get(LIST_URL).status_code == 200

    clock(timedelta(hours=23, minutes=59))
    response = client.get(LIST_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_a_password_change_signs_out_the_other_sessions_only(make_staff):
    clerk = make_staff("view_customer", "change_customer")
    at_the_desk, stolen_laptop = Client(), Client()
    at_the_desk.force_login(clerk)
    stolen_laptop.force_login(clerk)
    assert stolen_laptop.get(LIST_URL).status_code == 200

    response = at_the_desk.post(
        reverse("admin:password_change"),
        {
            "old_password": "pw",
            "new_password1": "Ochre-lantern-42",
            "new_password2": "Ochre-lantern-42",
        },
    )

    assert response.status_code == 302
    assert at_the_desk.get(LIST_URL).status_code == 200
    kicked_out = stolen_laptop.get(LIST_URL)
    assert kicked_out.status_code == 302 and kicked_out["Location"].startswith(LOGIN_URL)
    assert stolen_laptop.get(INDEX_URL)["Location"].startswith(LOGIN_URL)
