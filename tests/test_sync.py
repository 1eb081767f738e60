"""`manage.py sync_twilio` against a Twilio account mocked at the HTTP layer: the real SDK
pages through it, smsapp.services.sync writes the mirror."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command, execute_from_command_line
from twilio.rest.api.v2010.account.message import MessageInstance

from smsapp import twilio_gateway
from smsapp.models import Media, Message, Phone, SyncRun
from smsapp.services import mirror, sync
from smsapp.twilio_gateway import rest
from tests import twilio_payloads as tw
from tests.factories import MediaFactory, MessageFactory, PhoneFactory

pytestmark = pytest.mark.django_db


class Account:
    """A Twilio account as the mocks serve it: phones, messages (newest first) and media."""

    def __init__(self, rsps, *, phones=(), messages=(), media=None, page_size=1000, errors=None):
        self.rsps = rsps
        self.phones = tw.add_paged_list(
            rsps, "IncomingPhoneNumbers.json", "incoming_phone_numbers", [list(phones)]
        )
        self.messages = tw.add_paged_list(
            rsps,
            "Messages.json",
            "messages",
            tw.split_pages(list(messages), page_size),
            errors=errors,
        )
        self.media = {
            sid: tw.add_paged_list(rsps, f"Messages/{sid}/Media.json", "media_list", [items])
            for sid, items in (media or {}).items()
        }

    def media_calls(self) -> int:
        return sum(served.pages_served for served in self.media.values())


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("sync_twilio", *args, stdout=out)
    return out.getvalue()


def mms(n: int, count: int = 1) -> tuple[dict, list[dict]]:
    """Message `n` carrying `count` pictures, and its media records."""
    message = tw.message_json(n, num_media=count)
    sid = message["sid"]
    return message, [tw.media_json(sid, n * 10 + i) for i in range(count)]


def snapshot() -> list[dict]:
    return list(Message.objects.order_by("sid").values())


def newest_first(messages: list[dict]) -> list[dict]:
    return sorted(messages, key=lambda m: int(m["sid"][2:], 16), reverse=True)


@pytest.fixture
def big_account(mocked_twilio):
    """2,500 messages (1000/1000/500 per page), five of them MMS, and two numbers."""
    messages = [tw.message_json(n) for n in range(2500)]
    media = {}
    for n in (7, 1200, 1201, 2300, 2499):
        messages[n], items = mms(n, count=2 if n == 1200 else 1)
        media[messages[n]["sid"]] = items
    return Account(
        mocked_twilio,
        phones=[tw.phone_json(1), tw.phone_json(2)],
        messages=newest_first(messages),
        media=media,
    )


def test_a_fresh_sync_mirrors_every_page(big_account):
    output = run()

    assert Message.objects.count() == 2500
    assert Phone.objects.count() == 2
    assert Media.objects.count() == 6
    assert big_account.messages.pages_served == 3
    assert "DateSent>" not in big_account.messages.requests[0]  # empty mirror: everything
    assert big_account.media_calls() == 5  # one Media list per MMS
    message = Message.objects.get(sid=tw.message_sid(1234))
    assert (message.from_number, message.to_number, message.body, message.status) == (
        "+14155550100",
        "+14155550199",
        "Message number 1234",
        "delivered",
    )
    assert message.date_created == tw.BASE_TIME + timedelta(minutes=1234)
    assert message.price == "-0.00790"
    assert set(
        Media.objects.filter(message__sid=tw.message_sid(1200)).values_list("sid", flat=True)
    ) == {tw.media_sid(12000), tw.media_sid(12001)}
    lines = output.splitlines()
    assert lines[:3] == [
        "page 1: 1000 messages (1000 created, 0 updated, 0 unchanged)",
        "page 2: 1000 messages (2000 created, 0 updated, 0 unchanged)",
        "page 3: 500 messages (2500 created, 0 updated, 0 unchanged)",
    ]
    assert lines[3:] == [
        "Synced all messages in 3 pages.",
        "  phones:   2 created, 0 updated, 0 unchanged",
        "  messages: 2500 created, 0 updated, 0 unchanged",
        "  media:    6 created, 0 updated, 0 unchanged",
    ]


def test_a_re_run_changes_nothing(big_account):
    run()
    before = snapshot()
    media_before = list(Media.objects.order_by("sid").values())

    output = run("--full")

    assert snapshot() == before
    assert list(Media.objects.order_by("sid").values()) == media_before
    assert big_account.media_calls() == 5  # none on the re-run: all media are mirrored
    assert "  phones:   0 created, 0 updated, 2 unchanged" in output
    assert "  messages: 0 created, 0 updated, 2500 unchanged" in output
    assert "  media:    0 created, 0 updated, 0 unchanged" in output


def test_an_incremental_run_starts_two_days_before_the_newest_message(mocked_twilio):
    newest = tw.message_json(5000, status="sent")  # sent 2026-11-04 23:20:02
    old = tw.message_json(10)
    run_first = Account(mocked_twilio, messages=[newest, old])
    run("--full")
    assert run_first.messages.requests[0].get("DateSent>") is None
    mocked_twilio.reset()

    arrived = tw.message_json(5100, direction="inbound", status="received")
    delivered = tw.message_json(5000, status="delivered")
    account = Account(mocked_twilio, messages=[arrived, delivered])
    output = run()

    assert account.messages.requests[0]["DateSent>"] == "2026-11-02T00:00:00Z"
    assert "Synced since 2026-11-02 in 1 pages." in output
    assert "  messages: 1 created, 1 updated, 0 unchanged" in output
    assert Message.objects.get(sid=arrived["sid"]).direction == "inbound"
    assert Message.objects.get(sid=delivered["sid"]).status == "delivered"


def finished_sync(started_at) -> SyncRun:
    return SyncRun.objects.create(started_at=started_at, finished_at=started_at)


def test_the_incremental_start_is_the_newest_date_sent_minus_the_overlap():
    finished_sync(tw.BASE_TIME + timedelta(days=20))
    MessageFactory(date_created=tw.BASE_TIME)
    newest = MessageFactory(date_created=tw.BASE_TIME + timedelta(days=9, hours=22))
    MessageFactory(date_created=tw.BASE_TIME + timedelta(days=30), date_sent=None)  # queued

    assert sync.incremental_start() == (newest.date_sent - timedelta(days=2)).date()


def test_without_a_finished_sync_everything_is_read():
    """Messages stored by webhooks are not proof that the account was ever read."""
    MessageFactory()
    SyncRun.objects.create(error="Twilio credentials were refused.")

    assert sync.incremental_start() is None


def test_messages_stored_since_the_last_sync_do_not_move_the_start_forward():
    finished_sync(tw.BASE_TIME + timedelta(days=3, hours=6))
    MessageFactory(date_created=tw.BASE_TIME)
    MessageFactory(date_created=tw.BASE_TIME + timedelta(days=9))  # from a webhook, later

    assert sync.incremental_start() == (tw.BASE_TIME + timedelta(days=1)).date()


def test_after_a_failed_run_the_next_one_rereads_what_it_missed(mocked_twilio):
    """Page 1 of a failed run holds the newest messages; the older pages it never read
    must be read by the next incremental run, not skipped."""
    finished_sync(tw.BASE_TIME)
    messages = newest_first([tw.message_json(n) for n in range(1500)])
    broken = (400, tw.error_json(20001, 400, "Invalid PageToken."))
    Account(mocked_twilio, messages=messages, errors={1: [broken]})
    with pytest.raises(CommandError):
        run()
    mocked_twilio.reset()

    account = Account(mocked_twilio, messages=messages)
    output = run()

    assert account.messages.requests[0]["DateSent>"] == "2026-10-30T00:00:00Z"
    assert "  messages: 500 created, 0 updated, 1000 unchanged" in output
    assert Message.objects.count() == 1500


def test_every_run_is_recorded(mocked_twilio):
    Account(mocked_twilio, phones=[tw.phone_json(1)], messages=[tw.message_json(1)])
    run()
    mocked_twilio.reset()
    Account(
        mocked_twilio,
        messages=newest_first([tw.message_json(n) for n in range(2, 1502)]),
        errors={1: [(401, tw.error_json(20003, 401))]},
    )
    with pytest.raises(CommandError):
        run()

    failed, finished = SyncRun.objects.all()
    assert finished.finished_at and not finished.error and finished.pages == 1
    assert finished.since is None and not finished.full
    assert finished.counts["messages"] == {"created": 1, "updated": 0, "unchanged": 0, "removed": 0}
    assert finished.counts["phones"]["created"] == 1
    assert failed.finished_at is None
    assert failed.error.startswith("Twilio credentials were refused")
    assert (failed.pages, failed.counts["messages"]["created"]) == (1, 1000)  # page 1 kept
    assert failed.since == (tw.BASE_TIME + timedelta(minutes=1) - timedelta(days=2)).date()


def test_since_and_full(mocked_twilio):
    MessageFactory()
    account = Account(mocked_twilio, messages=[tw.message_json(1)])

    run("--since", "2026-10-15")
    run("--full")

    assert account.messages.requests[0]["DateSent>"] == "2026-10-15T00:00:00Z"
    assert "DateSent>" not in account.messages.requests[1]


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "15/10/2026"])
def test_a_bad_since_date_is_refused_before_calling_twilio(mocked_twilio, value):
    with pytest.raises(CommandError, match="--since must be a date such as 2026-01-31"):
        run("--since", value)

    assert len(mocked_twilio.calls) == 0


def test_full_and_since_cannot_be_combined(mocked_twilio):
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("--full", "--since", "2026-10-15")


def test_phones_are_created_updated_and_removed(mocked_twilio):
    PhoneFactory(
        sid=tw.phone_sid(1),
        phone_number="+14155550001",
        friendly_name="Front desk 1",
        sms_url=tw.phone_json(1)["sms_url"],
    )
    PhoneFactory(sid=tw.phone_sid(2), phone_number="+14155550002", friendly_name="Old name")
    PhoneFactory(sid=tw.phone_sid(9), phone_number="+14155550009")  # released on Twilio
    Account(
        mocked_twilio,
        phones=[
            tw.phone_json(1, capabilities={"fax": False}),
            tw.phone_json(2, sms_url="https://sms.example.org/new", sms_method="GET"),
            tw.phone_json(3),
        ],
    )

    output = run()

    assert "  phones:   1 created, 1 updated, 1 unchanged, 1 removed" in output
    assert sorted(Phone.objects.values_list("sid", flat=True)) == [
        tw.phone_sid(1),
        tw.phone_sid(2),
        tw.phone_sid(3),
    ]
    updated = Phone.objects.get(sid=tw.phone_sid(2))
    assert (updated.friendly_name, updated.sms_url, updated.sms_method) == (
        "Front desk 2",
        "https://sms.example.org/new",
        "GET",
    )
    assert all(p.synced_at for p in Phone.objects.all())


def test_missing_media_rows_are_completed_and_complete_ones_not_asked_for(mocked_twilio):
    partial, partial_media = mms(1, count=2)
    complete, complete_media = mms(2, count=1)
    message = MessageFactory(sid=partial["sid"], num_media=2)
    MediaFactory(sid=partial_media[0]["sid"], message=message)
    message = MessageFactory(sid=complete["sid"], num_media=1)
    MediaFactory(sid=complete_media[0]["sid"], message=message)
    account = Account(
        mocked_twilio,
        messages=[complete, partial],
        media={partial["sid"]: partial_media, complete["sid"]: complete_media},
    )

    output = run("--full")

    assert account.media[partial["sid"]].pages_served == 1
    assert account.media[complete["sid"]].pages_served == 0
    assert "  media:    1 created, 0 updated, 1 unchanged" in output
    assert Media.objects.filter(message__sid=partial["sid"]).count() == 2


def test_a_stale_status_from_twilio_does_not_undo_a_newer_callback(mocked_twilio):
    """A status callback stored while the sync was reading must win over the page."""
    MessageFactory(sid=tw.message_sid(1), status="delivered")
    MessageFactory(sid=tw.message_sid(2), status="undelivered", error_code=30003)
    Account(
        mocked_twilio,
        messages=[tw.message_json(2, status="sent"), tw.message_json(1, status="sent")],
    )

    run("--full")

    assert Message.objects.get(sid=tw.message_sid(1)).status == "delivered"
    failed = Message.objects.get(sid=tw.message_sid(2))
    assert (failed.status, failed.error_code) == ("undelivered", 30003)


def test_a_failure_on_page_two_keeps_page_one(mocked_twilio):
    messages = newest_first([tw.message_json(n) for n in range(2500)])
    Account(
        mocked_twilio,
        messages=messages,
        errors={1: [(400, tw.error_json(20001, 400, "Invalid PageToken."))]},
    )

    with pytest.raises(CommandError) as caught:
        run()

    assert str(caught.value) == (
        "Sync stopped: Twilio refused the request: Invalid PageToken (Twilio error 20001). "
        "The 1 page(s) already read were kept; run the command again to continue."
    )
    assert Message.objects.count() == 1000
    assert set(Message.objects.values_list("sid", flat=True)) == {m["sid"] for m in messages[:1000]}


def test_a_persistent_503_on_page_two_gives_up_and_keeps_page_one(mocked_twilio, settings):
    settings.TWILIO_MAX_RETRIES = 2
    unavailable = (503, tw.error_json(20503, 503, "Service unavailable"))
    account = Account(
        mocked_twilio,
        messages=newest_first([tw.message_json(n) for n in range(1500)]),
        errors={1: [unavailable] * 3},
    )

    with pytest.raises(CommandError, match=r"Twilio is having trouble \(HTTP 503\)"):
        run()

    assert [r.get("Page") for r in account.messages.requests] == [None, "1", "1", "1"]
    assert Message.objects.count() == 1000


def test_a_503_that_clears_on_retry_loses_nothing(mocked_twilio):
    unavailable = (503, tw.error_json(20503, 503, "Service unavailable"))
    Account(
        mocked_twilio,
        messages=newest_first([tw.message_json(n) for n in range(1500)]),
        errors={1: [unavailable]},
    )

    run()

    assert Message.objects.count() == 1500


def test_the_command_exits_non_zero_with_the_sentence(mocked_twilio, capsys):
    Account(
        mocked_twilio,
        messages=newest_first([tw.message_json(n) for n in range(1500)]),
        errors={1: [(401, tw.error_json(20003, 401, "Authenticate"))]},
    )

    with pytest.raises(SystemExit) as caught:
        execute_from_command_line(["manage.py", "sync_twilio"])

    assert caught.value.code == 1
    err = capsys.readouterr().err
    assert "CommandError: Sync stopped: Twilio credentials were refused" in err
    assert "TWILIO_API_KEY" in err


def test_missing_credentials_stop_the_sync_with_a_clear_sentence(mocked_twilio, settings):
    settings.TWILIO_ACCOUNT_SID = ""
    MessageFactory()
    before = snapshot()

    with pytest.raises(CommandError) as caught:
        run()

    assert str(caught.value).startswith(
        "Sync stopped: Twilio is not configured: set TWILIO_ACCOUNT_SID, TWILIO_API_KEY and "
        "TWILIO_API_SECRET"
    )
    assert str(caught.value).endswith("No message page was read.")
    assert len(mocked_twilio.calls) == 0
    assert snapshot() == before


def test_upsert_messages_counts_and_writes_only_what_changed():
    first = [tw.message_json(1), tw.message_json(2)]
    records = [sync_record(m) for m in first]
    assert str(mirror.upsert_messages(records)) == "2 created, 0 updated, 0 unchanged"

    records[1] = {**records[1], "status": "read"}
    counts = mirror.upsert_messages(records)

    assert str(counts) == "0 created, 1 updated, 1 unchanged"
    assert Message.objects.get(sid=tw.message_sid(2)).status == "read"
    assert mirror.upsert_messages([]).created == 0


def sync_record(message: dict) -> dict:
    """A Twilio message JSON as the gateway turns it into a record, through the real SDK
    instance class (no network)."""
    return rest.message_record(MessageInstance(None, message, tw.account_sid()))


def test_read_ahead_yields_every_page_in_order_and_then_the_failure():
    def pages():
        yield [1]
        yield [2]
        raise tw_error

    tw_error = twilio_gateway.TwilioError("Twilio is having trouble (HTTP 503).")
    seen = []

    with pytest.raises(twilio_gateway.TwilioError):
        for page in sync._read_ahead(pages()):
            seen.append(page)

    assert seen == [[1], [2]]
    assert list(sync._read_ahead(iter([[], [3]]))) == [[], [3]]
