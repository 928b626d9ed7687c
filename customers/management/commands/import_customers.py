"""import_customers: import customer CSV files (Shopify, Ecwid, ShipStation, our export)."""

from __future__ import annotations

import json
import os
import sys

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from customers.services.importing import (
    ImportFileError,
    ImportResult,
    customers_import,
    default_workers,
    describe,
)

ACTOR = "import_customers"
EXIT_OK, EXIT_FAILED, EXIT_SOME_REJECTED = 0, 2, 3


class Command(BaseCommand):
    help = (
        "Import customer CSV files in the order given, each as its own run. Exit status: 0 when "
        "no record was rejected, 3 when some were rejected and the rest imported, 2 when a file "
        "could not be imported at all."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and report; write nothing."
        )
        parser.add_argument(
            "--all-or-nothing",
            action="store_true",
            help="Reject the whole file if any record has an error.",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object per file.")

    def handle(self, *args, **options):
        status = EXIT_OK
        for path in options["files"]:
            result = self.import_one(path, options)
            if result.fatal or (result.all_or_nothing and result.errors):
                status = EXIT_FAILED
            elif result.errors and status == EXIT_OK:
                status = EXIT_SOME_REJECTED
            self.print_result(result, options["json"])
        if status != EXIT_OK:
            sys.exit(status)

    def import_one(self, path: str, options) -> ImportResult:
        name = os.path.basename(path)
        try:
            source = open(path, "rb")  # noqa: SIM115 - closed below, after the run
        except OSError as exc:
            return ImportResult(file=name, fatal=_("Cannot open the file: %s") % exc.strerror)
        with source:
            progress = self.progress_bar(source)
            try:
                return customers_import(
                    actor=ACTOR,
                    source=source,
                    filename=name,
                    dry_run=options["dry_run"],
                    all_or_nothing=options["all_or_nothing"],
                    on_progress=progress,
                    workers=default_workers(),
                )
            except ImportFileError as exc:
                return ImportResult(file=name, fatal=" ".join(exc.messages))
            finally:
                if progress:
                    self.stderr.write("")

    def progress_bar(self, source):
        """Return a callback drawing a bar on stderr, or None when stderr is not a terminal."""
        if not self.stderr.isatty():
            return None
        total = os.fstat(source.fileno()).st_size or 1
        stream = self.stderr

        def draw(done: int) -> None:
            share = min(done / total, 1.0)
            filled = int(share * 40)
            stream.write(f"\r[{'#' * filled}{'.' * (40 - filled)}] {share:4.0%}", ending="")
            stream.flush()

        return draw

    def print_result(self, result: ImportResult, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(result.as_json(), ensure_ascii=False))
            return
        if result.fatal:
            self.stderr.write(f"{result.file}: {result.fatal}")
            return
        self.stdout.write(f"{result.file} ({result.format}): {describe(result)}")
        if result.dry_run:
            self.stdout.write(_("Dry run: nothing was written."))
        elif result.all_or_nothing and result.errors:
            self.stdout.write(_("All or nothing: nothing was written."))
        for warning in result.warnings:
            self.stdout.write(warning)
        for error in result.errors:
            self.stderr.write(
                _("Record %(record)s: %(message)s")
                % {"record": error.record, "message": error.message}
            )
