"""export_customers: write customers as CSV, the same export as the admin's."""

from __future__ import annotations

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from customers.models import ExportOrigin
from customers.services.exporting import (
    ALL_HEADERS,
    customers_export_lines,
    customers_exportable,
    export_check,
    export_selection,
)

ACTOR = "export_customers"


class Command(BaseCommand):
    help = (
        "Export customers (all but merged and erased ones) as CSV: Shopify's columns plus the "
        "back office's own. Spreadsheet formulas are neutralised with a leading apostrophe."
    )

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", metavar="FILE", help="Write here, not to stdout.")
        parser.add_argument("--delimiter", default=",", help="',' (default) or ';'.")
        parser.add_argument(
            "--columns",
            nargs="+",
            metavar="COLUMN",
            help="Columns to write, by header name (default: all). Known: "
            + ", ".join(ALL_HEADERS),
        )

    def handle(self, *args, **options):
        columns = options["columns"] or ALL_HEADERS
        if len(columns) == 1 and "," in columns[0]:
            columns = [name.strip() for name in columns[0].split(",")]
        try:
            export_check(columns=columns, delimiter=options["delimiter"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        lines = customers_export_lines(
            queryset=customers_exportable(),
            columns=columns,
            delimiter=options["delimiter"],
            actor=ACTOR,
            origin=ExportOrigin.COMMAND,
            selection=export_selection(scope="all"),
        )
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as out:
                out.writelines(lines)
        else:
            sys.stdout.writelines(lines)
            sys.stdout.flush()
