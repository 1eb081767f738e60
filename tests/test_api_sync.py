"""POST sync: the page's way to bring the mirror up to date (as manage.py sync_twilio)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from smsapp.models import Message, Phone, SyncRun
from tests import twilio_payloads as tw

pytestmark = pytest.mark.django_db

URL = "/plugin-io/api/twilio_sms_mms/sync"


def test_the_route_is_under_the_plugins_prefix():
    assert reverse("smsapp:sync") == URL


def test_it_mirrors_numbers_and_messages_and_answers_the_counts(staff_client, mocked_twilio):
    tw.add_paged_list(mocked_twilio, "IncomingPhoneNumbers.json", "incoming_phone_numbers",
                      [[tw.phone_json(0), tw.phone_json(1)]])  # fmt: skip
    tw.add_paged_list(mocked_twilio, "Messages.json", "messages",
                      [[tw.message_json(n) for n in range(3)]])  # fmt: skip

    response = staff_client.post(URL, {}, content_type="application/json")

    assert response.status_code == 200
    body = response.json()
    assert body["phones"] == {"created": 2, "updated": 0, "unchanged": 0, "removed": 0}
    assert body["messages"]["created"] == 3
    assert body["pages"] == 1
    assert Phone.objects.count() == 2
    assert Message.objects.count() == 3
    assert SyncRun.objects.filter(finished_at__isnull=False).count() == 1


def test_twilio_refusing_the_credentials_is_a_503_sentence(staff_client, mocked_twilio):
    tw.add_error(mocked_twilio, "GET", "IncomingPhoneNumbers.json", 401, 20003)

    response = staff_client.post(URL, {}, content_type="application/json")

    assert response.status_code == 503
    assert "TWILIO_API_KEY" in response.json()["information"]


def test_it_is_for_staff_and_json_only(staff_client, mocked_twilio):
    assert Client().post(URL, {}, content_type="application/json").status_code == 401
    assert staff_client.post(URL, {"a": "b"}).status_code == 415  # a form post
    assert staff_client.get(URL).status_code == 405
    assert len(mocked_twilio.calls) == 0


def test_a_second_sync_while_one_runs_is_a_conflict(staff_client, mocked_twilio):
    SyncRun.objects.create()  # started now, neither finished nor failed

    response = staff_client.post(URL, {}, content_type="application/json")

    assert response.status_code == 409
    assert "still running" in response.json()["information"]
    assert len(mocked_twilio.calls) == 0


def test_a_run_that_crashed_long_ago_does_not_block_syncing(staff_client, mocked_twilio):
    SyncRun.objects.create(started_at=timezone.now() - timedelta(hours=1))
    tw.add_paged_list(mocked_twilio, "IncomingPhoneNumbers.json", "incoming_phone_numbers", [[]])
    tw.add_paged_list(mocked_twilio, "Messages.json", "messages", [[]])

    response = staff_client.post(URL, {}, content_type="application/json")

    assert response.status_code == 200


def test_a_first_sync_from_the_page_reads_only_the_last_week(staff_client, mocked_twilio):
    tw.add_paged_list(mocked_twilio, "IncomingPhoneNumbers.json", "incoming_phone_numbers", [[]])
    listed = tw.add_paged_list(mocked_twilio, "Messages.json", "messages", [[]])

    staff_client.post(URL, {}, content_type="application/json")

    week_ago = (timezone.now() - timedelta(days=7)).date()
    assert listed.requests[0]["DateSent>"] == f"{week_ago}T00:00:00Z"
