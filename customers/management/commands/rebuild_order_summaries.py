"""Recompute every customer's order summary (count, total spent, last order) from the orders."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from customers.services.order_summary import rebuild_order_summaries


class Command(BaseCommand):
    help = (
        "Recompute every customer's order summary from their orders: after restoring orders "
        "from a backup, or to check that the kept summaries equal the orders."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        count = rebuild_order_summaries()
        self.stdout.write(
            f"Rebuilt the order summary of {count} customers in {time.monotonic() - started:.1f} s."
        )
