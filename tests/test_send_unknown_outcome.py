"""No double texts: a send whose outcome is unknown (Twilio did not answer after the request
left) is a 202 saying it may have been sent; a job then looks for it on Twilio (From, To,
body, created around the attempt) and mirrors it, or says "not sent" a few minutes later.
Twilio's Messages is never POSTed to a second time for it."""

import json
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from smsapp.models import Message, SendAttempt
from tests import twilio_payloads as tw
from tests.factories import PhoneFactory

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
US = "+14155550100"
PATIENT = "+14155550199"


@pytest.fixture
def phone(db):
    return PhoneFactory(phone_number=US, sms=True, mms=True)


def _send(client, text="Your results are in"):
    body = {"numberFrom": US, "numberTo": PATIENT, "text": text}
    return client.post(f"{API}sms_send", json.dumps(body), content_type="application/json")


def _twilio_times_out(mocked_twilio, failure=None):
    failure = failure or {"body": requests.ReadTimeout("read timed out")}
    return mocked_twilio.post(tw.account_url("Messages.json"), **failure)


def _posts(mocked_twilio) -> int:
    return sum(call.request.method == "POST" for call in mocked_twilio.calls)


def _twilio_lists(mocked_twilio, *records):
    return tw.add_paged_list(mocked_twilio, "Messages.json", "messages", [list(records)])


def _what_twilio_sent(n=7, text="Your results are in", **overrides):
    created = timezone.now().replace(microsecond=0)
    return tw.message_json(
        n, from_=US, to=PATIENT, body=text, date_created=created, status="sent", **overrides
    )


def _lookups_due_now():
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())


@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.ReadTimeout("read timed out")},
        {"body": requests.ConnectionError("Connection reset by peer")},
        {"json": tw.error_json(20500, 500), "status": 500},
    ],
    ids=["read-timeout", "connection-lost", "500"],
)
def test_an_unknown_outcome_is_a_202_that_says_it_may_have_been_sent(
    staff_client, mocked_twilio, phone, failure
):
    _twilio_times_out(mocked_twilio, failure)

    response = _send(staff_client)

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["state"]) == ("unknown", "checking")
    assert "may have been sent" in body["information"]
    assert "log will show it shortly" in body["information"]
    attempt = SendAttempt.objects.get()
    assert body["url"] == f"{API}send_attempt/{attempt.pk}"
    assert (attempt.from_number, attempt.to_number, attempt.body) == (
        US, PATIENT, "Your results are in",
    )  # fmt: skip
    assert attempt.created_by.username == "staff"
    assert _posts(mocked_twilio) == 1


def test_a_timed_out_send_is_found_and_mirrored_without_a_second_post(
    staff_client, mocked_twilio, phone, run_jobs
):
    _twilio_times_out(mocked_twilio)
    url = _send(staff_client).json()["url"]
    # Twilio did create the message: its list shows it.
    listed = _twilio_lists(mocked_twilio, _what_twilio_sent())

    run_jobs()  # the lookup is not due yet: Twilio lists a new message within seconds
    assert listed.pages_served == 0
    _lookups_due_now()
    run_jobs()

    assert _posts(mocked_twilio) == 1
    assert (listed.requests[0]["From"], listed.requests[0]["To"]) == (US, PATIENT)
    assert Message.objects.get(sid=tw.message_sid(7)).body == "Your results are in"
    answer = staff_client.get(url).json()
    assert (answer["state"], answer["sid"]) == ("found", tw.message_sid(7))
    assert "in the log now" in answer["information"]


def test_it_looks_again_until_twilio_lists_it(staff_client, mocked_twilio, phone, run_jobs):
    _twilio_times_out(mocked_twilio)
    _send(staff_client)
    empty = _twilio_lists(mocked_twilio)
    _lookups_due_now()
    run_jobs()
    assert SendAttempt.objects.get().state == "checking"
    assert empty.pages_served == 1

    mocked_twilio.remove("GET", tw.account_url("Messages.json"))
    _twilio_lists(mocked_twilio, _what_twilio_sent())
    _lookups_due_now()
    run_jobs()

    attempt = SendAttempt.objects.get()
    assert (attempt.state, attempt.message_sid, attempt.checks) == ("found", tw.message_sid(7), 2)


def test_twilio_with_no_such_message_minutes_later_means_not_sent(
    staff_client, mocked_twilio, phone, run_jobs
):
    _twilio_times_out(mocked_twilio)
    url = _send(staff_client).json()["url"]
    _twilio_lists(mocked_twilio)
    SendAttempt.objects.update(attempted_at=timezone.now() - timedelta(minutes=6))

    _lookups_due_now()
    run_jobs()

    answer = staff_client.get(url).json()
    assert answer["state"] == "not_sent"
    assert "You may send it again" in answer["information"]
    assert _posts(mocked_twilio) == 1


def test_the_same_words_sent_an_hour_earlier_are_not_taken_for_it(
    staff_client, mocked_twilio, phone, run_jobs
):
    _twilio_times_out(mocked_twilio)
    _send(staff_client)
    earlier = _what_twilio_sent(3)
    earlier["date_created"] = tw.twilio_time(timezone.now() - timedelta(hours=1))
    _twilio_lists(mocked_twilio, _what_twilio_sent(4, text="Something else"), earlier)

    _lookups_due_now()
    run_jobs()

    assert SendAttempt.objects.get().state == "checking"
    assert not Message.objects.exists()


def test_twilio_unreachable_during_the_lookup_means_looking_again(
    staff_client, mocked_twilio, phone, run_jobs, settings
):
    settings.TWILIO_MAX_RETRIES = 0
    _twilio_times_out(mocked_twilio)
    _send(staff_client)
    tw.add_error(mocked_twilio, "GET", "Messages.json", 503, 20503)

    _lookups_due_now()
    run_jobs()

    attempt = SendAttempt.objects.get()
    assert attempt.state == "checking"
    assert "Twilio is having trouble" in attempt.error
    assert DBTaskResult.objects.filter(
        task_path="smsapp.services.lookup.look_up_send", status="READY"
    ).exists()


def test_sync_twilio_finds_it_too(staff_client, mocked_twilio, phone):
    _twilio_times_out(mocked_twilio)
    url = _send(staff_client).json()["url"]
    tw.add_paged_list(mocked_twilio, "IncomingPhoneNumbers.json", "incoming_phone_numbers", [[]])
    _twilio_lists(mocked_twilio, _what_twilio_sent())

    call_command("sync_twilio", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert staff_client.get(url).json()["state"] == "found"
    assert _posts(mocked_twilio) == 1


def test_the_attempt_route_needs_a_signed_in_user_and_a_real_id(staff_client, mocked_twilio):
    assert Client().get(f"{API}send_attempt/{'0' * 8}").status_code == 401
    assert staff_client.get(f"{API}send_attempt/not-an-id").status_code == 404
    missing = "6f1c3a52-6f4e-4a43-9a59-3f2f0f0f0f0f"
    assert staff_client.get(f"{API}send_attempt/{missing}").status_code == 404
