"""Texts recorded in patients' charts, and the unread badge (docs/canvas.md): the jobs post
to the plugin's routes, signed for each route and body; each text is recorded once per
message SID, retried until the plugin accepts it. Canvas and Twilio are mocked at the
HTTP layer (`responses`)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from smsapp.lib import canvas_contract as contract
from smsapp.models import ChartRecord, Message, NumberLink
from smsapp.services import chart
from tests import twilio_payloads as tw
from tests.conftest import user_in_role
from tests.factories import MessageFactory, PhoneFactory, in_directory
from tests.test_embed import bearer, fresh_client, launched_api_token
from tests.test_launch_tokens import KEY, PATIENT_ID, STAFF_ID
from tests.webhook_signing import post_signed

pytestmark = pytest.mark.django_db

INSTANCE = "https://clinic.canvasmedical.com"
RECORD = f"{INSTANCE}{contract.PLUGIN_API_PATH}record"
BADGE = f"{INSTANCE}{contract.PLUGIN_API_PATH}badge"
API = "/plugin-io/api/twilio_sms_mms/"
INBOUND = "/plugin-io/api/twilio_sms_mms/inbound_treatment"
US = "+14155550100"
ANN = "+14155550199"
STRANGER = "+14155550111"


@pytest.fixture
def canvas(settings, mocked_twilio):
    """Canvas configured, its plugin's record and badge routes accepting."""
    settings.CANVAS_INSTANCE_URL = INSTANCE
    PhoneFactory(sid=tw.phone_sid(1), phone_number=US)
    mocked_twilio.post(RECORD, json={"recorded": "ok"})
    mocked_twilio.post(BADGE, json={"unread": 0})
    return mocked_twilio


def retry_now() -> int:
    """A minute later: the pause has passed, and the job's periodic run comes round."""
    ChartRecord.objects.update(next_attempt_at=timezone.now())
    return chart.record_in_charts.call()


def posted(mocked, url: str, purpose: str) -> list[dict]:
    """The bodies posted to `url`, each checked against its token: the app's, for this
    route, bound to these very bytes."""
    bodies = []
    for call in mocked.calls:
        if call.request.url != url:
            continue
        body = (
            call.request.body
            if isinstance(call.request.body, bytes)
            else call.request.body.encode()
        )
        contract.verify(
            call.request.headers["Authorization"].removeprefix("Bearer "),
            key=KEY,
            issuer=contract.APP_ISSUER,
            audience=contract.PLUGIN_CALLS[purpose],
            lifetime=contract.PLUGIN_CALL_LIFETIME,
            body=body,
        )
        bodies.append(json.loads(body))
    return bodies


def text_in(client, body="Running late", frm=ANN, sid="SM" + "a" * 32):
    """An inbound text, as Twilio's webhook delivers it."""
    params = {"MessageSid": sid, "From": frm, "To": US, "Body": body, "AccountSid": "AC" + "0" * 32}
    response = post_signed(client, INBOUND, params)
    assert response.status_code == 200


# --- recording ---------------------------------------------------------------------------------


def test_an_inbound_text_of_a_linked_patient_is_recorded_in_their_chart_once(
    client, canvas, run_jobs
):
    in_directory(PATIENT_ID, ANN)

    text_in(client)
    run_jobs()
    run_jobs()

    (record,) = posted(canvas, RECORD, "record")
    message = Message.objects.get()
    assert record == {
        "sid": message.sid,
        "patientId": PATIENT_ID,
        "direction": "inbound",
        "body": "Running late",
        "media": 0,
        "at": message.date_created.isoformat(),
        "staffId": "",
        "ourNumber": US,
        "patientNumber": ANN,
    }
    stored = ChartRecord.objects.get()
    assert (stored.state, stored.patient_id, stored.attempts) == ("recorded", PATIENT_ID, 1)


def test_a_text_of_a_number_no_chart_lists_is_not_recorded(client, canvas, run_jobs):
    in_directory(PATIENT_ID, ANN)

    text_in(client, frm=STRANGER)
    run_jobs()

    assert not ChartRecord.objects.exists()
    assert posted(canvas, RECORD, "record") == []


def test_an_outbound_text_names_the_canvas_staff_member_who_sent_it(canvas, run_jobs):
    in_directory(PATIENT_ID, ANN)
    token = launched_api_token()
    answer = tw.message_json(1, from_=US, to=ANN, status="queued", date_sent=None, price=None)
    canvas.post(tw.account_url("Messages.json"), json=answer, status=201)

    sent = fresh_client().post(
        f"{API}sms_send",
        json.dumps({"numberFrom": US, "numberTo": ANN, "text": "See you at 3"}),
        content_type="application/json",
        **bearer(token),
    )
    run_jobs()

    assert sent.status_code == 200
    (record,) = posted(canvas, RECORD, "record")
    assert (record["direction"], record["staffId"], record["body"]) == (
        "outbound",
        STAFF_ID,
        answer["body"],  # the text as Twilio took it
    )


def test_a_text_no_canvas_user_sent_goes_without_a_staff_member(agent_client, canvas, run_jobs):
    in_directory(PATIENT_ID, ANN)
    answer = tw.message_json(1, from_=US, to=ANN, status="queued", date_sent=None, price=None)
    canvas.post(tw.account_url("Messages.json"), json=answer, status=201)

    agent_client.post(
        f"{API}sms_send",
        json.dumps({"numberFrom": US, "numberTo": ANN, "text": "Reminder"}),
        content_type="application/json",
    )
    run_jobs()

    assert posted(canvas, RECORD, "record")[0]["staffId"] == ""


def test_a_refused_record_is_retried_after_a_pause_until_the_plugin_accepts(
    client, settings, mocked_twilio, run_jobs
):
    settings.CANVAS_INSTANCE_URL = INSTANCE
    in_directory(PATIENT_ID, ANN)
    mocked_twilio.post(RECORD, status=503, json={"error": "Canvas is busy"})
    mocked_twilio.post(RECORD, status=409, json={"error": "Set SMS_DEFAULT_STAFF_ID."})
    mocked_twilio.post(RECORD, json={"recorded": "ok"})
    text_in(client)

    run_jobs()
    record = ChartRecord.objects.get()
    assert (record.state, record.attempts) == ("pending", 1)
    assert "503" in record.error and "Canvas is busy" in record.error
    assert record.next_attempt_at > timezone.now() + timedelta(seconds=50)  # a pause, not a loop

    run_jobs()  # not due yet: nothing is sent
    assert len(posted(mocked_twilio, RECORD, "record")) == 1

    for expected_attempts in (2, 3):
        retry_now()
        record.refresh_from_db()
        assert record.attempts == expected_attempts

    assert (record.state, record.error) == ("recorded", "")
    assert len(posted(mocked_twilio, RECORD, "record")) == 3
    assert retry_now() == 0
    assert len(posted(mocked_twilio, RECORD, "record")) == 3  # recorded: never again


def test_pauses_grow_and_stop_growing_at_an_hour(client, settings, mocked_twilio, run_jobs):
    settings.CANVAS_INSTANCE_URL = INSTANCE
    in_directory(PATIENT_ID, ANN)
    mocked_twilio.post(RECORD, status=500, body="oops")
    text_in(client)
    pauses = []
    run_jobs()
    for _ in range(9):
        before = timezone.now()
        retry_now()
        pauses.append(
            round((ChartRecord.objects.get().next_attempt_at - before).total_seconds() / 60)
        )

    assert pauses == [2, 4, 8, 16, 32, 60, 60, 60, 60]


def test_two_workers_never_take_the_same_record():
    ChartRecord.objects.bulk_create(
        [ChartRecord(message_sid=f"SM{n:032x}", number=ANN) for n in range(10)]
    )

    first, second = chart._take(6), chart._take(6)

    assert len(first) == 6 and len(second) == 4
    assert not {r.pk for r in first} & {r.pk for r in second}
    assert chart._take(6) == []  # all leased


def test_texts_from_before_the_link_are_recorded_when_staff_make_it(agent_client, canvas, run_jobs):
    earlier = [
        MessageFactory(direction="inbound", from_number=STRANGER, to_number=US),
        MessageFactory(direction="outbound-api", from_number=US, to_number=STRANGER),
    ]
    MessageFactory(direction="inbound", from_number="+14155550122", to_number=US)  # someone else
    in_directory("p-kid1", STRANGER, name="Kid One")
    in_directory("p-kid2", STRANGER, name="Kid Two")  # shared: linked to no one yet
    run_jobs()
    assert posted(canvas, RECORD, "record") == []

    response = agent_client.post(
        f"{API}conversation/{US}/{STRANGER}/patient",
        json.dumps({"patientId": "p-kid2"}),
        content_type="application/json",
    )
    run_jobs()

    assert response.status_code == 200
    records = posted(canvas, RECORD, "record")
    assert sorted(r["sid"] for r in records) == sorted(m.sid for m in earlier)
    assert {r["patientId"] for r in records} == {"p-kid2"}


def test_a_text_waiting_when_its_link_is_undone_is_skipped_then_taken_up_again(
    agent_client, settings, mocked_twilio, run_jobs
):
    settings.CANVAS_INSTANCE_URL = INSTANCE
    in_directory("p-ann", ANN)
    in_directory("p-ann2", ANN, name="Ann Two")
    link = NumberLink.objects.create(number=ANN, patient=in_directory("p-ann", ANN))
    message = MessageFactory(direction="inbound", from_number=ANN, to_number=US)
    chart.backfill([ANN])
    link.delete()
    mocked_twilio.post(RECORD, json={"recorded": "ok"})

    run_jobs()
    record = ChartRecord.objects.get(message_sid=message.sid)
    assert (record.state, record.error) == ("skipped", "the number is not linked to a patient")

    agent_client.post(
        f"{API}conversation/{US}/{ANN}/patient",
        json.dumps({"patientId": "p-ann2"}),
        content_type="application/json",
    )
    run_jobs()

    record.refresh_from_db()
    assert (record.state, record.patient_id) == ("recorded", "p-ann2")


def test_without_canvas_configured_nothing_waits_and_nothing_is_called(
    client, mocked_twilio, run_jobs
):
    in_directory(PATIENT_ID, ANN)

    text_in(client)
    run_jobs()

    assert not ChartRecord.objects.exists()
    assert not mocked_twilio.calls


# --- the badge ----------------------------------------------------------------------------------


def test_the_badge_follows_inbound_texts_and_reads(client, agent_client, canvas, run_jobs):
    text_in(client, frm=ANN, sid="SM" + "1" * 32)
    text_in(client, frm=STRANGER, sid="SM" + "2" * 32)
    run_jobs()
    assert posted(canvas, BADGE, "badge")[-1] == {"unread": 2, "staffIds": []}

    agent_client.post(f"{API}conversation/{US}/{ANN}/read", "{}", content_type="application/json")
    run_jobs()

    assert posted(canvas, BADGE, "badge")[-1] == {"unread": 1, "staffIds": []}


def test_without_a_default_role_the_badge_goes_to_the_canvas_staff_who_may_read(
    client, settings, canvas, run_jobs
):
    settings.CANVAS_DEFAULT_GROUP = ""
    user_in_role("SMS agents", "canvas-staff-1")
    user_in_role("SMS agents", "canvas-staff-2", is_active=False)
    user_in_role("SMS agents", "front-desk")  # signs in with a password: not a Canvas user

    text_in(client)
    run_jobs()

    assert posted(canvas, BADGE, "badge") == [{"unread": 1, "staffIds": ["staff-1"]}]
