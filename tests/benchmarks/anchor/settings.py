"""The back office's settings plus the anchor app (benchmarks only)."""

from backoffice.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.benchmarks.anchor"]  # noqa: F405
