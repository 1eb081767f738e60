"""sms_send: validate against the mirror, send through Twilio, mirror what it answered."""

import json
from urllib.parse import parse_qs

import pytest
from django.db import OperationalError

from smsapp.models import Message, StatusEvent
from smsapp.services import messages
from tests import twilio_payloads as tw
from tests.factories import PhoneFactory

pytestmark = pytest.mark.django_db

URL = "/plugin-io/api/twilio_sms_mms/sms_send"
US = "+14155550100"
PATIENT = "+14155550199"
OUR_STATUS_WEBHOOK = "https://sms.example.org/plugin-io/api/twilio_sms_mms/outbound_api_status"


@pytest.fixture
def phone(db):
    return PhoneFactory(phone_number=US, sms=True, mms=True)


def _send(client, **body):
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def _twilio_accepts(mocked_twilio, **overrides):
    answer = tw.message_json(
        1, from_=US, to=PATIENT, status="queued", date_sent=None, price=None, **overrides
    )
    mocked_twilio.post(tw.account_url("Messages.json"), json=answer, status=201)
    return answer


def _sent_form(mocked_twilio) -> dict[str, list[str]]:
    [call] = [c for c in mocked_twilio.calls if c.request.method == "POST"]
    return parse_qs(call.request.body)


def test_it_sends_an_sms_and_mirrors_it(staff_client, mocked_twilio, phone):
    answer = _twilio_accepts(mocked_twilio, body="Your appointment is at 3pm")

    response = _send(
        staff_client, numberFrom=US, numberFromSid=phone.sid, numberTo=PATIENT,
        text="Your appointment is at 3pm",
    )  # fmt: skip

    assert response.status_code == 200
    assert _sent_form(mocked_twilio) == {
        "From": [US],
        "To": [PATIENT],
        "Body": ["Your appointment is at 3pm"],
        "StatusCallback": [OUR_STATUS_WEBHOOK],
    }
    body = response.json()
    assert (body["sid"], body["status"], body["sent"], body["media"]) == (
        answer["sid"], "queued", None, [],
    )  # fmt: skip
    mirrored = Message.objects.get(sid=answer["sid"])
    assert (mirrored.from_number, mirrored.to_number, mirrored.status) == (US, PATIENT, "queued")
    assert mirrored.body == "Your appointment is at 3pm"


def test_a_text_twilio_accepted_is_answered_even_if_the_mirror_cannot_store_it(
    staff_client, mocked_twilio, phone, monkeypatch
):
    answer = _twilio_accepts(mocked_twilio)

    def database_is_locked(record, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(messages, "mirror_message", database_is_locked)
    response = _send(staff_client, numberFrom=US, numberTo=PATIENT, text="Hi")

    # Not an error: staff would press Send again and the patient get the text twice. But
    # the answer says the log does not show it yet.
    assert response.status_code == 200
    body = response.json()
    assert (body["sid"], body["status"], body["mirrored"]) == (answer["sid"], "queued", False)
    assert "Do not send it again" in body["information"]


def test_the_answer_has_the_message_routes_shape(staff_client, mocked_twilio, phone):
    answer = _twilio_accepts(mocked_twilio)

    sent = _send(staff_client, numberFrom=US, numberTo=PATIENT, text="Hi").json()

    assert sent == staff_client.get(f"/plugin-io/api/twilio_sms_mms/message/{answer['sid']}").json()


def test_it_sends_an_mms_with_several_media(staff_client, mocked_twilio, phone):
    _twilio_accepts(mocked_twilio, num_media=2)
    urls = ["https://example.org/a.jpg", "https://example.org/b.png"]

    response = _send(staff_client, numberFrom=US, numberTo=PATIENT, text="", mediaUrls=urls)

    assert response.status_code == 200
    form = _sent_form(mocked_twilio)
    assert form["MediaUrl"] == urls
    assert "Body" not in form


def test_the_to_number_is_normalised_to_e164(staff_client, mocked_twilio, phone):
    _twilio_accepts(mocked_twilio)

    _send(staff_client, numberFrom=US, numberTo="+1 (415) 555-0199", text="Hi")

    assert _sent_form(mocked_twilio)["To"] == [PATIENT]


def test_a_given_callback_url_is_used(staff_client, mocked_twilio, phone):
    _twilio_accepts(mocked_twilio)

    _send(staff_client, numberFrom=US, numberTo=PATIENT, text="Hi",
          callbackUrl="https://hooks.example.org/status")  # fmt: skip

    assert _sent_form(mocked_twilio)["StatusCallback"] == ["https://hooks.example.org/status"]


def test_no_callback_without_a_public_address(staff_client, mocked_twilio, phone, settings):
    settings.PUBLIC_BASE_URL = ""
    _twilio_accepts(mocked_twilio)

    _send(staff_client, numberFrom=US, numberTo=PATIENT, text="Hi")

    assert "StatusCallback" not in _sent_form(mocked_twilio)


def test_status_callbacks_that_beat_the_answer_are_applied(staff_client, mocked_twilio, phone):
    answer = _twilio_accepts(mocked_twilio)
    # Twilio called back before our create call returned; the webhook kept the event.
    StatusEvent.objects.create(message_id=answer["sid"], status="sent", payload={})

    body = _send(staff_client, numberFrom=US, numberTo=PATIENT, text="Hi").json()

    assert body["status"] == "sent"
    assert Message.objects.get(sid=answer["sid"]).status == "sent"


def test_an_existing_row_keeps_its_newer_status(staff_client, mocked_twilio, phone):
    answer = _twilio_accepts(mocked_twilio)
    # A status callback (or a sync) created the row first, with a newer status.
    Message.objects.create(
        sid=answer["sid"], from_number=US, to_number=PATIENT, status="delivered",
        direction="outbound-api", date_created="2026-11-01T12:00:00Z",
    )  # fmt: skip

    _send(staff_client, numberFrom=US, numberTo=PATIENT, text="Hi")

    row = Message.objects.get(sid=answer["sid"])
    assert (row.status, row.body) == ("delivered", "Message number 1")


# --- validation: each failure is a 400 naming the field, and nothing is sent -------------


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"numberTo": PATIENT, "text": "Hi"}, "numberFrom", "E.164"),
        ({"numberFrom": "+14155550111", "numberTo": PATIENT, "text": "Hi"}, "numberFrom",
         "not one of this account's Twilio numbers"),
        ({"numberFrom": US, "text": "Hi"}, "numberTo", "E.164"),
        ({"numberFrom": US, "numberTo": "4155550199", "text": "Hi"}, "numberTo", "Start it with +"),
        ({"numberFrom": US, "numberTo": "+1415555019", "text": "Hi"}, "numberTo",
         "not a valid phone number"),
        ({"numberFrom": US, "numberTo": 14155550199, "text": "Hi"}, "numberTo", "E.164"),
        ({"numberFrom": US, "numberTo": PATIENT}, "text", "Write a message"),
        ({"numberFrom": US, "numberTo": PATIENT, "text": "   "}, "text", "Write a message"),
        ({"numberFrom": US, "numberTo": PATIENT, "text": 5}, "text", "must be a string"),
        ({"numberFrom": US, "numberTo": PATIENT, "text": "x" * 1601}, "text", "at most 1,600"),
        ({"numberFrom": US, "numberTo": PATIENT, "text": "a\x00b"}, "text", "NUL character"),
        ({"numberFrom": US, "numberTo": PATIENT, "mediaUrls": "x"}, "mediaUrls", "a list"),
        ({"numberFrom": US, "numberTo": PATIENT, "mediaUrls": ["http://example.org/a.jpg"]},
         "mediaUrls", "https://"),
        ({"numberFrom": US, "numberTo": PATIENT, "mediaUrls": [5]}, "mediaUrls", "Media item 1"),
        ({"numberFrom": US, "numberTo": PATIENT, "mediaUrls": ["https://x.org/a\x00.jpg"]},
         "mediaUrls", "https://"),
        ({"numberFrom": US, "numberTo": PATIENT,
          "mediaUrls": [f"https://example.org/{n}.jpg" for n in range(11)]},
         "mediaUrls", "at most 10"),
        ({"numberFrom": US, "numberTo": PATIENT, "text": "Hi", "callbackUrl": "http://x.org"},
         "callbackUrl", "https://"),
        ({"numberFrom": US, "numberTo": PATIENT, "text": "Hi", "callbackUrl": 3},
         "callbackUrl", "https://"),
        ({"numberFrom": US, "numberTo": PATIENT, "text": "Hi", "numberFromSid": "PNnope"},
         "numberFromSid", "phone number SID"),
        ({"numberFrom": US, "numberTo": PATIENT, "text": "Hi", "numberFromSid": "PN" + "f" * 32},
         "numberFromSid", "is not the SID of"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field(
    staff_client, mocked_twilio, phone, body, field, words
):
    response = _send(staff_client, **body)

    assert response.status_code == 400
    payload = response.json()
    assert words in payload["fields"][field]
    assert payload["information"] == payload["fields"][field]
    assert len(mocked_twilio.calls) == 0
    assert not Message.objects.exists()


def test_exactly_1600_characters_may_be_sent(staff_client, mocked_twilio, phone):
    _twilio_accepts(mocked_twilio)

    response = _send(staff_client, numberFrom=US, numberTo=PATIENT, text="é" * 1600)

    assert response.status_code == 200
    assert _sent_form(mocked_twilio)["Body"] == ["é" * 1600]


def test_every_faulty_field_is_named_at_once(staff_client, mocked_twilio, phone):
    response = _send(staff_client, numberFrom="nope", numberTo="", text=5, mediaUrls="x")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"numberFrom", "numberTo", "text", "mediaUrls"}


def test_a_number_without_sms_is_a_400_not_a_500(staff_client, mocked_twilio):
    PhoneFactory(phone_number=US, sms=False, mms=False)

    response = _send(staff_client, numberFrom=US, numberTo=PATIENT, text="Hi")

    assert response.status_code == 400
    assert "no SMS capability" in response.json()["fields"]["numberFrom"]
    assert len(mocked_twilio.calls) == 0


def test_media_from_a_number_without_mms_is_a_400(staff_client, mocked_twilio):
    PhoneFactory(phone_number=US, sms=True, mms=False)

    response = _send(
        staff_client, numberFrom=US, numberTo=PATIENT, mediaUrls=["https://example.org/a.jpg"]
    )

    assert response.status_code == 400
    assert "no MMS capability" in response.json()["fields"]["numberFrom"]
    assert len(mocked_twilio.calls) == 0


@pytest.mark.parametrize(
    ("raw", "words"),
    [(b"text=hi", "not valid JSON"), (b"{not json", "not valid JSON"),
     (b'["a list"]', "must be a JSON object"), (b"42", "must be a JSON object"),
     (b"\xff\xfe", "not valid JSON"), (b"[" * 100_000, "not valid JSON")],
)  # fmt: skip
def test_a_body_that_is_not_a_json_object_is_a_400_sentence(
    staff_client, mocked_twilio, phone, raw, words
):
    response = staff_client.post(URL, data=raw, content_type="application/json")

    assert response.status_code == 400
    assert words in response.json()["information"]
    assert len(mocked_twilio.calls) == 0


# --- Twilio's answers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "ours", "field", "words"),
    [
        (400, 21211, 400, "numberTo", "not a valid phone number"),
        (400, 21610, 409, "numberTo", "opted out"),
        (400, 21608, 400, "numberTo", "verified numbers"),
        (400, 21606, 400, "numberFrom", "cannot send this kind of message"),
        (401, 20003, 503, None, "Twilio credentials were refused"),
        (400, 21617, 502, None, "Twilio refused the request"),
        (429, 20429, 503, None, "limiting how fast"),
    ],
)
def test_twilio_errors_become_sentences_with_the_right_status(
    staff_client, mocked_twilio, phone, settings, status, code, ours, field, words
):
    settings.TWILIO_MAX_RETRIES = 0
    tw.add_error(mocked_twilio, "POST", "Messages.json", status, code, "Twilio's words")

    response = _send(staff_client, numberFrom=US, numberTo=PATIENT, text="Hi")

    assert response.status_code == ours
    payload = response.json()
    assert words in payload["information"]
    assert payload.get("fields") == ({field: payload["information"]} if field else None)
    assert not Message.objects.exists()


def test_without_twilio_credentials_it_is_a_503_sentence(staff_client, mocked_twilio, phone,
                                                         settings):  # fmt: skip
    settings.TWILIO_API_KEY = settings.TWILIO_API_SECRET = settings.TWILIO_AUTH_TOKEN = ""

    response = _send(staff_client, numberFrom=US, numberTo=PATIENT, text="Hi")

    assert response.status_code == 503
    assert "TWILIO_ACCOUNT_SID" in response.json()["information"]
    assert len(mocked_twilio.calls) == 0


def test_a_twilio_answer_without_a_sid_is_a_502_never_a_200_with_no_sid(
    staff_client, mocked_twilio
):
    PhoneFactory(phone_number=US, sms=True)
    mocked_twilio.post(
        tw.account_url("Messages.json"), json=tw.message_json(1, sid=None), status=201
    )

    response = staff_client.post(
        URL,
        data=json.dumps({"numberFrom": US, "numberTo": PATIENT, "text": "Hi"}),
        content_type="application/json",
    )

    assert response.status_code == 502
    assert "check the Twilio console" in response.json()["information"]
    assert not Message.objects.exists()
