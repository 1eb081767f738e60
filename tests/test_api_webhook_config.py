"""inbound_webhook/<phone_sid> and .../this_app: a number's SMS webhook, set on Twilio and
then in the mirror from what Twilio answered."""

import json
from urllib.parse import parse_qs

import pytest

from smsapp.models import Phone
from tests import twilio_payloads as tw
from tests.factories import PhoneFactory

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
OUR_WEBHOOK = "https://sms.example.org/plugin-io/api/twilio_sms_mms/inbound_treatment"


@pytest.fixture
def phone(db):
    return PhoneFactory(sid=tw.phone_sid(3), sms_url="", sms_method="POST")


def _post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _twilio_updates(mocked_twilio, phone, **answer):
    return mocked_twilio.post(
        tw.account_url(f"IncomingPhoneNumbers/{phone.sid}.json"),
        json=tw.phone_json(3, phone_number=phone.phone_number, **answer),
    )


def _form(mocked_twilio):
    [call] = mocked_twilio.calls
    return parse_qs(call.request.body, keep_blank_values=True)


def test_it_sets_the_webhook_on_twilio_then_in_the_mirror(staff_client, mocked_twilio, phone):
    _twilio_updates(mocked_twilio, phone, sms_url="https://hooks.example.org/in", sms_method="GET")

    response = _post(
        staff_client, f"{API}inbound_webhook/{phone.sid}",
        {"url": "https://hooks.example.org/in", "method": "get"},
    )  # fmt: skip

    assert response.status_code == 200
    assert response.json() == {"result": True}
    assert _form(mocked_twilio) == {
        "SmsUrl": ["https://hooks.example.org/in"],
        "SmsMethod": ["GET"],
    }
    phone.refresh_from_db()
    assert (phone.sms_url, phone.sms_method) == ("https://hooks.example.org/in", "GET")
    assert phone.synced_at is not None


def test_an_empty_url_clears_the_webhook(staff_client, mocked_twilio, phone):
    Phone.objects.filter(pk=phone.pk).update(sms_url="https://old.example.org")
    _twilio_updates(mocked_twilio, phone, sms_url="")

    response = _post(
        staff_client, f"{API}inbound_webhook/{phone.sid}", {"url": "", "method": "POST"}
    )

    assert response.status_code == 200
    assert _form(mocked_twilio)["SmsUrl"] == [""]
    phone.refresh_from_db()
    assert phone.sms_url == ""


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "http://hooks.example.org/in", "method": "POST"}, "url", "https://"),
        ({"url": "ftp://x", "method": "POST"}, "url", "https://"),
        ({"url": 12, "method": "POST"}, "url", "https://"),
        ({"url": "https://hooks.example.org/in", "method": "PUT"}, "method", "GET or POST"),
        ({"url": "https://hooks.example.org/in", "method": 1}, "method", "GET or POST"),
    ],
)
def test_bad_input_is_a_400_and_twilio_is_not_called(
    staff_client, mocked_twilio, phone, body, field, words
):
    response = _post(staff_client, f"{API}inbound_webhook/{phone.sid}", body)

    assert response.status_code == 400
    assert words in response.json()["fields"][field]
    assert len(mocked_twilio.calls) == 0


@pytest.mark.parametrize("sid", [tw.phone_sid(77), "PN-not-a-sid"])
def test_an_unknown_phone_sid_is_a_404(staff_client, mocked_twilio, sid):
    response = _post(
        staff_client, f"{API}inbound_webhook/{sid}", {"url": "https://x.org", "method": "POST"}
    )

    assert response.status_code == 404
    assert "sync_twilio" in response.json()["information"]
    assert len(mocked_twilio.calls) == 0


def test_a_non_json_body_is_a_400(staff_client, mocked_twilio, phone):
    response = staff_client.post(
        f"{API}inbound_webhook/{phone.sid}", data="url=x", content_type="application/json"
    )

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["information"]


def test_twilio_refusing_is_a_502_and_the_mirror_is_unchanged(staff_client, mocked_twilio, phone):
    tw.add_error(mocked_twilio, "POST", f"IncomingPhoneNumbers/{phone.sid}.json", 400, 21402,
                 "Url is not valid")  # fmt: skip

    response = _post(
        staff_client,
        f"{API}inbound_webhook/{phone.sid}",
        {"url": "https://x.org", "method": "POST"},
    )

    assert response.status_code == 502
    assert "Url is not valid" in response.json()["information"]
    phone.refresh_from_db()
    assert phone.sms_url == ""


def test_this_app_points_the_number_at_our_inbound_webhook(staff_client, mocked_twilio, phone):
    _twilio_updates(mocked_twilio, phone, sms_url=OUR_WEBHOOK, sms_method="POST")

    response = _post(staff_client, f"{API}inbound_webhook/{phone.sid}/this_app", {})

    assert response.status_code == 200
    assert response.json() == {"result": True, "url": OUR_WEBHOOK, "method": "POST"}
    assert _form(mocked_twilio) == {"SmsUrl": [OUR_WEBHOOK], "SmsMethod": ["POST"]}
    phone.refresh_from_db()
    assert phone.sms_url == OUR_WEBHOOK
    listed = staff_client.get(f"{API}phone_list").json()
    assert listed[0]["pointsHere"] is True


def test_this_app_without_a_public_address_is_a_503_sentence(
    staff_client, mocked_twilio, phone, settings
):
    settings.PUBLIC_BASE_URL = ""

    response = _post(staff_client, f"{API}inbound_webhook/{phone.sid}/this_app", {})

    assert response.status_code == 503
    assert "PUBLIC_BASE_URL" in response.json()["information"]
    assert len(mocked_twilio.calls) == 0


def test_this_app_for_an_unknown_phone_is_a_404(staff_client, mocked_twilio):
    response = _post(staff_client, f"{API}inbound_webhook/{tw.phone_sid(9)}/this_app", {})

    assert response.status_code == 404
    assert len(mocked_twilio.calls) == 0
