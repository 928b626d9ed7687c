"""The admin import's two jobs: check an upload (the preview), then import it (the confirm).

Thin adapters over :func:`customers.services.importing.customers_import`: they read the stored
upload (customers/uploads.py), write each record's report next to it, report progress between
batches and stop at the next batch when cancel is asked. The pages that start them and show
their result are in customers/admin/import_export.py.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from backoffice.jobs.models import Job
from backoffice.jobs.progress import PROGRESS_INTERVAL
from backoffice.jobs.registry import JobCancelled
from customers.services.importing import (
    ImportFileError,
    customers_import,
    default_workers,
)
from customers.uploads import PrivateImportStorage, ReportWriter, import_summary

IMPORT_PREVIEW = "customers.import_preview"
IMPORT_CONFIRM = "customers.import_confirm"
# Records per batch in the jobs: a batch's transaction is as long as a clerk's save may wait
# (half the command's batch; a handful of queries more per 100,000 records).
BATCH_SIZE = 1000

UPLOAD_GONE = _("This upload has expired or was already imported; upload the file again.")


def _message_checked(count: int) -> str:
    return ngettext("%(count)s record checked", "%(count)s records checked", count) % {
        "count": count
    }


def _message_imported(count: int) -> str:
    return ngettext("%(count)s record imported", "%(count)s records imported", count) % {
        "count": count
    }


def _stopped_after(count: int) -> str:
    return ngettext(
        "%(count)s record had been imported before it stopped.",
        "%(count)s records had been imported before it stopped.",
        count,
    ) % {"count": count}


class _Tracker:
    """Feeds the engine's progress between batches and answers the import's "stop now?".

    Progress is the share of the file's bytes read (done / 100). ``writes=False`` is for an
    import in one transaction: the job row must not be written from inside it (the progress page
    and the reaper would wait on that row until the end), so only the cancel flag is read.
    """

    def __init__(self, job, progress, *, size: int, writer: ReportWriter, words, writes: bool):
        self.job = job
        self.progress = progress
        self.size = max(size, 1)
        self.writer = writer
        self.words = words
        self.writes = writes
        self.done = 0
        self.stopped = False
        self._last_read = time.monotonic()

    @property
    def message(self) -> str:
        return self.words(self.writer.records)

    def moved(self, position: int) -> None:
        self.done = min(100, position * 100 // self.size)

    def should_stop(self) -> bool:
        if self.writes:
            try:
                self.progress(self.done, total=100, message=self.message)
            except JobCancelled:
                self.stopped = True
        elif time.monotonic() - self._last_read >= self.progress.interval:
            self._last_read = time.monotonic()
            self.stopped = Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
        return self.stopped


@contextlib.contextmanager
def _heartbeat(job, tracker: _Tracker):
    """Keep the job's heartbeat and progress fresh from a second connection while one long
    transaction holds the first (an all-or-nothing import on PostgreSQL in a worker).

    SQLite's write lock would block the second connection anyway; inside a test's transaction
    the row is not visible to it: both run without.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(PROGRESS_INTERVAL):
                Job.objects.filter(pk=job.pk).update(
                    done=tracker.done,
                    total=100,
                    message=tracker.message,
                    heartbeat_at=timezone.now(),
                )
        finally:
            connections.close_all()  # this thread's connection only

    thread = threading.Thread(target=beat, name=f"job-{job.pk}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _upload(job) -> tuple[PrivateImportStorage, dict]:
    storage = PrivateImportStorage(job.params["token"])
    meta = storage.meta()
    if meta is None:
        raise ValidationError(UPLOAD_GONE, code="upload_gone")
    return storage, meta


def _import_options(meta: dict) -> dict:
    # The hook for steps between upload and preview (a column mapping): what they add to the
    # upload's metadata reaches the importer as it is.
    return {"mapping": meta["mapping"]} if "mapping" in meta else {}


def import_preview_job(job, progress) -> dict:
    """Check the upload as a dry run, batch by batch (no lock held across the file)."""
    storage, meta = _upload(job)
    token = job.params["token"]
    job.result_url = reverse("admin:customers_customer_import_preview", args=[token])
    writer = ReportWriter(storage.report_path("preview"))
    path = storage.get_full_path()
    tracker = _Tracker(
        job,
        progress,
        size=os.path.getsize(path),
        writer=writer,
        words=_message_checked,
        writes=True,
    )
    try:
        with storage.open() as source:
            result = customers_import(
                actor=job.owner,
                source=source,
                filename=meta["name"],
                dry_run=True,
                per_batch=True,
                all_or_nothing=meta["all_or_nothing"],
                on_row=writer,
                on_progress=tracker.moved,
                should_stop=tracker.should_stop,
                workers=default_workers(),
                batch_size=BATCH_SIZE,
                **_import_options(meta),
            )
    except ImportFileError:
        storage.remove()  # a file that cannot be imported is not kept
        raise
    finally:
        writer.close()
    summary = import_summary(result)
    if tracker.stopped:
        raise JobCancelled(summary={**summary, "cancelled": True})
    return summary


def import_confirm_job(job, progress) -> dict:
    """Import the upload once: batch by batch, or in one transaction for all-or-nothing."""
    storage, meta = _upload(job)
    job.result_url = reverse("admin:customers_customer_import_result", args=[job.params["token"]])
    claimed = storage.claim()
    if claimed is None:
        raise ValidationError(UPLOAD_GONE, code="upload_gone")
    one_transaction = meta["all_or_nothing"]
    writer = ReportWriter(storage.report_path("result"))
    tracker = _Tracker(
        job,
        progress,
        size=os.path.getsize(claimed),
        writer=writer,
        words=_message_imported,
        writes=not one_transaction,
    )
    try:
        beating = _heartbeat(job, tracker) if one_transaction else contextlib.nullcontext()
        with beating, claimed.open("rb") as source:
            result = customers_import(
                actor=job.owner,
                source=source,
                filename=meta["name"],
                all_or_nothing=one_transaction,
                on_row=writer,
                on_progress=tracker.moved,
                should_stop=tracker.should_stop,
                workers=default_workers(),
                batch_size=BATCH_SIZE,
                **_import_options(meta),
            )
    except ImportFileError as error:
        if one_transaction or not writer.imported:
            raise
        # The batches before the error are committed: say so, not only what went wrong.
        raise ValidationError(
            " ".join([*error.messages, _stopped_after(writer.imported)]), code=error.code
        ) from error
    finally:
        writer.close()
        claimed.unlink(missing_ok=True)  # the upload is gone once imported
    summary = import_summary(result)
    if tracker.stopped:
        raise JobCancelled(summary={**summary, "cancelled": True})
    return summary
