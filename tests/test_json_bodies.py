"""JSON bodies on every route that takes one: a lone UTF-16 surrogate (JSON's "\\ud800"
escape, half of a pair) parses into a string no database, log or HTTP client can
encode. It is a 400 naming the field, before anything is stored or sent to Twilio;
never a 500, and never sms_send's "Twilio sent an answer we could not read"."""

import json

import pytest
from django.test import Client

from smsapp.models import Message, Phone
from tests import twilio_payloads as tw
from tests.factories import PhoneFactory
from tests.test_embed import bearer, launched_api_token

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
US = "+14155550100"
PATIENT = "+14155550199"
BROKEN = "\\ud800"  # as it travels in JSON: a backslash escape, valid JSON text


def _post(client, url, raw: str, **extra):
    return client.post(url, data=raw, content_type="application/json", **extra)


@pytest.fixture
def phone(db):
    return PhoneFactory(sid=tw.phone_sid(1), phone_number=US, sms=True, mms=True)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (f'{{"numberFrom": "{US}", "numberTo": "{PATIENT}", "text": "Hi {BROKEN}"}}', "text"),
        (f'{{"numberFrom": "{US}", "numberTo": "{PATIENT}{BROKEN}", "text": "Hi"}}', "numberTo"),
        (f'{{"numberFrom": "{US}", "numberTo": "{PATIENT}", "text": "Hi", '
         f'"mediaUrls": ["https://example.org/{BROKEN}.jpg"]}}', "mediaUrls"),
        (f'{{"numberFrom": "{US}", "numberTo": "{PATIENT}", "text": "Hi", "{BROKEN}": 1}}',
         "\\ud800"),
    ],
    ids=["text", "numberTo", "in-a-list", "a-key"],
)  # fmt: skip
def test_sms_send_names_the_field_and_never_calls_twilio(
    staff_client, mocked_twilio, phone, raw, field
):
    response = _post(staff_client, f"{API}sms_send", raw)

    assert response.status_code == 400
    body = response.json()
    assert "broken character" in body["information"]
    assert list(body["fields"]) == [field]
    assert len(mocked_twilio.calls) == 0
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("route", "raw", "field"),
    [
        (f"inbound_webhook/{tw.phone_sid(1)}", f'{{"url": "https://x.org/{BROKEN}"}}', "url"),
        (f"inbound_webhook/{tw.phone_sid(1)}", f'{{"url": "https://x.org", "method": "P{BROKEN}"}}',
         "method"),
        (f"inbound_webhook/{tw.phone_sid(1)}/this_app", f'{{"note": "{BROKEN}"}}', "note"),
        ("sync", f'{{"since": "{BROKEN}"}}', "since"),
    ],
    ids=["webhook-url", "webhook-method", "this-app", "sync"],
)  # fmt: skip
def test_the_administrators_routes_name_the_field(
    staff_client, mocked_twilio, phone, route, raw, field
):
    response = _post(staff_client, f"{API}{route}", raw)

    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]
    assert len(mocked_twilio.calls) == 0
    assert Phone.objects.get().sms_url == phone.sms_url


def test_sandbox_inbound_names_the_field_instead_of_a_500(staff_client, settings):
    settings.TWILIO_SANDBOX = True

    response = _post(
        staff_client,
        f"{API}sandbox/inbound",
        f'{{"from": "{PATIENT}", "to": "+15005550006", "body": "hello {BROKEN}"}}',
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["body"]


def test_the_embed_routes_name_the_field():
    token = launched_api_token()

    launch = _post(Client(), "/embed/launch/", f'{{"launch": "{BROKEN}"}}')
    renew = _post(Client(), "/embed/renew/", f'{{"x": "{BROKEN}"}}', **bearer(token))

    assert (launch.status_code, list(launch.json()["fields"])) == (400, ["launch"])
    assert (renew.status_code, list(renew.json()["fields"])) == (400, ["x"])


def test_a_whole_surrogate_pair_is_an_ordinary_character(staff_client, mocked_twilio, phone):
    """An emoji outside the basic plane travels in JSON as a pair: that is fine."""
    sent = mocked_twilio.post(
        tw.account_url("Messages.json"), json=tw.message_json(1, from_=US, to=PATIENT), status=201
    )
    raw = json.dumps({"numberFrom": US, "numberTo": PATIENT, "text": "Hi 👻"})  # ensure_ascii

    response = _post(staff_client, f"{API}sms_send", raw)

    assert "\\ud83d\\udc7b" in raw
    assert response.status_code == 200, response.content
    assert sent.call_count == 1
