"""Quiet hours (QUIET_HOURS, default 21:00-08:00) in the patient's local time: their
number's zone when it maps to one, else the clinic's TIME_ZONE. A scheduled text due
inside them waits for their end; a send through the JSON API still goes out at once (the
page asks first)."""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from smsapp.lib import hours
from smsapp.lib.zones import zone_of
from smsapp.models import ScheduledMessage
from smsapp.services import scheduled
from tests import twilio_payloads as tw
from tests.factories import PhoneFactory

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
OURS = "+14155550100"
SAN_FRANCISCO = "+14155550199"  # America/Los_Angeles
LONDON = "+442071234567"  # Europe/London
TOLL_FREE = "+18005550123"  # every North American zone: the clinic's is used


def quiet_end(number: str, at: datetime) -> datetime | None:
    """The end of the quiet hours `at` falls in, in the time zone `number` tells."""
    return hours.quiet_hours_end(zone_of(number)[0], at)


LOS_ANGELES = ZoneInfo("America/Los_Angeles")
TEN_UTC = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)  # 02:00 in San Francisco


@pytest.fixture
def quiet(settings):
    settings.QUIET_HOURS = "21:00-08:00"
    settings.TIME_ZONE = "America/New_York"
    return settings


def test_at_ten_utc_a_san_francisco_number_is_inside_quiet_hours_and_london_is_not(quiet):
    assert quiet_end(SAN_FRANCISCO, TEN_UTC) == datetime(2026, 11, 9, 8, 0, tzinfo=LOS_ANGELES)
    assert quiet_end(LONDON, TEN_UTC) is None  # 10:00 in London


def test_quiet_hours_in_summer_time_too(quiet):
    july = datetime(2026, 7, 6, 10, 0, tzinfo=UTC)  # 03:00 in San Francisco, 11:00 in London
    assert quiet_end(SAN_FRANCISCO, july) == datetime(2026, 7, 6, 8, 0, tzinfo=LOS_ANGELES)
    assert quiet_end(LONDON, july) is None


def test_a_number_with_no_single_zone_uses_the_clinics(quiet):
    # 10:00 UTC is 05:00 in New York: quiet; it ends at 08:00 there.
    assert quiet_end(TOLL_FREE, TEN_UTC) == datetime(
        2026, 11, 9, 8, 0, tzinfo=ZoneInfo("America/New_York")
    )
    quiet.TIME_ZONE = "Europe/Paris"  # 11:00
    assert quiet_end(TOLL_FREE, TEN_UTC) is None


def test_late_in_the_evening_quiet_hours_end_the_next_morning(quiet):
    evening = datetime(2026, 11, 9, 22, 14, tzinfo=LOS_ANGELES)
    assert quiet_end(SAN_FRANCISCO, evening) == datetime(2026, 11, 10, 8, 0, tzinfo=LOS_ANGELES)
    assert quiet_end(SAN_FRANCISCO, evening.replace(hour=20, minute=59)) is None


def test_without_quiet_hours_nothing_is_held(quiet):
    quiet.QUIET_HOURS = ""
    assert quiet_end(SAN_FRANCISCO, TEN_UTC) is None


def test_a_scheduled_text_is_held_by_the_patients_quiet_hours(quiet):
    assert scheduled.held_until(ScheduledMessage(to_number=SAN_FRANCISCO), TEN_UTC) == (
        datetime(2026, 11, 9, 8, 0, tzinfo=LOS_ANGELES)
    )
    assert scheduled.held_until(ScheduledMessage(to_number=LONDON), TEN_UTC) is None


# --- through the queue and the API: quiet hours around "now" ----------------------------------


def _window_around_now(minutes_before: int, minutes_after: int) -> tuple[str, datetime]:
    """A QUIET_HOURS value that holds San Francisco now, and when it ends (to the minute)."""
    now = timezone.now().astimezone(LOS_ANGELES).replace(second=0, microsecond=0)
    start, end = now - timedelta(minutes=minutes_before), now + timedelta(minutes=minutes_after)
    return f"{start:%H:%M}-{end:%H:%M}", end


@pytest.fixture
def phone(db):
    return PhoneFactory(phone_number=OURS)


def _twilio_accepts(mocked_twilio):
    answer = tw.message_json(1, from_=OURS, to=SAN_FRANCISCO, status="queued")
    mocked_twilio.post(tw.account_url("Messages.json"), json=answer, status=201)


def _schedule(client, send_at: datetime):
    body = {"numberFrom": OURS, "numberTo": SAN_FRANCISCO, "text": "Reminder: fasting tomorrow",
            "sendAt": send_at.isoformat()}  # fmt: skip
    return client.post(f"{API}sms_send", json.dumps(body), content_type="application/json")


def test_a_text_due_inside_quiet_hours_waits_for_their_end_then_goes(
    staff_client, mocked_twilio, phone, run_jobs, settings
):
    settings.QUIET_HOURS, end = _window_around_now(60, 90)
    assert _schedule(staff_client, timezone.now() + timedelta(minutes=1)).status_code == 202
    ScheduledMessage.objects.update(send_at=timezone.now())
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())

    run_jobs()

    item = ScheduledMessage.objects.get()
    assert (item.state, item.send_at) == ("pending", end)
    assert DBTaskResult.objects.filter(status="READY").latest("enqueued_at").run_after == end
    assert len(mocked_twilio.calls) == 0

    settings.QUIET_HOURS = ""  # time passes: the quiet hours are over
    _twilio_accepts(mocked_twilio)
    ScheduledMessage.objects.update(send_at=timezone.now())
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_jobs()

    assert ScheduledMessage.objects.get().state == "sent"
    assert len(mocked_twilio.calls) == 1


def test_the_json_route_still_sends_at_once_inside_quiet_hours(
    staff_client, mocked_twilio, phone, settings
):
    settings.QUIET_HOURS, _ = _window_around_now(60, 60)
    _twilio_accepts(mocked_twilio)
    body = {"numberFrom": OURS, "numberTo": SAN_FRANCISCO, "text": "Your ride is here"}

    response = staff_client.post(f"{API}sms_send", json.dumps(body),
                                 content_type="application/json")  # fmt: skip

    assert response.status_code == 200
    assert len(mocked_twilio.calls) == 1


def test_the_page_learns_the_quiet_hours_with_the_patients_zone(staff_client, settings):
    settings.QUIET_HOURS = "21:30-07:45"

    answer = staff_client.get(f"{API}time_zone/{SAN_FRANCISCO}").json()

    assert answer["timeZone"] == "America/Los_Angeles"
    assert answer["quietHours"] == {"start": "21:30", "end": "07:45"}
