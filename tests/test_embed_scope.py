"""EMBED_SCOPE=patient: a session opened from a chart reaches only the launched patient's
messages (reading them and their media, sending to and deleting them); every other
route that reaches patients is a 403 sentence. EMBED_SCOPE=clinic (the default) and
sessions signed in with a cookie are not limited."""

import json

import pytest
from django.test import Client, override_settings

from smsapp.models import Message
from smsapp.web.scope import OUT_OF_SCOPE
from tests import twilio_payloads as tw
from tests.factories import MediaFactory, MessageFactory, PhoneFactory
from tests.test_embed import bearer, chart_token, launched_api_token, trade

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
US = "+14155550100"
PATIENT = "+14155550199"  # the launched patient
OTHER = "+14155550177"  # another patient


@pytest.fixture
def limited(settings):
    """An embed session of an SMS administrator (so a refusal is the scope, not the
    role), limited to the launched patient."""
    settings.EMBED_SCOPE = "patient"
    settings.CANVAS_DEFAULT_GROUP = "SMS administrators"
    PhoneFactory(sid=tw.phone_sid(1), phone_number=US, sms=True)
    token = launched_api_token(phone=PATIENT)
    client = Client()

    def call(method: str, route: str, body=None, *, token=token):
        kwargs = (
            {} if body is None else {"data": json.dumps(body), "content_type": "application/json"}
        )
        url = route if route.startswith("/") else f"{API}{route}"
        return getattr(client, method)(url, **bearer(token), **kwargs)

    return call


def _threads():
    ours = MessageFactory(from_number=US, to_number=PATIENT, num_media=1)
    theirs = MessageFactory(from_number=OTHER, to_number=US, num_media=1)
    return ours, theirs


def _refused(response) -> None:
    assert response.status_code == 403
    assert response.json()["information"] == OUT_OF_SCOPE


def test_the_session_knows_it_is_limited(settings):
    settings.EMBED_SCOPE = "patient"

    response = trade(Client(), chart_token(phone=PATIENT))

    assert response.json()["session"]["scope"] == "patient"


def test_the_patients_conversation_and_messages_are_readable(limited):
    ours, _ = _threads()

    assert limited("get", f"conversation/{US}/{PATIENT}").status_code == 200
    assert limited("get", f"conversation/{PATIENT}/{US}").status_code == 200
    assert limited("get", f"message/{ours.sid}").status_code == 200


def test_another_patients_conversation_and_messages_are_not(limited, mocked_twilio):
    _, theirs = _threads()

    _refused(limited("get", f"conversation/{US}/{OTHER}"))
    _refused(limited("get", f"message/{theirs.sid}"))
    _refused(limited("get", f"medias/{theirs.sid}"))
    _refused(limited("get", f"medias/{theirs.sid}/{tw.media_sid(1)}"))
    # A message the mirror does not hold could be anyone's: refused before Twilio is asked.
    _refused(limited("get", f"message/{tw.UNKNOWN_MESSAGE_SID}"))
    assert len(mocked_twilio.calls) == 0


def test_the_patients_media_are_served(limited, mocked_twilio):
    ours, _ = _threads()
    item = MediaFactory(message=ours, content_type="image/png")
    mocked_twilio.get(
        tw.account_url(f"Messages/{ours.sid}/Media/{item.sid}"),
        body=b"png",
        content_type="image/png",
    )

    assert limited("get", f"medias/{ours.sid}/{item.sid}").status_code == 200


def test_sending_reaches_only_the_patient(limited, mocked_twilio):
    created = mocked_twilio.post(
        tw.account_url("Messages.json"), json=tw.message_json(5, from_=US, to=PATIENT), status=201
    )

    refused = limited("post", "sms_send", {"numberFrom": US, "numberTo": OTHER, "text": "Hi"})
    sent = limited("post", "sms_send", {"numberFrom": US, "numberTo": PATIENT, "text": "Hi"})

    _refused(refused)
    assert sent.status_code == 200
    assert created.call_count == 1


def test_only_the_patients_consent_is_readable(limited):
    assert limited("get", f"consent/{PATIENT}?from=%2B14155550100").status_code == 200
    _refused(limited("get", f"consent/{OTHER}?from=%2B14155550100"))


def test_deleting_reaches_only_the_patients_messages(limited, mocked_twilio):
    ours, theirs = _threads()
    deleted = mocked_twilio.delete(tw.account_url(f"Messages/{ours.sid}.json"), status=204)

    _refused(limited("delete", f"message_delete/{theirs.sid}"))
    assert limited("delete", f"message_delete/{ours.sid}").status_code == 200
    assert deleted.call_count == 1
    assert Message.objects.filter(sid=theirs.sid).exists()


def test_routes_beyond_one_conversation_are_refused_and_our_numbers_are_not(limited, mocked_twilio):
    _refused(limited("get", f"message_list/{US}/from"))
    _refused(limited("get", f"message_list/{PATIENT}/to"))
    _refused(limited("post", "sync", {}))
    _refused(limited("post", f"inbound_webhook/{tw.phone_sid(1)}", {"url": "https://x.org"}))
    _refused(limited("post", f"inbound_webhook/{tw.phone_sid(1)}/this_app", {}))
    assert len(mocked_twilio.calls) == 0
    # The numbers to send from hold no patient's data.
    assert limited("get", "phone_list").status_code == 200


def test_the_session_is_renewed_as_usual(limited):
    assert limited("post", "/embed/renew/", {}).status_code == 200


def test_a_chart_without_a_mobile_number_reaches_no_conversation(settings):
    settings.EMBED_SCOPE = "patient"
    ours, _ = _threads()
    token = launched_api_token()

    response = Client().get(f"{API}message/{ours.sid}", **bearer(token))

    _refused(response)


def test_with_the_clinic_scope_an_embed_session_reaches_every_conversation():
    _, theirs = _threads()
    token = launched_api_token(phone=PATIENT)

    assert Client().get(f"{API}message/{theirs.sid}", **bearer(token)).status_code == 200
    assert Client().get(f"{API}message_list/{US}/to", **bearer(token)).status_code == 200


@override_settings(EMBED_SCOPE="patient")
def test_a_session_signed_in_with_a_cookie_is_never_limited(agent_client):
    _, theirs = _threads()

    assert agent_client.get(f"{API}message/{theirs.sid}").status_code == 200
    assert agent_client.get(f"{API}message_list/{US}/to").status_code == 200


def test_the_sandbox_simulates_only_the_patients_texts(limited, settings):
    settings.TWILIO_SANDBOX = True

    response = limited("post", "sandbox/inbound", {"from": OTHER, "to": US, "body": "hello"})

    _refused(response)
