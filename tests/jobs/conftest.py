"""Fixtures for the job engine: the immediate backend, jobs in every state, staff users."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import Permission, User

import tests.jobs.kinds  # noqa: F401 - registers the test job kind
from backoffice.jobs.models import Job

_counter = itertools.count(1)


@pytest.fixture
def immediate_tasks(settings, monkeypatch):
    """Run each job in-process when its transaction commits, reporting progress on every call."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    monkeypatch.setattr("backoffice.jobs.progress.PROGRESS_INTERVAL", 0)


@pytest.fixture
def staff(db):
    def build(*, view_all: bool = False) -> User:
        user = User.objects.create_user(f"jobstaff{next(_counter)}", password="pw", is_staff=True)
        if view_all:
            user.user_permissions.add(Permission.objects.get(codename="view_all_jobs"))
        return user

    return build


@pytest.fixture
def make_job(db):
    """Create a Job row straight in the database (test set-up, not a business path)."""

    def build(owner: User, **fields) -> Job:
        fields.setdefault("kind", tests.jobs.kinds.COUNT)
        fields.setdefault("params", {"n": 3})
        return Job.objects.create(owner=owner, **fields)

    return build
