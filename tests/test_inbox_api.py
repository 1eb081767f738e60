"""The inbox's routes: conversations/<our_number> (filters, keyset pages, ETag),
conversation/<our>/<counterpart>/read, inbox_counts; who may call them; what a session
limited to one patient sees."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from smsapp.models import Conversation
from smsapp.services import inbox
from smsapp.web.scope import OUT_OF_SCOPE
from tests.factories import BASE_TIME, MessageFactory, PhoneFactory
from tests.test_embed import bearer, launched_api_token

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
US = "+14155550100"
OTHER_LINE = "+14155550111"
PATIENT = "+14155550199"
AUTH = 4  # queries to know the caller: session, user, its permissions, its groups'


def patient(n: int) -> str:
    return f"+1415666{n:04d}"


def mirrored(*messages) -> list:
    """Messages written as the mirror writes them, so their conversations follow."""
    inbox.record_new(inbox.message_row(m) for m in messages)
    return list(messages)


def inbound(frm=PATIENT, to=US, minutes=0, body="Can I come at 3?", **fields):
    return MessageFactory.build(
        direction="inbound", from_number=frm, to_number=to, body=body, status="received",
        date_created=BASE_TIME + timedelta(minutes=minutes), **fields,
    )  # fmt: skip


def outbound(to=PATIENT, frm=US, minutes=0, body="Yes, see you then.", **fields):
    return MessageFactory.build(
        direction="outbound-api", from_number=frm, to_number=to, body=body, status="delivered",
        date_created=BASE_TIME + timedelta(minutes=minutes), **fields,
    )  # fmt: skip


def store(*built):
    """Save factory-built messages, then mirror them into their conversations."""
    for m in built:
        m.save()
    return mirrored(*built)


def get(client, route, **headers):
    return client.get(f"{API}{route}", **headers)


def read(client, ours=US, theirs=PATIENT, body=None, **extra):
    data = json.dumps(body if body is not None else {})
    return client.post(
        f"{API}conversation/{ours}/{theirs}/read",
        data=data,
        content_type="application/json",
        **extra,
    )


# --- conversations/<our_number> ------------------------------------------------------------


def test_the_list_shows_each_conversation_newest_activity_first(agent_client):
    store(inbound(minutes=1), outbound(minutes=2, body="Yes, see you then."))
    store(inbound(frm=patient(1), minutes=3, body="Running late", num_media=1))
    store(inbound(frm=patient(2), to=OTHER_LINE, minutes=4))  # another of our numbers

    response = get(agent_client, f"conversations/{US}")

    assert response.status_code == 200
    items = response.json()
    assert [i["counterpart"] for i in items] == [patient(1), PATIENT]
    latest = Conversation.objects.get(counterpart=patient(1))
    assert items[0] == {
        "counterpart": patient(1),
        "name": None,
        "patientId": None,
        "patients": [],
        "staffLink": False,
        "unread": 1,
        "needsReply": True,
        "optedOut": False,
        "lastMessage": {
            "sid": latest.last_sid,
            "direction": "inbound",
            "autoReply": False,
            "body": "Running late",
            "mediaCount": 1,
            "status": "received",
            "sent": (BASE_TIME + timedelta(minutes=3)).isoformat(),
        },
        "lastRead": None,
    }
    assert items[1]["lastMessage"]["direction"] == "outbound"
    assert (items[1]["unread"], items[1]["needsReply"]) == (1, False)
    assert "X-Next-Page" not in response.headers


def test_filters_keep_unread_or_waiting_conversations(agent_client):
    store(inbound(frm=patient(1), minutes=1))  # unread, needs a reply
    store(inbound(frm=patient(2), minutes=2), outbound(to=patient(2), minutes=3))  # unread
    store(inbound(frm=patient(3), minutes=4))
    inbox.mark_read(our_number=US, counterpart=patient(3), user=None)  # read, needs a reply

    def listed(filter_):
        response = get(agent_client, f"conversations/{US}?filter={filter_}")
        assert response.status_code == 200
        return [i["counterpart"] for i in response.json()]

    assert listed("all") == [patient(3), patient(2), patient(1)]
    assert listed("unread") == [patient(2), patient(1)]
    assert listed("needs_reply") == [patient(3), patient(1)]


def test_pages_follow_the_keyset_cursor_to_the_end(agent_client):
    for n in range(7):
        store(inbound(frm=patient(n), minutes=n % 3))  # ties in time: the id breaks them

    seen, url = [], f"{API}conversations/{US}?limit=3"
    while url:
        response = agent_client.get(url)
        assert response.status_code == 200
        seen += [i["counterpart"] for i in response.json()]
        url = response.headers.get("X-Next-Page")
        assert url is None or "limit=3" in url

    expected = [
        c.counterpart for c in Conversation.objects.order_by("-last_at", "-id")
    ]  # fmt: skip
    assert seen == expected
    assert len(set(seen)) == 7


def test_the_list_costs_the_same_queries_for_five_or_fifty_conversations(
    agent_client, django_assert_num_queries
):
    store(*[inbound(frm=patient(n), minutes=n) for n in range(5)])

    # Who calls, the list's version (its ETag), the page, its opted-out numbers, and its
    # patients (the charts that list its numbers and staff's links, in one query).
    with django_assert_num_queries(AUTH + 4):
        get(agent_client, f"conversations/{US}")
    store(*[inbound(frm=patient(n), minutes=n) for n in range(5, 50)])
    inbox.mark_read(our_number=US, counterpart=patient(7), user=get_user_model().objects.first())
    with django_assert_num_queries(AUTH + 4):
        assert len(get(agent_client, f"conversations/{US}").json()) == 50


def test_counterpart_keeps_one_conversation(agent_client):
    store(inbound(frm=patient(1)), inbound(frm=patient(2)))

    response = get(agent_client, f"conversations/{US}?counterpart=%2B1%20415%20666%200002")

    assert [i["counterpart"] for i in response.json()] == [patient(2)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?filter=starred", "filter"),
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?before=not-a-cursor", "before"),
        ("?counterpart=hello", "counterpart"),
    ],
)
def test_bad_query_parameters_are_a_400_naming_them(agent_client, query, field):
    response = get(agent_client, f"conversations/{US}{query}")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]


def test_a_number_that_is_not_one_is_a_400(agent_client):
    response = get(agent_client, "conversations/front-desk")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["number"]


def test_an_unchanged_list_is_answered_304_until_something_changes(agent_client):
    store(inbound(minutes=1))
    first = get(agent_client, f"conversations/{US}?filter=unread")
    etag = first.headers["ETag"]

    again = get(agent_client, f"conversations/{US}?filter=unread", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    other_filter = get(agent_client, f"conversations/{US}?filter=all", HTTP_IF_NONE_MATCH=etag)
    assert other_filter.status_code == 200

    store(inbound(minutes=2))
    changed = get(agent_client, f"conversations/{US}?filter=unread", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.json()[0]["unread"] == 2


def test_a_304_costs_one_query_beyond_the_session(agent_client, django_assert_num_queries):
    store(inbound())
    etag = get(agent_client, f"conversations/{US}").headers["ETag"]
    with django_assert_num_queries(AUTH + 1) as queries:
        assert get(agent_client, f"conversations/{US}", HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert "smsapp_inboxcounter" in queries.captured_queries[-1]["sql"]


# --- conversation/<our>/<counterpart>/read -------------------------------------------------


def test_reading_sets_unread_to_zero_and_says_who_read_it(agent_client):
    store(inbound(minutes=1), inbound(minutes=2))

    response = read(agent_client)

    assert response.status_code == 200
    assert response.json() == {"unread": 0}
    item = get(agent_client, f"conversations/{US}").json()[0]
    assert item["unread"] == 0
    assert item["needsReply"] is True  # reading is not answering
    assert item["lastRead"]["by"] == "agent"
    assert get(agent_client, "inbox_counts").json()["unread"] == 0


def test_texts_newer_than_the_one_the_page_showed_stay_unread(agent_client):
    shown, *_ = store(inbound(minutes=1), inbound(minutes=2), outbound(minutes=3))
    store(inbound(minutes=4, body="Hello?"))

    response = read(agent_client, body={"upto": shown.sid})

    assert response.json() == {"unread": 2}
    assert Conversation.objects.get().unread == 2


def test_an_older_upto_never_marks_read_texts_unread_again(agent_client):
    first, second = store(inbound(minutes=1), inbound(minutes=2))
    read(agent_client, body={"upto": second.sid})

    assert read(agent_client, body={"upto": first.sid}).json() == {"unread": 0}


@pytest.mark.parametrize("upto", ["SM123", 12, "SM" + "f" * 32])
def test_an_upto_that_is_not_a_message_of_the_conversation_is_a_400(agent_client, upto):
    store(inbound())
    elsewhere = store(inbound(frm=patient(9)))[0]

    for value in (upto, elsewhere.sid):
        response = read(agent_client, body={"upto": value})
        assert response.status_code == 400
        assert list(response.json()["fields"]) == ["upto"]


def test_reading_a_conversation_that_does_not_exist_is_a_404(agent_client):
    response = read(agent_client)

    assert response.status_code == 404
    assert "no conversation" in response.json()["information"]


def test_reading_needs_a_json_body_and_a_post(agent_client):
    store(inbound())
    url = f"{API}conversation/{US}/{PATIENT}/read"

    assert agent_client.get(url).status_code == 405
    form = agent_client.post(url, data="upto=x", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415


# --- inbox_counts --------------------------------------------------------------------------


def test_counts_add_up_conversations_per_number(agent_client):
    store(inbound(frm=patient(1)), inbound(frm=patient(2)))
    store(inbound(frm=patient(3)), outbound(to=patient(3), minutes=1))
    store(inbound(frm=patient(4), to=OTHER_LINE))
    store(outbound(to=patient(5), frm=OTHER_LINE))

    body = get(agent_client, "inbox_counts").json()

    assert (body["unread"], body["needsReply"]) == (4, 3)
    numbers = body["numbers"]
    assert {n: (v["unread"], v["needsReply"]) for n, v in numbers.items()} == {
        US: (3, 2),
        OTHER_LINE: (1, 1),
    }
    assert all(isinstance(v["version"], int) for v in numbers.values())


def test_counts_are_one_query_and_304_while_nothing_changes(
    agent_client, django_assert_num_queries
):
    store(*[inbound(frm=patient(n)) for n in range(30)])
    first = get(agent_client, "inbox_counts")
    with django_assert_num_queries(AUTH + 1):
        again = get(agent_client, "inbox_counts", HTTP_IF_NONE_MATCH=first.headers["ETag"])
    assert again.status_code == 304

    read(agent_client, theirs=patient(3))
    after = get(agent_client, "inbox_counts", HTTP_IF_NONE_MATCH=first.headers["ETag"])
    assert after.status_code == 200
    assert after.json()["unread"] == 29


def test_an_empty_inbox_counts_nothing(agent_client):
    assert get(agent_client, "inbox_counts").json() == {"unread": 0, "needsReply": 0, "numbers": {}}


# --- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "route", [f"conversations/{US}", "inbox_counts", f"conversation/{US}/{PATIENT}/read"]
)
def test_anonymous_callers_get_401_and_users_without_a_role_403(client, route):
    def call():
        if route.endswith("/read"):
            return client.post(f"{API}{route}", data="{}", content_type="application/json")
        return client.get(f"{API}{route}")

    assert call().status_code == 401
    client.force_login(get_user_model().objects.create_user("visitor"))
    refused = call()
    assert refused.status_code == 403
    assert "Your role does not allow you to" in refused.json()["information"]


@pytest.fixture
def limited(settings):
    """An embed session limited to the launched patient (EMBED_SCOPE=patient)."""
    settings.EMBED_SCOPE = "patient"
    PhoneFactory(phone_number=US)
    token = launched_api_token(phone=PATIENT)
    return Client(), bearer(token)


def test_a_session_limited_to_a_patient_lists_and_counts_only_that_patient(limited):
    client, auth = limited
    store(inbound(frm=patient(1)), inbound(frm=PATIENT, minutes=1), inbound(frm=patient(2)))
    store(inbound(frm=PATIENT, to=OTHER_LINE))

    listed = client.get(f"{API}conversations/{US}", **auth)
    counts = client.get(f"{API}inbox_counts", **auth).json()

    assert [i["counterpart"] for i in listed.json()] == [PATIENT]
    assert (counts["unread"], counts["needsReply"]) == (2, 2)
    assert sorted(counts["numbers"]) == [US, OTHER_LINE]


def test_a_limited_session_may_read_its_patient_but_no_one_else(limited):
    client, auth = limited
    store(inbound(frm=PATIENT), inbound(frm=patient(1)))

    assert read(client, **auth).json() == {"unread": 0}
    for refused in (
        read(client, theirs=patient(1), **auth),
        client.get(f"{API}conversations/{US}?counterpart={patient(1)}", **auth),
    ):
        assert refused.status_code == 403
        assert refused.json()["information"] == OUT_OF_SCOPE


def test_a_limited_session_from_a_chart_without_a_mobile_number_sees_nothing(settings):
    settings.EMBED_SCOPE = "patient"
    store(inbound(frm=PATIENT))
    auth = bearer(launched_api_token())

    assert Client().get(f"{API}conversations/{US}", **auth).json() == []
    assert Client().get(f"{API}inbox_counts", **auth).json()["unread"] == 0


def test_the_routes_are_named():
    assert reverse("smsapp:conversations", args=[US]) == f"{API}conversations/{US}"
    assert reverse("smsapp:conversation_read", args=[US, PATIENT]).endswith("/read")
    assert reverse("smsapp:inbox_counts") == f"{API}inbox_counts"
