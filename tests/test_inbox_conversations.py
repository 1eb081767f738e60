"""Conversations kept current by every write to the mirror: an inbound text, a send, an
auto-reply, a status callback, a sync page, a deletion. Each through the app's real
path (signed webhooks, the API with Twilio mocked at the HTTP layer, the sync's
upsert), then the conversation and its number's counters are read back."""

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from twilio.rest.api.v2010.account.message import MessageInstance

from smsapp.models import Conversation, InboxCounter, Message
from smsapp.services import inbox, mirror, sync
from smsapp.twilio_gateway import rest
from tests import twilio_payloads as tw
from tests.factories import PhoneFactory
from tests.webhook_signing import post_signed

pytestmark = pytest.mark.django_db

US = "+14155550100"
PATIENT = "+14155550199"
OTHER = "+14155550177"
INBOUND = reverse("smsapp:inbound_treatment")
STATUS = reverse("smsapp:outbound_api_status")
SEND = reverse("smsapp:sms_send")


def texted(client, body="When is my appointment?", *, n=1, from_=PATIENT, to=US):
    """The patient texts us (the signed inbound webhook)."""
    params = {"MessageSid": tw.message_sid(1000 + n), "From": from_, "To": to, "Body": body}
    response = post_signed(client, INBOUND, params)
    assert response.status_code == 200, response.content
    return tw.message_sid(1000 + n)


def sent(client, mocked_twilio, text="Tomorrow at 9.", *, n=1, to=PATIENT):
    """Staff send a text from the page (sms_send), Twilio mocked at the HTTP layer."""
    answer = tw.message_json(
        2000 + n, from_=US, to=to, body=text, status="queued", date_created=_now(), date_sent=None
    )
    mocked_twilio.post(tw.account_url("Messages.json"), json=answer, status=201)
    body = {"numberFrom": US, "numberTo": to, "text": text}
    response = client.post(SEND, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return answer["sid"]


def record(n, **overrides):
    """A message as a sync page carries it (through the real SDK's instance class)."""
    return rest.message_record(
        MessageInstance(None, tw.message_json(n, **overrides), tw.account_sid())
    )


def _now():
    """Now, in whole seconds: as Twilio dates a message, and the inbound webhook too."""
    return timezone.now().replace(microsecond=0)


def conversation(ours=US, theirs=PATIENT) -> Conversation:
    return Conversation.objects.get(our_number=ours, counterpart=theirs)


def counters(number=US) -> tuple[int, int]:
    row = InboxCounter.objects.get(our_number=number)
    return row.unread, row.needs_reply


@pytest.fixture
def phone(db):
    return PhoneFactory(phone_number=US, sms=True, mms=True)


# --- inbound texts -------------------------------------------------------------------------


def test_a_first_text_starts_a_conversation_that_is_unread_and_needs_a_reply(client):
    sid = texted(client, "Can I move my appointment?")

    c = conversation()
    assert (c.last_sid, c.last_direction, c.last_body, c.last_status) == (
        sid, "inbound", "Can I move my appointment?", "received"
    )  # fmt: skip
    assert (c.unread, c.needs_reply, c.version) == (1, True, 1)
    assert counters() == (1, 1)


def test_each_inbound_text_adds_one_unread_but_the_number_counts_conversations(client):
    texted(client, n=1)
    texted(client, n=2)
    texted(client, n=3, from_=OTHER)

    assert conversation().unread == 2
    assert conversation(theirs=OTHER).unread == 1
    assert counters() == (2, 2)


def test_a_retried_delivery_of_the_same_text_counts_once(client):
    texted(client, n=1)
    texted(client, n=1)

    assert conversation().unread == 1


def test_an_opt_out_keyword_is_unread_but_needs_no_reply(client):
    texted(client, "Is the clinic open?", n=1)
    texted(client, " stop ", n=2)

    c = conversation()
    assert (c.unread, c.needs_reply, c.last_body) == (2, False, " stop ")
    assert counters() == (1, 0)


def test_a_question_after_an_opt_out_needs_a_reply_again(client):
    texted(client, "STOP", n=1)
    texted(client, "START", n=2)
    texted(client, "Sorry, can you text me the address?", n=3)

    assert conversation().needs_reply is True


# --- sends and auto-replies ----------------------------------------------------------------


def test_a_staff_reply_answers_the_patient_but_does_not_mark_it_read(
    client, staff_client, mocked_twilio, phone
):
    texted(client)
    sid = sent(staff_client, mocked_twilio, "Tomorrow at 9.")

    c = conversation()
    assert (c.last_sid, c.last_direction, c.last_status) == (sid, "outbound-api", "queued")
    assert (c.needs_reply, c.unread) == (False, 1)
    assert counters() == (1, 0)


def test_a_patient_text_after_the_reply_needs_a_reply_again(
    client, staff_client, mocked_twilio, phone
):
    texted(client, n=1)
    sent(staff_client, mocked_twilio)
    texted(client, "Thanks! And the address?", n=2)

    assert conversation().needs_reply is True


def test_a_text_staff_send_first_starts_a_conversation_needing_nothing(
    staff_client, mocked_twilio, phone
):
    sent(staff_client, mocked_twilio, "Your results are in.")

    c = conversation()
    assert (c.unread, c.needs_reply, c.last_body) == (0, False, "Your results are in.")
    assert counters() == (0, 0)


def test_an_auto_reply_is_the_newest_message_but_answers_nothing(client):
    texted(client, "hello")
    reply = record(
        3000, direction="outbound-reply", from_=US, to=PATIENT, body="Hello! ♥️",
        date_created=_now() + timedelta(seconds=1),
    )  # fmt: skip
    mirror.mirror_message(reply)

    c = conversation()
    assert (c.last_sid, c.last_direction, c.needs_reply) == (reply["sid"], "outbound-reply", True)


# --- status callbacks ----------------------------------------------------------------------


def test_a_status_callback_for_the_newest_message_shows_in_the_conversation(
    client, staff_client, mocked_twilio, phone
):
    sid = sent(staff_client, mocked_twilio)
    version = InboxCounter.objects.get(our_number=US).version

    post_signed(client, STATUS, {"MessageSid": sid, "MessageStatus": "delivered"})
    post_signed(client, STATUS, {"MessageSid": sid, "MessageStatus": "sent"})  # late: ignored

    c = conversation()
    assert (c.last_status, c.version) == ("delivered", 2)
    # The number's version moves too: the list's ETag, what the page's poll watches.
    assert InboxCounter.objects.get(our_number=US).version == version + 1


def test_a_status_callback_for_an_older_message_changes_no_conversation(
    client, staff_client, mocked_twilio, phone
):
    sid = sent(staff_client, mocked_twilio)
    texted(client)
    before = conversation()

    post_signed(client, STATUS, {"MessageSid": sid, "MessageStatus": "delivered"})

    assert Message.objects.get(sid=sid).status == "delivered"
    after = conversation()
    assert (after.last_status, after.version) == ("received", before.version)


def test_callbacks_that_beat_the_send_reach_the_conversation_when_it_is_mirrored(client):
    sid = tw.message_sid(5)
    post_signed(client, STATUS, {"MessageSid": sid, "MessageStatus": "delivered"})

    mirror.mirror_message(record(5, status="queued", date_created=_now()))

    assert conversation().last_status == "delivered"


# --- sync ----------------------------------------------------------------------------------


def _page(records):
    with transaction.atomic():
        return mirror.upsert_messages(records)


def test_a_sync_page_builds_conversations_from_messages_in_any_order():
    def at(minutes):
        return tw.BASE_TIME + timedelta(minutes=minutes)

    page = [
        record(4, direction="outbound-reply", from_=US, to=PATIENT, date_created=at(4)),
        record(3, direction="inbound", from_=PATIENT, to=US, status="received", date_created=at(3)),
        record(2, direction="outbound-api", from_=US, to=PATIENT, date_created=at(2)),
        record(1, direction="inbound", from_=PATIENT, to=US, status="received", date_created=at(1)),
        record(5, direction="outbound-api", from_=US, to=OTHER, date_created=at(0)),
    ]  # fmt: skip

    counts = _page(page)

    assert counts.created == 5
    c = conversation()
    assert (c.last_sid, c.unread, c.needs_reply) == (tw.message_sid(4), 2, True)
    assert (c.patient_at, c.staff_at) == (at(3), at(2))
    other = conversation(theirs=OTHER)
    assert (other.unread, other.needs_reply) == (0, False)
    assert counters() == (1, 1)


def test_reading_a_page_again_counts_nothing_twice_and_shows_new_statuses():
    page = [record(1, direction="inbound", from_=PATIENT, to=US, status="received")]
    page.append(record(2, status="sent"))
    _page(page)
    version = conversation().version

    _page([page[0], {**page[1], "status": "delivered", "body": "Edited by Twilio"}])

    c = conversation()
    assert (c.unread, c.last_status, c.last_body, c.version) == (
        1, "delivered", "Edited by Twilio", version + 1
    )  # fmt: skip


def test_an_older_message_found_by_a_sync_is_counted_but_does_not_become_the_newest(client):
    texted(client, n=1)
    _page([record(1, direction="inbound", from_=PATIENT, to=US, status="received")])

    c = conversation()
    assert c.last_sid == tw.message_sid(1001)
    assert c.unread == 2


def test_a_sync_page_costs_the_same_queries_for_ten_messages_or_a_hundred(
    django_assert_num_queries,
):
    """Set-based: the queries grow with neither the messages nor the conversations they
    change (new conversations are inserted 400 to a statement)."""

    def page(first_sid, patients, per_patient):
        return [
            record(
                first_sid + n, direction="inbound", from_=f"+1415666{patients[n % 10]:04d}",
                to=US, status="received", date_created=tw.BASE_TIME + timedelta(seconds=n),
            )
            for n in range(10 * per_patient)
        ]  # fmt: skip

    with django_assert_num_queries(7):  # ten new conversations
        _page(page(0, range(0, 10), per_patient=1))
    with django_assert_num_queries(7):  # ten more, ten messages each
        _page(page(100, range(10, 20), per_patient=10))
    with django_assert_num_queries(7):  # the first ten again: updated, not inserted
        _page(page(1000, range(0, 10), per_patient=10))
    assert conversation(theirs="+14156660000").unread == 11
    assert InboxCounter.objects.get(our_number=US).unread == 20


def test_the_sync_writes_conversations_page_by_page(mocked_twilio):
    records = [
        tw.message_json(n, direction="inbound", from_=PATIENT, to=US, status="received")
        for n in range(3)
    ]
    tw.add_paged_list(mocked_twilio, "Messages.json", "messages", [records[2:], records[:2]])

    result = sync.sync_messages()

    assert result.pages == 2
    assert (conversation().unread, conversation().last_sid) == (3, tw.message_sid(2))


def test_a_message_a_webhook_stored_meanwhile_is_not_counted_again_by_the_sync():
    """PostgreSQL lets a sync page and an inbound webhook store the same SID at once; the
    page's INSERT reports only what it stored itself."""
    first = record(1, direction="inbound", from_=PATIENT, to=US, status="received")
    _page([first])

    with transaction.atomic():
        ids = mirror._insert_rows([first], [k for k in first if k != "sid"])

    assert ids == {}
    assert conversation().unread == 1


# --- deleting -------------------------------------------------------------------------------


def _delete(staff_client, mocked_twilio, sid):
    mocked_twilio.delete(tw.account_url(f"Messages/{sid}.json"), status=204)
    response = staff_client.delete(reverse("smsapp:message_delete", args=[sid]))
    assert response.status_code == 200, response.content


def test_deleting_the_newest_message_shows_the_one_before(
    client, staff_client, mocked_twilio, phone
):
    texted(client, "First", n=1)
    sid = sent(staff_client, mocked_twilio)

    _delete(staff_client, mocked_twilio, sid)

    c = conversation()
    assert (c.last_sid, c.last_body, c.needs_reply) == (tw.message_sid(1001), "First", True)
    assert counters() == (1, 1)


def test_deleting_an_unread_text_takes_it_off_the_count(client, staff_client, mocked_twilio):
    texted(client, "First", n=1)
    texted(client, "Second", n=2)

    _delete(staff_client, mocked_twilio, tw.message_sid(1002))

    c = conversation()
    assert (c.unread, c.last_body, c.needs_reply) == (1, "First", True)


def test_deleting_a_text_already_read_leaves_the_count(client, staff_client, mocked_twilio):
    texted(client, "First", n=1)
    inbox.mark_read(our_number=US, counterpart=PATIENT, user=None)
    texted(client, "Second", n=2)

    _delete(staff_client, mocked_twilio, tw.message_sid(1001))

    assert conversation().unread == 1


def test_deleting_the_last_message_removes_the_conversation(client, staff_client, mocked_twilio):
    texted(client)

    _delete(staff_client, mocked_twilio, tw.message_sid(1001))

    assert not Conversation.objects.exists()
    assert counters() == (0, 0)


def test_deleting_the_staff_reply_makes_the_patient_wait_again(
    client, staff_client, mocked_twilio, phone
):
    texted(client, n=1)
    sid = sent(staff_client, mocked_twilio)
    texted(client, "STOP", n=2)

    _delete(staff_client, mocked_twilio, sid)
    assert conversation().needs_reply is False  # the newest text is still the opt-out
    _delete(staff_client, mocked_twilio, tw.message_sid(1002))

    c = conversation()
    assert (c.needs_reply, c.staff_at, c.last_sid) == (True, None, tw.message_sid(1001))


# --- the rules, directly -------------------------------------------------------------------


def _message(n, direction="inbound", seconds=0, body="Hi"):
    return {
        "id": n, "sid": tw.message_sid(n), "direction": direction, "body": body,
        "from_number": PATIENT if direction == "inbound" else US,
        "to_number": US if direction == "inbound" else PATIENT, "status": "received",
        "num_media": 0, "date_created": tw.BASE_TIME + timedelta(seconds=seconds),
    }  # fmt: skip


def test_within_one_second_the_later_stored_message_is_the_newer():
    patient = _message(1, "inbound", seconds=0)
    staff = _message(2, "outbound-api", seconds=0)
    c = Conversation.started_by(patient)
    c.take(patient)
    c.take(staff)
    assert (c.last_sid, c.needs_reply) == (staff["sid"], False)

    staff, patient = {**staff, "id": 1}, {**patient, "id": 2}
    c = Conversation.started_by(staff)
    c.take(staff)
    c.take(patient)
    assert (c.last_sid, c.needs_reply) == (patient["sid"], True)


def test_a_staff_text_older_than_the_patients_answers_nothing():
    c = Conversation.started_by(_message(2, "inbound", seconds=60))
    c.take(_message(2, "inbound", seconds=60))
    c.take(_message(1, "outbound-api", seconds=0))
    assert c.needs_reply is True
    assert c.last_sid == tw.message_sid(2)


def test_pairs_are_named_from_our_side():
    assert Conversation.pair_of("inbound", PATIENT, US) == (US, PATIENT)
    assert Conversation.pair_of("outbound-api", US, PATIENT) == (US, PATIENT)
    assert Conversation.pair_of("outbound-reply", US, PATIENT) == (US, PATIENT)
