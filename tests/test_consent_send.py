"""Consent enforced before Twilio: a text to a patient who opted out is refused with a 409
that says when and how and that they can text START, and no request reaches Twilio;
Twilio's 21610 records the opt-out; an opt-in lifts it; CONSENT_SCOPE decides whether a
STOP to one number stops the others."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from smsapp.models import Consent, ConsentEvent, Message, ScheduledMessage
from smsapp.roles import AGENTS
from smsapp.services import consent
from tests import twilio_payloads as tw
from tests.conftest import user_in_role
from tests.factories import PhoneFactory
from tests.webhook_signing import post_signed

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
FRONT_DESK = "+14155550100"
NURSE_LINE = "+14155550101"
PATIENT = "+14155550199"
OTHER_PATIENT = "+14155550188"


@pytest.fixture
def phones(db):
    return [PhoneFactory(phone_number=n, sms=True, mms=True) for n in (FRONT_DESK, NURSE_LINE)]


def _send(client, *, ours=FRONT_DESK, to=PATIENT, text="Your results are ready", **extra):
    body = {"numberFrom": ours, "numberTo": to, "text": text, **extra}
    return client.post(f"{API}sms_send", json.dumps(body), content_type="application/json")


def _twilio_accepts(mocked_twilio, ours=FRONT_DESK, to=PATIENT, n=1):
    answer = tw.message_json(n, from_=ours, to=to, status="queued", date_sent=None)
    mocked_twilio.post(tw.account_url("Messages.json"), json=answer, status=201)


def _twilio_posts(mocked_twilio) -> int:
    return sum(call.request.method == "POST" for call in mocked_twilio.calls)


def _patient_texts(client, body, *, ours=FRONT_DESK, patient=PATIENT, n=1):
    sid = f"SM{n:032x}"
    params = {"MessageSid": sid, "From": patient, "To": ours, "Body": body, "NumMedia": "0"}
    assert post_signed(client, reverse("smsapp:inbound_treatment"), params).status_code == 200


# --- refused before Twilio ----------------------------------------------------------------


def test_a_text_to_a_patient_who_texted_stop_is_refused_and_twilio_is_not_called(
    staff_client, mocked_twilio, phones, settings
):
    settings.TIME_ZONE = "America/Los_Angeles"
    _patient_texts(staff_client, "Stop.")
    stopped = ConsentEvent.objects.get().at.astimezone(timezone.get_current_timezone())

    response = _send(staff_client)

    assert response.status_code == 409
    answer = response.json()
    sentence = (
        f"Not sent: this patient opted out of texts on {stopped:%a} {stopped.day} "
        f"{stopped:%b %Y at %H:%M} by texting STOP to +1 415 555 0100. They can text START "
        "to opt back in."
    )
    assert answer["information"] == sentence
    assert answer["fields"] == {"numberTo": sentence}
    assert _twilio_posts(mocked_twilio) == 0
    assert not Message.objects.filter(direction="outbound-api").exists()


def test_with_account_scope_a_stop_to_one_number_stops_texts_from_all(
    staff_client, mocked_twilio, phones, settings
):
    settings.CONSENT_SCOPE = "account"
    _patient_texts(staff_client, "STOP", ours=NURSE_LINE)

    assert _send(staff_client, ours=FRONT_DESK).status_code == 409
    assert _send(staff_client, ours=NURSE_LINE).status_code == 409
    assert _twilio_posts(mocked_twilio) == 0


def test_with_number_scope_a_stop_stops_texts_only_from_that_number(
    staff_client, mocked_twilio, phones, settings
):
    settings.CONSENT_SCOPE = "number"
    _patient_texts(staff_client, "STOP", ours=NURSE_LINE)
    _twilio_accepts(mocked_twilio, ours=FRONT_DESK)

    assert _send(staff_client, ours=NURSE_LINE).status_code == 409
    assert _send(staff_client, ours=FRONT_DESK).status_code == 200
    assert _twilio_posts(mocked_twilio) == 1


def test_changing_the_scope_loses_no_opt_out(settings):
    consent.record(patient_number=PATIENT, our_number=NURSE_LINE, opted_out=True,
                   source="keyword")  # fmt: skip

    for scope, front_desk_too in (("account", True), ("number", False), ("account", True)):
        settings.CONSENT_SCOPE = scope
        assert consent.is_opted_out(our_number=NURSE_LINE, patient_number=PATIENT)
        assert consent.is_opted_out(our_number=FRONT_DESK, patient_number=PATIENT) is (
            front_desk_too
        )


def test_with_account_scope_start_to_any_number_lifts_it_everywhere(
    staff_client, mocked_twilio, phones, settings
):
    settings.CONSENT_SCOPE = "account"
    _patient_texts(staff_client, "STOP", ours=NURSE_LINE, n=1)
    _patient_texts(staff_client, "start", ours=FRONT_DESK, n=2)
    _twilio_accepts(mocked_twilio, ours=NURSE_LINE)

    assert _send(staff_client, ours=NURSE_LINE).status_code == 200


def test_other_patients_are_not_affected(staff_client, mocked_twilio, phones):
    _patient_texts(staff_client, "STOP")
    _twilio_accepts(mocked_twilio, to=OTHER_PATIENT)

    assert _send(staff_client, to=OTHER_PATIENT).status_code == 200


# --- Twilio's 21610 -----------------------------------------------------------------------


def test_twilios_21610_records_the_opt_out_and_answers_the_same_409(
    staff_client, mocked_twilio, phones
):
    tw.add_error(mocked_twilio, "POST", "Messages.json", 400, 21610,
                 "Attempt to send to unsubscribed recipient")  # fmt: skip

    response = _send(staff_client)

    assert response.status_code == 409
    answer = response.json()
    assert (
        "Twilio reported when it refused a text from +1 415 555 0100 (error 21610)"
        in (answer["information"])
    )
    assert "They can text START to opt back in." in answer["information"]
    assert answer["fields"] == {"numberTo": answer["information"]}
    event = ConsentEvent.objects.get()
    assert (event.source, event.opted_out, event.our_number, event.patient_number) == (
        "twilio_21610", True, FRONT_DESK, PATIENT,
    )  # fmt: skip

    assert _send(staff_client, ours=NURSE_LINE).status_code == 409  # account scope
    assert _twilio_posts(mocked_twilio) == 1  # the second one never reached Twilio


def test_a_21610_in_a_status_callback_records_the_opt_out_once(client, mocked_twilio):
    params = {"MessageSid": "SM" + "d" * 32, "MessageStatus": "failed", "ErrorCode": "21610",
              "From": FRONT_DESK, "To": PATIENT, "AccountSid": "AC" + "0" * 32}  # fmt: skip
    for status in ("failed", "failed"):  # Twilio retries callbacks
        params["MessageStatus"] = status
        response = post_signed(client, reverse("smsapp:outbound_api_status"), params)
        assert response.status_code == 200

    event = ConsentEvent.objects.get()
    assert (event.source, event.message_sid) == ("twilio_21610", "SM" + "d" * 32)
    assert consent.is_opted_out(our_number=FRONT_DESK, patient_number=PATIENT)


# --- opting back in -----------------------------------------------------------------------


def test_start_lifts_the_opt_out(staff_client, mocked_twilio, phones):
    _patient_texts(staff_client, "STOP", n=1)
    _patient_texts(staff_client, "Start", n=2)
    _twilio_accepts(mocked_twilio)

    assert _send(staff_client).status_code == 200
    assert _twilio_posts(mocked_twilio) == 1


def test_consent_staff_record_with_a_note_lifts_the_opt_out(staff_client, mocked_twilio, phones):
    _patient_texts(staff_client, "STOP")
    consent.record_by_staff(patient_number=PATIENT, opted_out=False, user=None,
                            note="Signed the SMS consent form at the front desk.")  # fmt: skip
    _twilio_accepts(mocked_twilio)

    assert _send(staff_client).status_code == 200


def test_an_old_keyword_found_late_does_not_undo_a_newer_one():
    now = timezone.now()
    consent.record(patient_number=PATIENT, our_number=FRONT_DESK, opted_out=False,
                   source="keyword", at=now)  # fmt: skip
    consent.record(patient_number=PATIENT, our_number=FRONT_DESK, opted_out=True,
                   source="keyword", at=now - timedelta(hours=1))  # fmt: skip

    assert not consent.is_opted_out(our_number=FRONT_DESK, patient_number=PATIENT)
    assert ConsentEvent.objects.count() == 2  # the history keeps both


# --- scheduled texts ----------------------------------------------------------------------


def test_a_text_cannot_be_scheduled_for_a_patient_who_opted_out(
    staff_client, mocked_twilio, phones
):
    _patient_texts(staff_client, "STOP")
    later = (timezone.now() + timedelta(hours=2)).isoformat()

    response = _send(staff_client, sendAt=later)

    assert response.status_code == 409
    assert response.json()["fields"].keys() == {"numberTo"}
    assert not ScheduledMessage.objects.exists()


def test_a_scheduled_text_to_a_patient_who_opted_out_since_fails_with_the_reason(
    staff_client, mocked_twilio, phones, run_jobs
):
    later = (timezone.now() + timedelta(hours=2)).isoformat()
    assert _send(staff_client, sendAt=later).status_code == 202
    _patient_texts(staff_client, "STOP")
    ScheduledMessage.objects.update(send_at=timezone.now())
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())

    run_jobs()

    item = ScheduledMessage.objects.get()
    assert item.state == "failed"
    assert item.error.startswith("Not sent: this patient opted out of texts on ")
    assert "text START" in item.error
    assert _twilio_posts(mocked_twilio) == 0


# --- reading consent ----------------------------------------------------------------------


def test_the_page_reads_a_patients_consent(client, phones):
    client.force_login(user_in_role(AGENTS, "agent"))
    url = f"{API}consent/{PATIENT}?from={FRONT_DESK}"  # an unencoded +, mended
    assert client.get(url).json() == {
        "number": PATIENT, "from": FRONT_DESK, "scope": "account", "optedOut": False,
        "information": "This patient may be texted: no opt-out is recorded.",
        "since": None, "source": None,
    }  # fmt: skip

    _patient_texts(client, "STOP")
    answer = client.get(url).json()

    event = ConsentEvent.objects.get()
    assert (answer["optedOut"], answer["source"]) == (True, "keyword")
    assert answer["since"] == event.at.isoformat()
    assert answer["information"].startswith("This patient opted out of texts on ")


def test_reading_consent_needs_our_number(staff_client):
    response = staff_client.get(f"{API}consent/{PATIENT}")

    assert response.status_code == 400
    assert response.json()["fields"].keys() == {"from"}


def test_opted_out_numbers_reads_a_page_of_conversations_in_one_query(settings):
    patients = [f"+1415555{n:04d}" for n in range(200, 250)]
    for patient in patients[::5]:
        consent.record(patient_number=patient, our_number=NURSE_LINE, opted_out=True,
                       source="keyword")  # fmt: skip

    for scope, from_front_desk in (("account", set(patients[::5])), ("number", set())):
        settings.CONSENT_SCOPE = scope
        with CaptureQueriesContext(connection) as queries:
            found = consent.opted_out_numbers(FRONT_DESK, patients)
        assert found == from_front_desk
        assert len(queries) == 1
    assert consent.opted_out_numbers(NURSE_LINE, patients) == set(patients[::5])


def test_a_send_leaves_a_consent_row_only_to_lock_on_postgresql(
    staff_client, mocked_twilio, phones
):
    _twilio_accepts(mocked_twilio)

    assert _send(staff_client).status_code == 200

    rows = list(Consent.objects.values_list("patient_number", "our_number", "opted_out", "event"))
    expected = [(PATIENT, "", False, None)] if connection.vendor == "postgresql" else []
    assert rows == expected
