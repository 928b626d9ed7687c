"""Run a real `manage.py db_worker` process against the test database (for any app's tests).

    with running_worker(tmp_path) as worker:
        ...  # jobs started now (committed: use transactional_db) are run by `worker.process`

`python -m tests.jobs.worker [db_worker options]` is the process itself: it registers the test job
kinds, then runs the project's `db_worker` command exactly as production does.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_env(**extra: str) -> dict[str, str]:
    """Return an environment naming the test database and private folder this process uses."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PYTHONUNBUFFERED": "1",
        # The test's private folder (each test has its own): the worker reads its uploads there.
        "BACKOFFICE_PRIVATE_ROOT": str(settings.PRIVATE_UPLOAD_ROOT),
        **extra,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


@contextlib.contextmanager
def running_worker(log_dir: Path, **env: str):
    """Start a worker process on the test database; kill it (and wait for it) on exit."""
    log = (log_dir / "worker.log").open("w", encoding="utf-8")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tests.jobs.worker"],
        cwd=ROOT,
        env=database_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    except BaseException:
        # Show what the worker said next to the failure (pytest prints captured output).
        log.flush()
        print((log_dir / "worker.log").read_text(encoding="utf-8"))
        raise
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        log.close()


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    import django

    django.setup()
    from django.core.management import call_command

    import tests.jobs.kinds  # noqa: F401 - registers the test job kinds in this process

    call_command("db_worker", "--no-startup-delay", "--interval=0.1", "--no-reload", *sys.argv[1:])
