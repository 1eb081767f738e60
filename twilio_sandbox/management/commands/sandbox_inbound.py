from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from smsapp import twilio_gateway
from twilio_sandbox import engine
from twilio_sandbox.simulate import simulate_and_mirror


class Command(BaseCommand):
    help = (
        "Sandbox mode: a patient texts one of the sandbox's numbers. The message reaches the "
        "running app through its real inbound webhook, and the auto-reply comes back into "
        "the conversation. The app and its worker must be running (make run)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("body", help="What the patient writes.")
        parser.add_argument("--from", dest="from_", default="+14155550101", help="Patient.")
        parser.add_argument("--to", default="+15005550006", help="The clinic's number.")
        parser.add_argument("--media", type=int, default=0, help="Pictures to attach (MMS).")

    def handle(self, *args, body: str, from_: str, to: str, media: int, **options) -> None:
        if not settings.TWILIO_SANDBOX:
            raise CommandError("The sandbox is off: unset the Twilio settings or TWILIO_SANDBOX.")
        try:
            result = simulate_and_mirror(from_=from_, to=to, body=body, media=media)
        except engine.SandboxError as exc:
            raise CommandError(exc.message) from exc
        except twilio_gateway.TwilioError as exc:
            running = f"Is the app running at {settings.SANDBOX_BASE_URL}?"
            raise CommandError(f"{exc.message} {running}") from exc
        except OSError as exc:  # requests' connection errors are OSErrors
            raise CommandError(
                f"Could not reach the app at {settings.SANDBOX_BASE_URL} ({exc}); start it "
                "with `make run`."
            ) from exc
        self.stdout.write(f"{from_} texted {to}: {result['inbound']}")
        for sid in result["replies"]:
            self.stdout.write(f"auto-reply {sid} (its delivery reports come from the worker)")
