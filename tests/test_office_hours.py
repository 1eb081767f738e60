"""Office hours (OFFICE_HOURS in the clinic's TIME_ZONE, closed on OFFICE_HOLIDAYS) and the
after-hours auto-reply: it answers only outside them, at most once per patient every 12
hours, and migration 0012 adds one, switched off."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from smsapp.lib import hours
from smsapp.models import AfterHoursReply, AutoReplyRule
from smsapp.services import consent
from tests.test_consent_keywords import _inbound

pytestmark = pytest.mark.django_db

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
CLOSED_TEXT = "We are closed right now and will reply when the office opens."
ALWAYS_OPEN = "mon-sun 00:00-24:00"


@pytest.fixture
def clinic(settings):
    settings.TIME_ZONE = "America/Los_Angeles"
    settings.OFFICE_HOURS = "mon-fri 08:00-17:00; sat 09:00-12:00"
    settings.OFFICE_HOLIDAYS = "US"
    return settings


def _at(day: str, clock: str) -> datetime:
    """A moment in Los Angeles, given as UTC (the app holds UTC times)."""
    local = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=LOS_ANGELES)
    return local.astimezone(ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("day", "clock", "is_open"),
    [
        ("2026-11-06", "16:59", True),  # Friday
        ("2026-11-06", "17:00", False),  # Friday, closing time
        ("2026-11-07", "08:59", False),  # Saturday, before its short morning
        ("2026-11-07", "09:00", True),
        ("2026-11-07", "12:00", False),
        ("2026-11-08", "10:00", False),  # Sunday
        ("2026-11-09", "07:59", False),  # Monday, before opening
        ("2026-11-09", "08:00", True),
        ("2026-11-26", "10:00", False),  # Thursday: Thanksgiving
        ("2026-11-27", "10:00", True),  # the Friday after is not a federal holiday
        ("2026-07-03", "10:00", False),  # Friday: Independence Day (observed)
    ],
)
def test_office_hours_across_a_weekend_and_holidays(clinic, day, clock, is_open):
    assert hours.office_is_open(_at(day, clock)) is is_open


def test_holidays_of_a_state_close_the_office_too(clinic):
    cesar_chavez_day = _at("2026-03-31", "10:00")  # a Tuesday
    assert hours.office_is_open(cesar_chavez_day)

    clinic.OFFICE_HOLIDAYS = "US-CA"

    assert not hours.office_is_open(cesar_chavez_day)
    assert hours.holiday_on(cesar_chavez_day.date()) == "Cesar Chavez Day"


def test_office_hours_are_read_in_the_clinics_time_zone(clinic):
    monday_morning_utc = datetime(2026, 11, 9, 15, 30, tzinfo=ZoneInfo("UTC"))  # 07:30 in LA
    assert not hours.office_is_open(monday_morning_utc)

    clinic.TIME_ZONE = "America/New_York"  # 10:30 there
    assert hours.office_is_open(monday_morning_utc)


@pytest.mark.parametrize(
    ("text", "monday_at", "is_open"),
    [
        ("mon-fri 08:00-12:00, 13:00-17:00", "12:30", False),
        ("mon-fri 08:00-12:00, 13:00-17:00", "13:00", True),
        ("MON,Wed 08:00-17:00", "09:00", True),
        ("fri-mon 08:00-17:00", "09:00", True),  # wraps round the weekend
        ("tue-thu 08:00-17:00", "09:00", False),
        ("monday 00:00-24:00", "23:59", True),
        ("", "10:00", False),  # no office hours: never open
    ],
)
def test_office_hours_are_parsed(text, monday_at, is_open):
    schedule = hours.parse_office_hours(text)
    assert schedule.is_open(datetime.fromisoformat(f"2026-11-09T{monday_at}")) is is_open


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("mon-fry 08:00-17:00", "'fry' is not a day"),
        ("mon-fri", "needs days then hours"),
        ("mon-fri 8am-5pm", "'8am' is not a time of day"),
        ("mon-fri 17:00-08:00", "may not cross midnight"),
        ("mon-fri 08:00-08:00", "starts and ends at the same time"),
        ("mon-fri 25:00-26:00", "'25:00' is not a time of day"),
    ],
)
def test_a_bad_schedule_says_what_is_wrong(text, words):
    with pytest.raises(ValueError, match=words):
        hours.parse_office_hours(text)


def test_an_unknown_holiday_calendar_is_refused():
    with pytest.raises(ValueError, match="'XX' is not a country"):
        hours.holiday_calendar("XX")
    with pytest.raises(ValueError, match="'US-ZZ' is not a country"):
        hours.holiday_calendar("us-zz")


# --- the after-hours auto-reply -------------------------------------------------------------


@pytest.fixture
def after_hours(settings):
    """Migration 0012's rule, switched on, as an administrator would."""
    AutoReplyRule.objects.filter(name="After hours").update(is_active=True)
    settings.OFFICE_HOLIDAYS = ""
    return settings


def test_the_migration_adds_an_after_hours_rule_switched_off():
    rule = AutoReplyRule.objects.get(name="After hours")

    assert (rule.is_active, rule.only_outside_office_hours, rule.match_kind) == (
        False, True, "any",
    )  # fmt: skip
    assert CLOSED_TEXT in rule.reply_text
    assert "call 911" in rule.reply_text
    assert rule.priority < AutoReplyRule.objects.get(name="Greeting").priority


def test_outside_office_hours_the_after_hours_rule_answers_first(client, after_hours):
    after_hours.OFFICE_HOURS = ""  # closed now

    [reply] = _inbound(client, "hello, can I book for Tuesday?")

    assert CLOSED_TEXT in reply


def test_during_office_hours_the_after_hours_rule_is_silent(client, after_hours):
    after_hours.OFFICE_HOURS = ALWAYS_OPEN

    assert _inbound(client, "hello") == ["Hello! ♥️"]
    assert not AfterHoursReply.objects.exists()


def test_it_answers_a_patient_at_most_once_per_12_hours(client, after_hours):
    after_hours.OFFICE_HOURS = ""
    assert CLOSED_TEXT in _inbound(client, "hello", 1)[0]

    # Told already: no other rule answers instead ("Say hello!" would be a surprise).
    assert _inbound(client, "Are you there?", 2) == []
    assert _inbound(client, "hello", 3, patient="+14155550188")[0].startswith("Thank you")

    AfterHoursReply.objects.update(answered_at=timezone.now() - timedelta(hours=12))
    assert CLOSED_TEXT in _inbound(client, "Still there?", 4)[0]
    assert AfterHoursReply.objects.count() == 2  # one row per patient, moved on


def test_the_12_hours_are_per_number_of_ours(client, after_hours):
    after_hours.OFFICE_HOURS = ""
    _inbound(client, "hello", 1, ours="+14155550100")

    assert CLOSED_TEXT in _inbound(client, "hello", 2, ours="+14155550101")[0]


def test_an_opted_out_patient_gets_no_after_hours_reply(client, after_hours):
    after_hours.OFFICE_HOURS = ""
    consent.record(patient_number="+14155550199", our_number="+14155550100", opted_out=True,
                   source="keyword")  # fmt: skip

    assert _inbound(client, "hello") == []
    assert not AfterHoursReply.objects.exists()


def test_keywords_get_no_after_hours_reply(client, after_hours):
    after_hours.OFFICE_HOURS = ""

    for n, word in enumerate(["STOP", "START", "HELP"], start=1):
        assert _inbound(client, word, n) == []


def test_the_admin_lists_which_rules_answer_only_after_hours(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", password="pw"))

    page = client.get(reverse("admin:smsapp_autoreplyrule_changelist"))

    assert page.status_code == 200
    assert b"only outside office hours" in page.content.lower()
