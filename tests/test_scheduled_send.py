"""Send later: sms_send with `sendAt` schedules a text (202); scheduled/<our_number> lists
the pending ones; DELETE scheduled/<id> cancels one; at the due time a worker sends it
exactly once through the same send path as a send now."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import requests
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from smsapp.models import Message, Phone, ScheduledMessage, SendAttempt
from smsapp.roles import AGENTS
from smsapp.services import messages, scheduled
from tests import twilio_payloads as tw
from tests.conftest import user_in_role
from tests.factories import PhoneFactory

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
US = "+14155550100"
PATIENT = "+14155550199"
OTHER = "+14155550188"

SEND_JOB = "smsapp.services.scheduled.send_scheduled"


@pytest.fixture
def phone(db):
    return PhoneFactory(phone_number=US, sms=True, mms=False)


def _in(minutes: float) -> str:
    return (timezone.now() + timedelta(minutes=minutes)).isoformat()


def _schedule(client, send_at=None, to=PATIENT, text="See you tomorrow at 9", **extra):
    body = {"numberFrom": US, "numberTo": to, "text": text, "sendAt": send_at or _in(60), **extra}
    return client.post(f"{API}sms_send", json.dumps(body), content_type="application/json")


def _twilio_accepts(mocked_twilio, n=1):
    answer = tw.message_json(n, from_=US, to=PATIENT, status="queued", date_sent=None)
    return mocked_twilio.post(tw.account_url("Messages.json"), json=answer, status=201)


def _posts(mocked_twilio) -> list[dict]:
    return [
        parse_qs(call.request.body) for call in mocked_twilio.calls if call.request.method == "POST"
    ]


def _due_now():
    """Time passes: every scheduled text and queued job is due."""
    now = timezone.now()
    ScheduledMessage.objects.filter(send_at__gt=now).update(send_at=now)
    DBTaskResult.objects.filter(status="READY").update(run_after=now)


# --- scheduling ---------------------------------------------------------------------------


def test_a_text_with_send_at_is_scheduled_not_sent(staff_client, mocked_twilio, phone):
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    local = at.astimezone(timezone.get_fixed_timezone(-8 * 60)).isoformat()

    response = _schedule(staff_client, send_at=local)

    assert response.status_code == 202
    item = ScheduledMessage.objects.get()
    assert response.json() == {
        "scheduled": str(item.pk),
        "sendAt": at.isoformat(),
        "state": "pending",
    }
    assert (item.from_number, item.to_number, item.body, item.send_at) == (
        US, PATIENT, "See you tomorrow at 9", at,
    )  # fmt: skip
    assert item.created_by.username == "staff"
    job = DBTaskResult.objects.get(task_path=SEND_JOB)
    assert (job.args_kwargs["args"], job.run_after) == ([str(item.pk)], at)
    assert len(mocked_twilio.calls) == 0


@pytest.mark.parametrize(
    ("send_at", "words"),
    [
        ("2026-13-01T09:00:00Z", "is not a date and time"),
        ("tomorrow at nine", "is not a date and time"),
        (1767000000, "must be a date and time"),
        ((datetime.now() + timedelta(days=1)).replace(microsecond=0).isoformat(), "UTC offset"),
        ((datetime.now(UTC) - timedelta(minutes=5)).isoformat(), "in the past"),
        ((datetime.now(UTC) + timedelta(days=36)).isoformat(), "more than 35 days ahead"),
    ],
    ids=["impossible", "words", "number", "no-offset", "past", "too-far"],
)
def test_a_bad_send_at_is_a_400_naming_it(staff_client, mocked_twilio, phone, send_at, words):
    response = _schedule(staff_client, send_at=send_at)

    assert response.status_code == 400
    assert words in response.json()["fields"]["sendAt"]
    assert not ScheduledMessage.objects.exists()


def test_35_days_ahead_and_a_few_seconds_late_are_both_fine(staff_client, mocked_twilio, phone):
    assert _schedule(staff_client, send_at=_in(35 * 24 * 60 - 1)).status_code == 202
    assert _schedule(staff_client, send_at=_in(-0.2)).status_code == 202


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ({"numberFrom": "+14155550111"}, "numberFrom", "not one of this account's"),
        ({"mediaUrls": ["https://example.org/x.jpg"]}, "numberFrom", "no MMS capability"),
        ({"text": ""}, "text", "Write a message"),
        ({"text": "Hi {first_name}"}, "text", "still contains {first_name}"),
        ({"numberTo": "+1415"}, "numberTo", "not a valid phone number"),
    ],
)
def test_every_check_of_a_send_now_happens_when_scheduling(
    staff_client, mocked_twilio, phone, extra, field, words
):
    body = {"numberFrom": US, "numberTo": PATIENT, "text": "Hi", "sendAt": _in(60), **extra}

    response = staff_client.post(
        f"{API}sms_send", json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 400
    assert words in response.json()["fields"][field]
    assert not ScheduledMessage.objects.exists()


# --- the pending list and cancelling ------------------------------------------------------


def test_the_pending_texts_of_a_number_are_listed_soonest_first(
    staff_client, mocked_twilio, phone, django_assert_num_queries
):
    later = _schedule(staff_client, send_at=_in(120), text="later").json()["scheduled"]
    sooner = _schedule(staff_client, send_at=_in(30), text="sooner").json()["scheduled"]
    _schedule(staff_client, to=OTHER, text="to someone else")
    cancelled = _schedule(staff_client, text="cancelled").json()["scheduled"]
    staff_client.delete(f"{API}scheduled/{cancelled}")

    # Session, user, its two permission lookups, then the list (its creators joined).
    with django_assert_num_queries(5):
        items = staff_client.get(f"{API}scheduled/{US}", {"counterpart": PATIENT}).json()

    assert [item["id"] for item in items] == [sooner, later]
    assert items[0] == {
        "id": sooner,
        "from": US,
        "to": PATIENT,
        "text": "sooner",
        "media": [],
        "sendAt": ScheduledMessage.objects.get(pk=sooner).send_at.isoformat(),
        "createdBy": "staff",
        "state": "pending",
    }
    assert len(staff_client.get(f"{API}scheduled/%2B14155550100").json()) == 3


def test_any_agent_may_cancel_a_colleagues_pending_text(staff_client, mocked_twilio, phone):
    item = _schedule(staff_client).json()["scheduled"]
    colleague = Client()
    colleague.force_login(user_in_role(AGENTS, "colleague"))

    response = colleague.delete(f"{API}scheduled/{item}")

    assert response.status_code == 200
    assert response.json() == {"id": item, "cancelled": True}
    stored = ScheduledMessage.objects.get()
    assert (stored.state, stored.cancelled_by.username) == ("cancelled", "colleague")


@pytest.mark.parametrize(
    ("state", "words"),
    [("cancelled", "already cancelled"), ("sent", "already been sent"),
     ("sending", "being sent right now"), ("unknown", "may already have been sent")],
)  # fmt: skip
def test_cancelling_a_text_no_longer_pending_is_a_409(
    staff_client, mocked_twilio, phone, state, words
):
    item = _schedule(staff_client).json()["scheduled"]
    ScheduledMessage.objects.update(state=state)

    response = staff_client.delete(f"{API}scheduled/{item}")

    assert response.status_code == 409
    assert words in response.json()["information"]
    assert ScheduledMessage.objects.get().state == state


def test_an_unknown_id_is_a_404_and_listing_needs_a_number(staff_client, mocked_twilio):
    assert (
        staff_client.delete(f"{API}scheduled/6f1c3a52-6f4e-4a43-9a59-3f2f0f0f0f0f").status_code
        == 404
    )
    assert staff_client.delete(f"{API}scheduled/nope").status_code == 404
    assert staff_client.get(f"{API}scheduled/nope").status_code == 400
    assert (
        staff_client.post(f"{API}scheduled/{US}", {}, content_type="application/json").status_code
        == 405
    )


# --- at the due time ---------------------------------------------------------------------


def test_at_its_time_a_worker_sends_it_once_through_the_send_path(
    staff_client, mocked_twilio, phone, run_jobs
):
    _twilio_accepts(mocked_twilio)
    _schedule(staff_client, callbackUrl="https://hooks.example.org/s")

    run_jobs()  # not due yet
    assert _posts(mocked_twilio) == []
    _due_now()
    run_jobs()
    tasks_again = scheduled.send_due(str(ScheduledMessage.objects.get().pk))  # a stray rerun

    [form] = _posts(mocked_twilio)
    assert (form["From"], form["To"], form["Body"]) == ([US], [PATIENT], ["See you tomorrow at 9"])
    assert form["StatusCallback"] == ["https://hooks.example.org/s"]
    item = ScheduledMessage.objects.get()
    assert (item.state, item.message_sid, item.attempts) == ("sent", tw.message_sid(1), 1)
    assert Message.objects.filter(sid=tw.message_sid(1)).exists()
    assert tasks_again.startswith("nothing to do")


def test_a_text_cancelled_while_its_job_is_queued_is_never_sent(
    staff_client, mocked_twilio, phone, run_jobs
):
    _twilio_accepts(mocked_twilio)
    item = _schedule(staff_client).json()["scheduled"]
    _due_now()

    staff_client.delete(f"{API}scheduled/{item}")
    run_jobs()

    assert _posts(mocked_twilio) == []
    assert ScheduledMessage.objects.get().state == "cancelled"


def test_a_transient_failure_is_tried_again_later(
    staff_client, mocked_twilio, phone, run_jobs, settings
):
    settings.TWILIO_MAX_RETRIES = 0
    tw.add_error(mocked_twilio, "POST", "Messages.json", 429, 20429)
    _schedule(staff_client)
    _due_now()
    run_jobs()

    item = ScheduledMessage.objects.get()
    assert (item.state, item.attempts) == ("pending", 1)
    assert "limiting how fast" in item.error
    retry = DBTaskResult.objects.get(
        task_path="smsapp.services.scheduled.send_scheduled", status="READY"
    )
    assert timedelta(seconds=50) < retry.run_after - timezone.now() <= timedelta(minutes=1)

    mocked_twilio.remove("POST", tw.account_url("Messages.json"))
    _twilio_accepts(mocked_twilio)
    _due_now()
    run_jobs()

    item.refresh_from_db()
    assert (item.state, item.attempts, item.error) == ("sent", 2, "")
    assert len(_posts(mocked_twilio)) == 2  # the first was refused before anything was sent


def test_after_its_last_try_a_transient_failure_fails_it(
    staff_client, mocked_twilio, phone, run_jobs, settings
):
    settings.TWILIO_MAX_RETRIES = 0
    tw.add_error(mocked_twilio, "POST", "Messages.json", 429, 20429)
    _schedule(staff_client)
    for _ in range(scheduled.MAX_TRIES):
        _due_now()
        run_jobs()

    item = ScheduledMessage.objects.get()
    assert (item.state, item.attempts) == ("failed", scheduled.MAX_TRIES)
    assert len(_posts(mocked_twilio)) == scheduled.MAX_TRIES


def test_a_timeout_after_the_request_left_is_never_sent_again(
    staff_client, mocked_twilio, phone, run_jobs
):
    mocked_twilio.post(tw.account_url("Messages.json"), body=requests.ReadTimeout("slow"))
    _schedule(staff_client)
    _due_now()
    run_jobs()

    item = ScheduledMessage.objects.get()
    assert item.state == "unknown"
    attempt = SendAttempt.objects.get()
    assert attempt.scheduled == item
    # Twilio did send it: the lookup finds it and the scheduled text is sent.
    created = timezone.now().replace(microsecond=0)
    record = tw.message_json(9, from_=US, to=PATIENT, body=item.body, date_created=created)
    tw.add_paged_list(mocked_twilio, "Messages.json", "messages", [[record]])
    for _ in range(3):
        _due_now()
        run_jobs()

    item.refresh_from_db()
    assert (item.state, item.message_sid) == ("sent", tw.message_sid(9))
    assert len(_posts(mocked_twilio)) == 1


def test_a_timed_out_text_twilio_never_got_ends_failed_not_resent(
    staff_client, mocked_twilio, phone, run_jobs
):
    mocked_twilio.post(tw.account_url("Messages.json"), body=requests.ReadTimeout("slow"))
    _schedule(staff_client)
    _due_now()
    run_jobs()
    tw.add_paged_list(mocked_twilio, "Messages.json", "messages", [[]])
    SendAttempt.objects.update(attempted_at=timezone.now() - timedelta(minutes=10))

    _due_now()
    run_jobs()

    item = ScheduledMessage.objects.get()
    assert item.state == "failed"
    assert "it was not sent" in item.error
    assert len(_posts(mocked_twilio)) == 1


def test_twilio_refusing_it_fails_it_with_the_sentence(
    staff_client, mocked_twilio, phone, run_jobs
):
    tw.add_error(mocked_twilio, "POST", "Messages.json", 400, 21610)
    _schedule(staff_client)
    _due_now()
    run_jobs()

    item = ScheduledMessage.objects.get()
    assert item.state == "failed"
    assert "opted out" in item.error


def test_a_number_removed_since_scheduling_fails_it_before_twilio(
    staff_client, mocked_twilio, phone, run_jobs
):
    _schedule(staff_client)
    Phone.objects.all().delete()
    _due_now()
    run_jobs()

    item = ScheduledMessage.objects.get()
    assert (item.state, len(mocked_twilio.calls)) == ("failed", 0)
    assert "not one of this account's Twilio numbers" in item.error


def test_a_job_that_crashes_keeps_its_error_and_the_text_is_looked_up_not_resent(
    staff_client, mocked_twilio, phone, run_jobs, monkeypatch
):
    def crash(**kwargs):
        raise RuntimeError("the worker's disk is full")

    monkeypatch.setattr(messages, "send", crash)
    _schedule(staff_client)
    _due_now()
    run_jobs()

    job = DBTaskResult.objects.get(task_path=SEND_JOB)
    assert job.status == "FAILED"
    assert "the worker's disk is full" in job.traceback
    assert ScheduledMessage.objects.get().state == "sending"
    later = timezone.now() + scheduled.STUCK_AFTER + timedelta(seconds=1)
    assert scheduled.recover_stuck(now=later) == 1
    item = ScheduledMessage.objects.get()
    assert item.state == "unknown"
    assert SendAttempt.objects.get().scheduled == item


def test_a_text_held_back_moves_to_when_it_may_go_out(
    staff_client, mocked_twilio, phone, run_jobs, monkeypatch
):
    window_opens = timezone.now() + timedelta(hours=9)
    monkeypatch.setattr(scheduled, "held_until", lambda item, now: window_opens)
    _schedule(staff_client)
    _due_now()
    run_jobs()

    item = ScheduledMessage.objects.get()
    assert (item.state, item.send_at, item.attempts) == ("pending", window_opens, 0)
    job = DBTaskResult.objects.get(
        task_path="smsapp.services.scheduled.send_scheduled", status="READY"
    )
    assert job.run_after == window_opens
    assert len(mocked_twilio.calls) == 0


# --- the time "Send later" is read in --------------------------------------------------


@pytest.mark.parametrize(
    ("number", "zone", "from_number"),
    [
        ("+14155550199", "America/Los_Angeles", True),  # one area code, one zone
        ("+442071234567", "Europe/London", True),
        ("+61412345678", "America/New_York", False),  # Australian mobiles span zones
    ],
)
def test_a_patients_time_zone_comes_from_the_number_else_the_clinics(
    staff_client, settings, number, zone, from_number
):
    settings.TIME_ZONE = "America/New_York"

    answer = staff_client.get(f"{API}time_zone/{number}").json()

    assert answer == {
        "number": number, "timeZone": zone, "fromNumber": from_number,
        "clinicTimeZone": "America/New_York", "quietHours": None,
    }  # fmt: skip


def test_a_time_zone_needs_a_number(staff_client):
    assert staff_client.get(f"{API}time_zone/nope").status_code == 400
