"""phone_list: the account's numbers from the mirror, in the original plugin's shape; on
a fresh install, read from Twilio first."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from smsapp.models import Message, Phone, SyncRun
from tests import twilio_payloads as tw
from tests.factories import PhoneFactory

pytestmark = pytest.mark.django_db

URL = "/plugin-io/api/twilio_sms_mms/phone_list"
OUR_WEBHOOK = "https://sms.example.org/plugin-io/api/twilio_sms_mms/inbound_treatment"


def test_the_route_is_the_original_plugins_path():
    assert reverse("smsapp:phone_list") == URL


def test_it_lists_every_number_key_for_key(staff_client):
    phone = PhoneFactory(
        phone_number="+14155550100",
        friendly_name="Front desk",
        sms=True,
        mms=False,
        voice=True,
        fax=False,
        status="in-use",
        sms_url="https://example.org/hook",
        sms_method="GET",
        status_callback="https://example.org/status",
    )

    response = staff_client.get(URL)

    assert response.status_code == 200
    assert response.json() == [
        {
            "sid": phone.sid,
            "phoneNumber": "+14155550100",
            "label": "Front desk",
            "capabilities": {"fax": False, "mms": False, "sms": True, "voice": True},
            "statusCallback": "https://example.org/status",
            "status": "in-use",
            "inboundWebhook": {"url": "https://example.org/hook", "method": "GET"},
            "pointsHere": False,
        }
    ]


def test_points_here_says_which_numbers_reach_this_app(staff_client):
    PhoneFactory(phone_number="+14155550101", sms_url=OUR_WEBHOOK)
    PhoneFactory(phone_number="+14155550102", sms_url="https://demo.twilio.com/welcome/sms/")

    numbers = {p["phoneNumber"]: p["pointsHere"] for p in staff_client.get(URL).json()}

    assert numbers == {"+14155550101": True, "+14155550102": False}


def test_points_here_is_false_when_the_app_does_not_know_its_address(staff_client, settings):
    settings.PUBLIC_BASE_URL = ""
    PhoneFactory(sms_url=OUR_WEBHOOK)

    assert staff_client.get(URL).json()[0]["pointsHere"] is False


# --- a fresh install: nothing mirrored and no sync ever ------------------------------------


def _twilio_numbers(mocked_twilio, phones):
    return tw.add_paged_list(
        mocked_twilio, "IncomingPhoneNumbers.json", "incoming_phone_numbers", [phones]
    )


def test_a_fresh_install_reads_the_numbers_from_twilio_and_queues_a_sync(
    staff_client, mocked_twilio, run_jobs
):
    _twilio_numbers(mocked_twilio, [tw.phone_json(0), tw.phone_json(1)])
    tw.add_paged_list(mocked_twilio, "Messages.json", "messages", [[tw.message_json(1)]])

    response = staff_client.get(URL)

    assert response.status_code == 200
    assert [p["phoneNumber"] for p in response.json()] == ["+14155550000", "+14155550001"]
    run = SyncRun.objects.get()
    assert run.state == "queued"
    run_jobs()
    run.refresh_from_db()
    assert run.state == "finished"
    assert Message.objects.filter(sid=tw.message_sid(1)).exists()


def test_an_account_without_numbers_is_read_from_twilio_once(staff_client, mocked_twilio):
    listed = _twilio_numbers(mocked_twilio, [])

    assert staff_client.get(URL).json() == []
    assert staff_client.get(URL).json() == []
    assert listed.pages_served == 1  # the queued sync is on record: not a fresh install


def test_an_empty_mirror_after_a_sync_is_not_read_again(staff_client, mocked_twilio):
    SyncRun.objects.create(state="finished")

    assert staff_client.get(URL).json() == []
    assert len(mocked_twilio.calls) == 0


def test_twilio_refusing_on_a_fresh_install_is_a_503_sentence(staff_client, mocked_twilio):
    tw.add_error(mocked_twilio, "GET", "IncomingPhoneNumbers.json", 401, 20003)

    response = staff_client.get(URL)

    assert response.status_code == 503
    assert "TWILIO_API_KEY" in response.json()["information"]
    assert not SyncRun.objects.exists()  # the next request tries again


def test_without_twilio_an_empty_mirror_is_an_empty_list(staff_client, mocked_twilio, settings):
    settings.TWILIO_API_KEY = settings.TWILIO_API_SECRET = settings.TWILIO_AUTH_TOKEN = ""

    assert staff_client.get(URL).json() == []
    assert len(mocked_twilio.calls) == 0


def _queries_for(client, count: int) -> CaptureQueriesContext:
    PhoneFactory.create_batch(count)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert response.status_code == 200
    assert len(response.json()) == count
    return queries


def test_it_costs_the_same_queries_for_5_or_50_numbers(staff_client):
    few = _queries_for(staff_client, 5)
    Phone.objects.all().delete()
    many = _queries_for(staff_client, 50)

    assert len(many) == len(few)
    assert sum("smsapp_phone" in q["sql"] for q in many.captured_queries) == 1


def test_only_get_is_answered(staff_client):
    response = staff_client.post(URL, data={}, content_type="application/json")

    assert response.status_code == 405
    assert response.json()["information"] == "This route answers GET only."
