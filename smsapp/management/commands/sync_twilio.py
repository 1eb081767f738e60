from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser

from smsapp.services import sync
from smsapp.twilio_gateway import TwilioError


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since must be a date such as 2026-01-31 (got {value!r}).") from None


class Command(BaseCommand):
    help = (
        "Mirror the Twilio account's phone numbers and messages (with media metadata) into "
        "the database. Incremental by default: starts two days before the newest mirrored "
        "message, or before the last finished sync if that is earlier (so pages a failed run "
        "missed are read). Safe to re-run; refused while another sync runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--full", action="store_true", help="Re-read every message.")
        group.add_argument("--since", type=str, help="Read messages sent on or after DATE.")

    def handle(self, *args, full: bool, since: str | None, **options) -> None:
        start = _date(since) if since else None
        pages_done = 0

        def progress(page: int, size: int, result: sync.SyncResult) -> None:
            nonlocal pages_done
            pages_done = page
            self.stdout.write(f"page {page}: {size} messages ({result.messages})")

        try:
            result = sync.sync_all(full=full, since=start, on_page=progress)
        except sync.SyncAlreadyRunning as running:
            started = f" (asked for at {running.run.started_at:%H:%M} UTC)" if running.run else ""
            raise CommandError(
                f"A sync is already running{started}; wait for it to finish, then run this "
                "again. Only one sync runs at a time, across every server."
            ) from None
        except TwilioError as exc:
            kept = (
                f" The {pages_done} page(s) already read were kept; run the command again "
                "to continue."
                if pages_done
                else " No message page was read."
            )
            raise CommandError(f"Sync stopped: {exc.message}{kept}") from exc

        scope = f"since {result.since}" if result.since else "all messages"
        self.stdout.write(
            self.style.SUCCESS(
                f"Synced {scope} in {result.pages} pages.\n"
                f"  phones:   {result.phones}\n"
                f"  messages: {result.messages}\n"
                f"  media:    {result.media}"
            )
        )
