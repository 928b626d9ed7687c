"""Each logged event is printed once (Django's own console handler used to print it again)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent(
    """
    import logging, sys, types
    import django
    django.setup()
    from django.core.exceptions import PermissionDenied
    from django.test import Client, override_settings
    from django.urls import path
    from backoffice.urls import urlpatterns

    def denied(request):
        raise PermissionDenied("not for you")

    urls = types.ModuleType("walk_denied_urls")
    urls.urlpatterns = [path("denied/", denied), *urlpatterns]
    sys.modules["walk_denied_urls"] = urls
    with override_settings(ROOT_URLCONF="walk_denied_urls", ALLOWED_HOSTS=["testserver"]):
        assert Client().get("/denied/").status_code == 403
    logging.getLogger("django.utils.autoreload").info("Watching for file changes with StatReloader")
    logging.getLogger("customers.services.emailing").warning("mail server down")
    """
)


def test_a_403_and_the_reloader_banner_are_logged_once():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backoffice.settings",
        "DJANGO_DEBUG": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_LOG_LEVEL", None)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    log = result.stderr.splitlines()
    assert log.count("Forbidden (Permission denied): /denied/") == 1, result.stderr
    assert sum(line.startswith("Traceback") for line in log) == 1, result.stderr
    assert log.count("Watching for file changes with StatReloader") == 1, result.stderr
    assert log.count("mail server down") == 1, result.stderr
