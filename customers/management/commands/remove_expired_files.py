"""remove_expired_files: delete import uploads and export files past their retention time."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from customers.uploads import private_files_remove_expired


class Command(BaseCommand):
    help = (
        "Delete the admin import uploads and reports older than a day and the export files "
        "older than BACKOFFICE_EXPORT_RETENTION_HOURS (they hold personal data). Run it "
        "hourly (cron or a systemd timer)."
    )

    def handle(self, *args, **options):
        removed = private_files_remove_expired()
        for kind, names in removed.items():
            self.stdout.write(f"{kind}: {', '.join(names) if names else '-'}")
