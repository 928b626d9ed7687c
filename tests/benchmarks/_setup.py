"""Set up Django for a benchmark run against a throwaway database."""

from __future__ import annotations

import os
import tempfile


def setup_django(db_name: str) -> None:
    """Point Django at a fresh SQLite file, or at a benchmark database on DATABASE_URL's server."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        base, _, _ = url.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
            conn.execute(f'CREATE DATABASE "{db_name}"')
        os.environ["DATABASE_URL"] = f"{base}/{db_name}"
    else:
        path = os.path.join(tempfile.mkdtemp(prefix="bench-"), f"{db_name}.sqlite3")
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def time_pages(client, pages, *, repeat: int, width: int = 28) -> None:
    """GET each (label, url) ``repeat`` times; print its query count and median server time."""
    import statistics
    import time

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for label, url in pages:
        times = []
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - t0)
            assert response.status_code == 200, (url, response.status_code)
        print(
            f"  {label:{width}s} queries={len(ctx.captured_queries):5d}  "
            f"median={statistics.median(times) * 1000:6.0f} ms  max={max(times) * 1000:6.0f} ms"
        )


def staff_client(user):
    """A test client signed in as ``user``, second factor included."""
    from django.test import Client

    from tests.backoffice.helpers import mark_second_factor_passed

    client = Client()
    client.force_login(user)
    mark_second_factor_passed(client, user)
    return client
