"""message_list, conversation and message/<sid>: reads from the mirror, keyset paging,
and a message the mirror has not seen fetched from Twilio once."""

import base64
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from smsapp.models import Media, Message
from smsapp.services import messages
from tests import twilio_payloads as tw
from tests.factories import BASE_TIME, MediaFactory, MessageFactory

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
US = "+14155550100"
PATIENT = "+14155550199"
OTHER = "+14155550177"
SUMMARY_KEYS = {
    "sid", "sent", "status", "mediaCount",
    "from", "to", "direction", "body", "created", "errorCode", "errorMessage",
}  # fmt: skip


def _list(client, number=US, direction="from", **query):
    return client.get(f"{API}message_list/{number}/{direction}", query)


# --- message_list ----------------------------------------------------------------------


def test_a_message_is_listed_key_for_key(staff_client):
    message = MessageFactory(
        from_number=US,
        to_number=PATIENT,
        body="x" * 200,
        status="undelivered",
        error_code=30003,
        error_message="Unreachable destination handset",
        num_media=2,
    )

    [item] = _list(staff_client).json()

    assert set(item) == SUMMARY_KEYS
    assert item == {
        "sid": message.sid,
        "sent": message.date_sent.isoformat(),
        "status": "undelivered",
        "mediaCount": 2,
        "from": US,
        "to": PATIENT,
        "direction": "outbound-api",
        "body": "x" * 160,
        "created": message.date_created.isoformat(),
        "errorCode": 30003,
        "errorMessage": "Unreachable destination handset",
    }


def test_a_queued_message_without_date_sent_is_listed_with_sent_null(staff_client):
    MessageFactory(from_number=US, status="queued", date_sent=None)

    response = _list(staff_client)

    assert response.status_code == 200
    assert response.json()[0]["sent"] is None
    assert response.json()[0]["status"] == "queued"


def test_from_and_to_list_the_two_directions_newest_first(staff_client):
    out_old = MessageFactory(from_number=US, to_number=PATIENT, date_created=BASE_TIME)
    out_new = MessageFactory(
        from_number=US, to_number=OTHER, date_created=BASE_TIME + timedelta(hours=1)
    )
    inbound = MessageFactory(from_number=PATIENT, to_number=US, direction="inbound")

    assert [m["sid"] for m in _list(staff_client).json()] == [out_new.sid, out_old.sid]
    assert [m["sid"] for m in _list(staff_client, direction="to").json()] == [inbound.sid]


@pytest.mark.parametrize("number", ["+14155550100", "%2B14155550100", "+1%20415%20555%200100"])
def test_the_number_may_arrive_raw_or_url_encoded(staff_client, number):
    message = MessageFactory(from_number=US)

    response = staff_client.get(f"{API}message_list/{number}/from")

    assert response.status_code == 200
    assert [m["sid"] for m in response.json()] == [message.sid]


def test_paging_follows_x_next_page_to_the_end_without_gaps_or_repeats(staff_client):
    # Ten messages, some sharing a creation instant: the id breaks the tie.
    same = BASE_TIME + timedelta(minutes=5)
    made = [
        MessageFactory(from_number=US, **({"date_created": same} if n in (3, 4, 5) else {}))
        for n in range(10)
    ]
    expected = [m.sid for m in sorted(made, key=lambda m: (m.date_created, m.id), reverse=True)]

    seen, url, pages = [], f"{API}message_list/{US}/from?limit=4", 0
    while url:
        response = staff_client.get(url)
        assert response.status_code == 200
        seen += [m["sid"] for m in response.json()]
        url, pages = response.headers.get("X-Next-Page"), pages + 1

    assert seen == expected
    assert pages == 3


def test_x_next_page_is_absent_on_the_last_page(staff_client):
    MessageFactory.create_batch(3, from_number=US)

    response = _list(staff_client, limit=3)

    assert len(response.json()) == 3
    assert "X-Next-Page" not in response.headers


def test_x_next_page_keeps_the_limit_and_a_canonical_number(staff_client):
    MessageFactory.create_batch(3, from_number=US)

    response = staff_client.get(f"{API}message_list/%2B14155550100/from?limit=2")

    next_page = response.headers["X-Next-Page"]
    assert next_page.startswith(f"{API}message_list/+14155550100/from?before=")
    assert next_page.endswith("&limit=2")


def test_the_default_page_is_50(staff_client):
    MessageFactory.create_batch(51, from_number=US)

    response = _list(staff_client)

    assert len(response.json()) == 50
    assert "X-Next-Page" in response.headers


@pytest.mark.parametrize("limit", ["0", "201", "ten", "-1", "2.5", "²", "1e2"])
def test_a_bad_limit_is_a_400_naming_it(staff_client, limit):
    response = _list(staff_client, limit=limit)

    assert response.status_code == 400
    assert response.json() == {
        "information": "limit must be a whole number from 1 to 200 (default 50).",
        "fields": {"limit": "limit must be a whole number from 1 to 200 (default 50)."},
        "requestId": response["X-Request-ID"],
    }


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "%%%", "MjAyNnxhYmM", "bm90IGEgZGF0ZXwx",
     # 0001-01-01T00:00:00+14:00|1: a date with no UTC equivalent
     base64.urlsafe_b64encode(b"0001-01-01T00:00:00+14:00|1").decode()],
)  # fmt: skip
def test_a_malformed_cursor_is_a_400_sentence(staff_client, cursor):
    response = _list(staff_client, before=cursor)

    assert response.status_code == 400
    assert "first page" in response.json()["information"]
    assert set(response.json()["fields"]) == {"before"}


def test_a_bad_direction_is_a_400(staff_client):
    response = _list(staff_client, direction="sideways")

    assert response.status_code == 400
    assert response.json()["fields"] == {"direction": "The direction must be `from` or `to`."}


@pytest.mark.parametrize("number", ["hello", "14155550100", "+1"])
def test_a_number_that_is_not_e164_is_a_400(staff_client, number):
    response = _list(staff_client, number=number)

    assert response.status_code == 400
    assert "E.164" in response.json()["fields"]["number"]


def _count_queries(client, rows: int) -> list[dict]:
    Message.objects.all().delete()
    MessageFactory.create_batch(rows, from_number=US, num_media=1)
    with CaptureQueriesContext(connection) as queries:
        response = _list(client, limit=200)
    assert len(response.json()) == rows
    return queries.captured_queries


def test_message_list_costs_the_same_queries_for_5_or_50_messages(staff_client):
    few, many = _count_queries(staff_client, 5), _count_queries(staff_client, 50)

    assert len(few) == len(many)
    assert sum("smsapp_message" in q["sql"] for q in many) == 1
    assert sum("smsapp_media" in q["sql"] for q in many) == 0


# --- conversation --------------------------------------------------------------------


def _conversation(client, number=US, counterpart=PATIENT, **query):
    return client.get(f"{API}conversation/{number}/{counterpart}", query)


def test_a_conversation_holds_both_directions_oldest_first(staff_client):
    t = BASE_TIME
    a = MessageFactory(from_number=US, to_number=PATIENT, date_created=t)
    b = MessageFactory(
        from_number=PATIENT, to_number=US, direction="inbound", date_created=t + timedelta(1)
    )
    c = MessageFactory(from_number=US, to_number=PATIENT, date_created=t + timedelta(2))
    MessageFactory(from_number=US, to_number=OTHER)  # another patient
    MessageFactory(from_number=OTHER, to_number=PATIENT)  # another of our numbers

    response = _conversation(staff_client)

    assert response.status_code == 200
    assert [m["sid"] for m in response.json()] == [a.sid, b.sid, c.sid]
    assert set(response.json()[0]) == SUMMARY_KEYS
    assert "X-Next-Page" not in response.headers


def test_a_conversation_gives_each_text_whole_as_a_thread_shows_it(staff_client):
    long = "A long message. " * 60  # 960 characters: a list shows 160, a thread all
    MessageFactory(from_number=US, to_number=PATIENT, body=long)

    assert _conversation(staff_client).json()[0]["body"] == long
    assert len(staff_client.get(f"{API}message_list/{US}/from").json()[0]["body"]) == 160


def test_conversation_pages_go_back_in_time(staff_client):
    made = []
    for n in range(7):
        inbound = n % 2 == 1
        made.append(
            MessageFactory(
                from_number=PATIENT if inbound else US,
                to_number=US if inbound else PATIENT,
                date_created=BASE_TIME + timedelta(minutes=n),
            )
        )

    first = _conversation(staff_client, limit=3)
    older = staff_client.get(first.headers["X-Next-Page"])
    oldest = staff_client.get(older.headers["X-Next-Page"])

    assert [m["sid"] for m in first.json()] == [m.sid for m in made[4:7]]
    assert [m["sid"] for m in older.json()] == [m.sid for m in made[1:4]]
    assert [m["sid"] for m in oldest.json()] == [made[0].sid]
    assert "X-Next-Page" not in oldest.headers


def test_a_conversation_reads_two_index_range_scans(staff_client):
    MessageFactory.create_batch(5, from_number=US, to_number=PATIENT)
    with CaptureQueriesContext(connection) as queries:
        _conversation(staff_client)

    assert sum("smsapp_message" in q["sql"] for q in queries.captured_queries) == 2


def test_conversation_page_is_a_plain_function_too():
    older = MessageFactory(from_number=PATIENT, to_number=US, date_created=BASE_TIME)
    newer = MessageFactory(from_number=US, to_number=PATIENT)

    page, cursor = messages.conversation_page(number=US, counterpart=PATIENT, limit=1)
    rest, end = messages.conversation_page(number=US, counterpart=PATIENT, limit=1, before=cursor)

    assert ([r["sid"] for r in page], [r["sid"] for r in rest], end) == (
        [newer.sid], [older.sid], None,
    )  # fmt: skip


# --- message/<sid> -------------------------------------------------------------------


DETAIL_KEYS = {
    "sid", "body", "direction", "from", "to", "status", "price", "price_unit",
    "error_code", "error_message", "num_media", "num_segments", "date_created",
    "date_sent", "date_updated", "uri", "subresource_uris", "created", "sent", "updated",
    "media", "account_sid", "messaging_service_sid", "api_version",
}  # fmt: skip


def test_a_mirrored_message_is_answered_in_twilios_shape(staff_client, mocked_twilio):
    message = MessageFactory(
        from_number=US, to_number=PATIENT, body="See you at 3", price="-0.00790",
        price_unit="USD", num_media=2, num_segments=1, date_created=BASE_TIME,
    )  # fmt: skip
    first = MediaFactory(message=message, content_type="image/png")
    second = MediaFactory(message=message, content_type="image/jpeg")

    response = staff_client.get(f"{API}message/{message.sid}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == DETAIL_KEYS
    uri = f"/2010-04-01/Accounts/{message.account_sid}/Messages/{message.sid}"
    assert body == {
        "sid": message.sid,
        "account_sid": message.account_sid,
        "messaging_service_sid": None,
        "api_version": "2010-04-01",
        "body": "See you at 3",
        "direction": "outbound-api",
        "from": US,
        "to": PATIENT,
        "status": "delivered",
        "price": "-0.00790",
        "price_unit": "USD",
        "error_code": None,
        "error_message": None,
        "num_media": "2",
        "num_segments": "1",
        "date_created": "Sun, 01 Nov 2026 12:00:00 +0000",
        "date_sent": "Sun, 01 Nov 2026 12:00:02 +0000",
        "date_updated": "Sun, 01 Nov 2026 12:00:05 +0000",
        "uri": f"{uri}.json",
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "created": "2026-11-01T12:00:00+00:00",
        "sent": "2026-11-01T12:00:02+00:00",
        "updated": "2026-11-01T12:00:05+00:00",
        "media": [
            {
                "sid": item.sid,
                "contentType": item.content_type,
                "url": f"{API}medias/{message.sid}/{item.sid}",
            }
            for item in (first, second)
        ],  # fmt: skip
    }
    assert len(mocked_twilio.calls) == 0


def test_a_queued_message_has_null_sent_dates(staff_client):
    message = MessageFactory(status="queued", date_sent=None)

    body = staff_client.get(f"{API}message/{message.sid}").json()

    assert (body["sent"], body["date_sent"]) == (None, None)


def test_a_message_not_yet_mirrored_is_fetched_mirrored_and_answered(staff_client, mocked_twilio):
    sid = tw.message_sid(42)
    mocked_twilio.get(
        tw.account_url(f"Messages/{sid}.json"),
        json=tw.message_json(42, num_media=2, direction="inbound", body="Photo of my rash"),
    )
    mocked_twilio.get(
        tw.account_url(f"Messages/{sid}/Media.json"),
        json={
            "media_list": [tw.media_json(sid, 1), tw.media_json(sid, 2, content_type="image/png")],
            "next_page_uri": None, "page": 0, "page_size": 1000,
            "uri": tw.account_path(f"Messages/{sid}/Media.json"),
        },
    )  # fmt: skip

    response = staff_client.get(f"{API}message/{sid}")

    assert response.status_code == 200
    assert response.json()["body"] == "Photo of my rash"
    assert [m["sid"] for m in response.json()["media"]] == [tw.media_sid(1), tw.media_sid(2)]
    mirrored = Message.objects.get(sid=sid)
    assert (mirrored.direction, mirrored.num_media) == ("inbound", 2)
    assert Media.objects.filter(message=mirrored).count() == 2

    again = staff_client.get(f"{API}message/{sid}")
    assert again.json() == response.json()
    assert len(mocked_twilio.calls) == 2  # the second answer came from the mirror


def _media_listing(mocked_twilio, sid, items):
    return mocked_twilio.get(
        tw.account_url(f"Messages/{sid}/Media.json"),
        json={"media_list": items, "next_page_uri": None, "page": 0, "page_size": 1000,
              "uri": tw.account_path(f"Messages/{sid}/Media.json")},
    )  # fmt: skip


def test_a_mirrored_message_missing_its_media_list_reads_it_once(staff_client, mocked_twilio):
    message = MessageFactory(num_media=1)  # stored by a webhook, media list not read
    listing = _media_listing(mocked_twilio, message.sid, [tw.media_json(message.sid, 4)])

    first = staff_client.get(f"{API}message/{message.sid}").json()
    second = staff_client.get(f"{API}message/{message.sid}").json()

    assert [m["sid"] for m in first["media"]] == [tw.media_sid(4)]
    assert second == first
    assert listing.call_count == 1


def test_a_media_list_twilio_cannot_give_still_answers_the_message(
    staff_client, mocked_twilio, settings
):
    settings.TWILIO_MAX_RETRIES = 0
    message = MessageFactory(num_media=1)
    tw.add_error(mocked_twilio, "GET", f"Messages/{message.sid}/Media.json", 503, 20503)

    response = staff_client.get(f"{API}message/{message.sid}")

    assert response.status_code == 200
    assert (response.json()["num_media"], response.json()["media"]) == ("1", [])


def test_twilios_404_is_our_404(staff_client, mocked_twilio):
    sid = tw.message_sid(7)
    tw.add_error(mocked_twilio, "GET", f"Messages/{sid}.json", 404, 20404, "Not found")

    response = staff_client.get(f"{API}message/{sid}")

    assert response.status_code == 404
    assert sid in response.json()["information"]
    assert not Message.objects.exists()


def test_a_malformed_sid_is_a_404_without_asking_twilio(staff_client, mocked_twilio):
    response = staff_client.get(f"{API}message/not-a-sid")

    assert response.status_code == 404
    assert len(mocked_twilio.calls) == 0


def test_twilio_unreachable_while_fetching_is_a_503(staff_client, mocked_twilio, settings):
    settings.TWILIO_MAX_RETRIES = 0
    sid = tw.message_sid(8)
    tw.add_error(mocked_twilio, "GET", f"Messages/{sid}.json", 500, 20500, "Internal")

    response = staff_client.get(f"{API}message/{sid}")

    assert response.status_code == 503
    assert "try again" in response.json()["information"]
