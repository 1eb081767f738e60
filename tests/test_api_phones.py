"""phone_list: the account's numbers from the mirror, in the original plugin's shape."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from smsapp.models import Phone
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


def test_an_empty_account_is_an_empty_list(staff_client):
    response = staff_client.get(URL)

    assert response.status_code == 200
    assert response.json() == []


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
