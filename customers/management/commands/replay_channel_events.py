"""Replay recorded webhook deliveries (JSON lines) into a connection's inbox, then process them."""

from __future__ import annotations

import json
import uuid

from django.core.management.base import BaseCommand, CommandError

from customers.channels.tasks import channel_events_kick
from customers.models import ChannelConnection
from customers.services.channel_events import channel_event_process, channel_event_store


class Command(BaseCommand):
    help = (
        "Replay recorded channel events. FILE holds one JSON object per line: "
        '{"topic": ..., "headers": {...}, "body": {...} or "raw text"}. A line without '
        "X-Shopify-Webhook-Id gets a fresh one; a webhook id already stored is skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--connection", required=True, help="connection name")
        parser.add_argument(
            "--store-only", action="store_true", help="store in the inbox; the workers apply them"
        )

    def handle(self, *args, file, connection, store_only, **options):
        try:
            conn = ChannelConnection.objects.get(name=connection)
        except ChannelConnection.DoesNotExist as exc:
            raise CommandError(f"no connection named {connection!r}") from exc
        stored = skipped = 0
        states: dict[str, int] = {}
        with open(file, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    body = record["body"]
                except (ValueError, KeyError) as exc:
                    raise CommandError(f"line {number}: {exc}") from exc
                headers = dict(record.get("headers") or {})
                webhook_id = headers.setdefault("X-Shopify-Webhook-Id", str(uuid.uuid4()))
                result = channel_event_store(
                    connection_id=conn.pk,
                    topic=record.get("topic") or headers.get("X-Shopify-Topic", ""),
                    webhook_id=webhook_id,
                    body=body if isinstance(body, str) else json.dumps(body),
                    headers=headers,
                )
                if not result.created:
                    skipped += 1
                    continue
                stored += 1
                if not store_only:
                    state = channel_event_process(event_id=result.event.pk) or "not pending"
                    states[state] = states.get(state, 0) + 1
        if store_only and stored:
            channel_events_kick()
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(states.items()))
        self.stdout.write(
            f"stored {stored}, already stored {skipped}" + (f"; {summary}" if summary else "")
        )
