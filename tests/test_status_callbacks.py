"""Delivery status callbacks: every one stored, the message's status only moves forward."""

import itertools

import pytest
from django.urls import reverse
from django.utils import timezone

from smsapp.models import Message, StatusEvent
from smsapp.services.mirror import record_status_callback
from tests.factories import MessageFactory
from tests.webhook_signing import post_signed

pytestmark = pytest.mark.django_db

STATUS = reverse("smsapp:outbound_api_status")


def _callback(client, sid, status, **extra):
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "From": "+14155550100",
        "To": "+14155550199",
        "ApiVersion": "2010-04-01",
        **extra,
    }
    return post_signed(client, STATUS, params)


SEQUENCES = [
    (("queued", "sent", "delivered"), "delivered"),
    (("queued", "sent", "undelivered"), "undelivered"),
    (("queued", "sending", "sent", "delivered", "read"), "read"),
    (("accepted", "queued", "sending", "sent", "failed"), "failed"),
    (("scheduled", "queued", "canceled"), "canceled"),
    (("queued", "sent", "partially_delivered", "delivered"), "delivered"),
]


@pytest.mark.parametrize(("sequence", "final"), SEQUENCES)
def test_every_order_of_callbacks_ends_in_the_right_status(client, sequence, final):
    for order in itertools.permutations(sequence):
        message = MessageFactory(status="accepted", error_code=None)
        for status in order:
            response = _callback(client, message.sid, status)
            assert response.status_code == 200, (order, response.content)
            assert response.content == b""
        message.refresh_from_db()
        assert message.status == final, order
        events = list(message.status_events.values_list("status", flat=True))
        assert events == list(order)


def test_a_late_sent_does_not_overwrite_delivered(client):
    message = MessageFactory(status="delivered")
    before = message.date_updated
    _callback(client, message.sid, "sent")
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.date_updated == before
    assert message.status_events.get().status == "sent"


def test_moving_forward_stamps_date_updated(client):
    message = MessageFactory(status="queued")
    before = timezone.now()
    _callback(client, message.sid, "sent")
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.date_updated >= before


def test_the_error_code_and_message_are_kept(client):
    message = MessageFactory(status="sent")
    _callback(client, message.sid, "undelivered", ErrorCode="30003", ErrorMessage="Unreachable")
    message.refresh_from_db()
    assert (message.status, message.error_code, message.error_message) == (
        "undelivered",
        30003,
        "Unreachable",
    )
    event = message.status_events.get()
    assert (event.error_code, event.error_message) == (30003, "Unreachable")


def test_between_two_finals_the_first_one_wins(client):
    message = MessageFactory(status="sent")
    _callback(client, message.sid, "failed", ErrorCode="30008")
    _callback(client, message.sid, "undelivered", ErrorCode="30003")
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", 30008)
    assert message.status_events.count() == 2


def test_a_final_status_overrides_read(client):
    message = MessageFactory(status="read")
    _callback(client, message.sid, "failed")
    message.refresh_from_db()
    assert message.status == "failed"


def test_retries_of_one_callback_are_all_stored_and_harmless(client):
    message = MessageFactory(status="queued")
    for _ in range(3):
        assert _callback(client, message.sid, "delivered").status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.status_events.count() == 3


def test_the_raw_payload_is_stored(client):
    message = MessageFactory(status="queued")
    _callback(client, message.sid, "sent", RawDlrDoneDate="2611271200")
    payload = message.status_events.get().payload
    assert payload["MessageSid"] == message.sid
    assert payload["MessageStatus"] == "sent"
    assert payload["RawDlrDoneDate"] == "2611271200"


def test_a_callback_for_a_message_not_yet_mirrored_is_stored_and_answered_200(client):
    sid = "SM" + "f" * 32
    response = _callback(client, sid, "delivered")
    assert response.status_code == 200
    assert response.content == b""
    event = StatusEvent.objects.get()
    assert (event.message_id, event.status) == (sid, "delivered")
    # When sync_twilio (or a fetch) mirrors the message, its history is already there.
    message = MessageFactory(sid=sid, status="delivered")
    assert list(message.status_events.values_list("status", flat=True)) == ["delivered"]


def test_the_older_sms_names_are_understood(client):
    message = MessageFactory(status="queued")
    params = {"SmsSid": message.sid, "SmsStatus": "sent"}
    assert post_signed(client, STATUS, params).status_code == 200
    message.refresh_from_db()
    assert message.status == "sent"


def test_status_words_are_compared_case_insensitively(client):
    message = MessageFactory(status="queued")
    _callback(client, message.sid, "Delivered")
    message.refresh_from_db()
    assert message.status == "delivered"


def test_inbound_statuses_have_their_own_order(client):
    message = MessageFactory(direction="inbound", status="received")
    _callback(client, message.sid, "receiving")
    message.refresh_from_db()
    assert message.status == "received"
    _callback(client, message.sid, "sent")  # an outbound word never moves an inbound message
    message.refresh_from_db()
    assert message.status == "received"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"MessageStatus": "delivered"}, "MessageSid"),
        ({"MessageSid": "SM" + "1" * 32}, "MessageStatus"),
        ({"MessageSid": "SM" + "1" * 32, "MessageStatus": "teleported"}, "MessageStatus"),
        ({"MessageSid": "SM" + "1" * 32, "MessageStatus": "sent", "ErrorCode": "x"}, "ErrorCode"),
        ({"MessageSid": "SM" + "1" * 32, "MessageStatus": "sent", "ErrorCode": "-1"}, "ErrorCode"),
        ({"MessageSid": "SM" + "1" * 99, "MessageStatus": "sent"}, "MessageSid"),
    ],
)
def test_a_malformed_callback_gets_400_with_a_sentence_and_stores_nothing(client, params, field):
    response = post_signed(client, STATUS, params)
    assert response.status_code == 400
    body = response.json()
    assert body["information"].endswith(".")
    assert field in body["fields"]
    assert not StatusEvent.objects.exists()


@pytest.mark.parametrize(
    ("current", "new", "moves"),
    [
        ("queued", "sent", True),
        ("sent", "queued", False),
        ("delivered", "sent", False),
        ("delivered", "read", True),
        ("read", "delivered", False),
        ("sending", "sending", False),
        ("accepted", "queued", False),  # same rank: no churn
        ("read", "undelivered", True),
        ("failed", "undelivered", False),
        ("canceled", "delivered", False),
        ("", "queued", True),
        ("receiving", "received", True),
        ("received", "receiving", False),
        ("received", "delivered", False),
        ("queued", "teleported", False),
    ],
)
def test_the_ordering_rule(current, new, moves):
    assert Message.may_move(current, new) is moves


def test_advance_status_is_one_conditional_update(django_assert_num_queries):
    message = MessageFactory(status="sent")
    with django_assert_num_queries(1):
        assert Message.objects.advance_status(sid=message.sid, status="delivered") is True
    with django_assert_num_queries(1):
        assert Message.objects.advance_status(sid=message.sid, status="sent") is False


def test_recording_a_callback_stores_the_event_and_moves_the_message():
    message = MessageFactory(status="queued")
    assert record_status_callback(message_sid=message.sid, status="sent") is True
    assert record_status_callback(message_sid=message.sid, status="queued") is False
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.status_events.count() == 2


def test_an_event_written_as_sql_reads_back_as_the_orm_would_have_stored_it():
    payload = {"MessageSid": "SM1", "ErrorMessage": "Café ♥ 👻", "Tag": ["b", "a"]}
    before = timezone.now()
    record_status_callback(
        message_sid="SM1", status="failed", error_code=30008, error_message="Café", payload=payload
    )
    event = StatusEvent.objects.get()
    assert (event.message_id, event.status, event.error_code) == ("SM1", "failed", 30008)
    assert event.error_message == "Café"
    assert event.payload == payload
    assert before <= event.received_at <= timezone.now()
    assert StatusEvent.objects.filter(payload__Tag=["b", "a"]).count() == 1  # real JSON


def test_a_nul_character_in_a_callback_is_dropped(client):
    message = MessageFactory(status="sent")
    _callback(client, message.sid, "undelivered", ErrorMessage="bad\x00 handset", Extra="\x00")
    event = message.status_events.get()
    assert event.error_message == "bad handset"
    assert event.payload["Extra"] == ""
