"""import_customers: import customer files (Shopify, Ecwid, ShipStation, our export, any mapped)."""

from __future__ import annotations

import json
import os
import sys

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.services.importing import (
    ImportFileError,
    ImportResult,
    customers_import,
    default_workers,
    describe,
)
from customers.services.importing.formats import MAPPING_FIELDS, MAPPING_IGNORE
from customers.services.importing.mapping import (
    MappingChoice,
    import_mapping_save,
    mapping_saved_for,
    mapping_suggest,
)
from customers.services.importing.reading import file_sample

ACTOR = "import_customers"
UNKNOWN_HINT = gettext_lazy(
    "Map its columns with --mapping suggested (the suggestions: %(suggested)s), --mapping "
    'FILE.json holding {"column": "field"}, --mapping NAME of a saved mapping, or '
    "--map COLUMN=FIELD. Fields: %(fields)s."
)
SAVED_HINT = gettext_lazy("A mapping is saved for this header: --mapping %(name)s.")
MAP_INVALID = gettext_lazy("--map takes COLUMN=FIELD, not %(value)s.")
EXIT_OK, EXIT_FAILED, EXIT_SOME_REJECTED = 0, 2, 3


class Command(BaseCommand):
    help = (
        "Import customer files (CSV or .xlsx) in the order given, each as its own run. A file of "
        "no known format (Shopify, Ecwid, ShipStation, this back office's export) needs a column "
        "mapping: --mapping suggested, --mapping FILE.json, --mapping NAME, or --map options. "
        "Exit status: 0 when no record was rejected, 3 when some were rejected and the rest "
        "imported, 2 when a file could not be imported at all."
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
        parser.add_argument(
            "--mapping",
            metavar="NAME|FILE.json|suggested",
            help=(
                "Read the files through a column mapping: the name of a mapping saved in the "
                'admin, a JSON file {"column": "field"} ("ignore" skips a column), or '
                '"suggested" for the suggestions from the column names. Fields: '
                + ", ".join([*MAPPING_FIELDS, MAPPING_IGNORE])
                + "."
            ),
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help="Map one column (repeatable); on top of --mapping, else the only columns read.",
        )
        parser.add_argument(
            "--save-mapping",
            metavar="NAME",
            help="Save the mapping used under NAME, for the admin and later runs.",
        )

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
                mapping = self.mapping_for(source, options)
                return customers_import(
                    actor=ACTOR,
                    source=source,
                    filename=name,
                    dry_run=options["dry_run"],
                    all_or_nothing=options["all_or_nothing"],
                    on_progress=progress,
                    workers=default_workers(),
                    mapping=mapping,
                )
            except ImportFileError as exc:
                fatal = " ".join(exc.messages)
                if exc.code == "unknown_header":
                    fatal = f"{fatal} {self.unknown_hint(source)}"
                return ImportResult(file=name, fatal=fatal)
            finally:
                if progress:
                    self.stderr.write("")

    def mapping_for(self, source, options) -> dict[str, str] | None:
        """The mapping --mapping and --map ask for this file (None: its format is known)."""
        if not options["mapping"] and not options["map"]:
            return None
        names, _samples = file_sample(source, rows=1)
        mapping = MappingChoice(options["mapping"]).resolve(names) if options["mapping"] else {}
        for item in options["map"]:
            column, sep, target = item.partition("=")
            if not sep:
                raise ImportFileError(MAP_INVALID, code="map_option", params={"value": item})
            mapping[column.strip()] = target.strip()
        if options["save_mapping"]:
            import_mapping_save(
                actor=None, name=options["save_mapping"], names=names, columns=mapping
            )
        return mapping

    def unknown_hint(self, source) -> str:
        """How to map a file of unknown header, with what --mapping suggested would do."""
        names, _samples = file_sample(source, rows=1)
        saved = mapping_saved_for(names)
        if saved is not None:
            return SAVED_HINT % {"name": saved.name}
        suggested = ", ".join(f"{c}={t}" for c, t in mapping_suggest(names).items())
        fields = ", ".join([*MAPPING_FIELDS, MAPPING_IGNORE])
        return UNKNOWN_HINT % {"suggested": suggested, "fields": fields}

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
