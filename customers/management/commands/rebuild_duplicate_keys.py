"""Recompute every customer's duplicate keys (email, phone, address keys) from their rows."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from customers.services.duplicate_keys import rebuild_duplicate_keys


class Command(BaseCommand):
    help = (
        "Recompute the duplicate keys of every customer from their email, phone and addresses: "
        "after restoring customers from a backup or writing to them outside the back office."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        count = rebuild_duplicate_keys()
        elapsed = time.monotonic() - started
        self.stdout.write(f"Rebuilt the duplicate keys of {count} customers in {elapsed:.1f} s.")
