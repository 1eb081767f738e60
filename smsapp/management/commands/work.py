import logging

from django.core.management.base import BaseCommand, CommandParser

from smsapp.worker import Worker


class Command(BaseCommand):
    help = (
        "Work the task queue: run jobs as they become due (sends, syncs, media fetches, "
        "purges) and enqueue the periodic ones. Run one or more on each machine; each job "
        "runs once. --once works what is due now and exits (for cron and tests)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Work what is due, then exit.")
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds between looks at the queue."
        )

    def handle(self, *args, once: bool, interval: float, verbosity: int, **options) -> None:
        # The library says "no more tasks" each time the queue runs dry: noise at -v1.
        quiet = logging.DEBUG if verbosity > 1 else logging.WARNING
        logging.getLogger("django_tasks_db").setLevel(quiet)
        worker = Worker(once=once, interval=interval)
        if not once:
            worker.configure_signals()  # Ctrl-C and SIGTERM finish the current job first
            self.stdout.write(f"Working the queue as {worker.worker_id} (Ctrl-C stops).")
        worker.run()
