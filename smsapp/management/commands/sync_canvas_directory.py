from django.core.management.base import BaseCommand, CommandError, CommandParser

from smsapp import canvas_gateway
from smsapp.lib import canvas_contract as contract
from smsapp.services import directory


class Command(BaseCommand):
    help = (
        "Read the whole patient directory from the Canvas plugin (GET directory on "
        "CANVAS_INSTANCE_URL, page by page): every patient's name and mobile numbers, and "
        "which ones the chart says opted out. Run once after installing the plugin; the "
        "plugin keeps it current afterwards. Safe to re-run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--page-size",
            type=int,
            default=200,
            help=f"Patients per page (1 to {contract.PAGE_LIMIT}, default 200).",
        )

    def handle(self, *args, page_size: int, **options) -> None:
        if not 1 <= page_size <= contract.PAGE_LIMIT:
            raise CommandError(f"--page-size must be between 1 and {contract.PAGE_LIMIT}.")
        if not canvas_gateway.is_configured():
            raise CommandError(
                "Set CANVAS_INSTANCE_URL (your Canvas address) and CANVAS_LAUNCH_KEY (the "
                "plugin's SMS_LAUNCH_KEY) first."
            )
        pages = 0

        def progress(size: int, total: int) -> None:
            nonlocal pages
            pages += 1
            self.stdout.write(f"page {pages}: {size} patients ({total} stored so far)")

        try:
            total = directory.sync(limit=page_size, on_page=progress)
        except (canvas_gateway.CanvasError, contract.ContractError) as error:
            kept = f" The {pages} page(s) read were kept; run it again." if pages else ""
            raise CommandError(f"Directory sync stopped: {error}{kept}") from None
        self.stdout.write(self.style.SUCCESS(f"Stored {total} patients in {pages} pages."))
