"""Carry out the erasure requests whose hold period has passed, and remove the import working
files older than their retention. Safe to run from cron (hourly keeps the retention close)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand

from customers.services.importing.files import import_retention, imports_remove_expired
from customers.services.privacy import (
    COMMAND_ACTOR,
    customers_process_erasure,
    deleted_customers_redact,
)


class Command(BaseCommand):
    help = (
        "Erase the personal data of customers whose erasure was requested and whose last order "
        "is older than BACKOFFICE_ERASURE_HOLD_DAYS, and remove the import working files older "
        "than BACKOFFICE_IMPORT_RETENTION_HOURS. Idempotent; two runs at once do not erase "
        "anyone twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List what would be erased and who still waits; change nothing.",
        )

    def handle(self, *args, dry_run: bool = False, verbosity: int = 1, **options):
        # Output names customers by id only: cron logs must not hold the data being erased.
        run = customers_process_erasure(actor=COMMAND_ACTOR, dry_run=dry_run)
        if verbosity >= 2 or dry_run:
            verb = "would erase" if dry_run else "due"
            for pk in run.due:
                self.stdout.write(f"customer #{pk}: {verb}")
            for pk, when in run.waiting:
                until = when.astimezone(datetime.UTC)
                self.stdout.write(f"customer #{pk}: waits until {until:%Y-%m-%d %H:%M} UTC")
        hold = settings.BACKOFFICE_ERASURE_HOLD_DAYS
        if dry_run:
            self.stdout.write(
                f"Dry run: {len(run.due)} customer(s) would be erased, "
                f"{len(run.waiting)} wait for the {hold}-day hold after their last order."
            )
            return
        self.stdout.write(
            f"Erased {len(run.erased)} customer(s); {len(run.waiting)} wait for the "
            f"{hold}-day hold after their last order."
        )
        scrubbed = deleted_customers_redact()
        if scrubbed:
            self.stdout.write(f"Scrubbed the history of {scrubbed} deleted customer(s).")
        removed = imports_remove_expired()
        hours = import_retention().total_seconds() / 3600
        self.stdout.write(f"Removed {len(removed)} import folder(s) older than {hours:g} hours.")
        skipped = len(run.due) - len(run.erased)
        if skipped:
            self.stdout.write(
                f"{skipped} due customer(s) skipped: cancelled meanwhile, a new order, "
                "or being erased by another run."
            )
