"""Inbound messages: stored with their media before answering, answered once, with the
auto-reply chosen from the active rules (defaults from migration 0002); an MMS's media
bytes are fetched by a job afterwards."""

import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from smsapp.models import AutoReplyRule, Media, Message
from tests import twilio_payloads as tw
from tests.factories import AutoReplyRuleFactory, MediaFactory
from tests.webhook_signing import FORM, get_signed, post_signed, signature

pytestmark = pytest.mark.django_db

INBOUND = reverse("smsapp:inbound_treatment")
HELLO_IMAGE = (
    "https://img.freepik.com/free-psd/hand-drawn-summer-frame-illustration_23-2151631028.jpg"
)
ACCOUNT = "AC" + "0" * 32
SID = "SM" + "c" * 32


def _params(body="hello", sid=SID, **extra):
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT,
        "From": "+14155550199",
        "To": "+14155550100",
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def _media_url(message_sid, media_sid):
    return (
        f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/{message_sid}"
        f"/Media/{media_sid}"
    )


def _reply(response):
    """(text, media URLs) of the TwiML answer, or None for an empty <Response/>."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/xml"
    root = ET.fromstring(response.content)  # noqa: S314 - the app's own TwiML
    assert root.tag == "Response"
    messages = root.findall("Message")
    if not messages:
        return None
    assert len(messages) == 1
    return messages[0].findtext("Body"), [m.text for m in messages[0].findall("Media")]


def test_hello_anywhere_gets_the_greeting_with_its_image(client):
    response = post_signed(client, INBOUND, _params("Well HELLO there"))
    assert _reply(response) == ("Hello! ♥️", [HELLO_IMAGE])


def test_anything_else_gets_the_fallback(client):
    response = post_signed(client, INBOUND, _params("When is my appointment?"))
    assert _reply(response) == ("Say hello! 👻", [])


def test_the_reply_reports_its_delivery_to_our_status_webhook(client):
    response = post_signed(client, INBOUND, _params("hello"))

    message = ET.fromstring(response.content).find("Message")  # noqa: S314
    assert message.get("action") == (
        "https://sms.example.org/plugin-io/api/twilio_sms_mms/outbound_api_status"
    )
    assert message.get("method") == "POST"


def test_without_a_public_address_the_reply_has_no_status_callback(client, settings):
    settings.PUBLIC_BASE_URL = ""  # signatures are then checked against the request's URL
    params = _params("hello")
    response = client.post(
        INBOUND,
        urlencode(params),
        content_type=FORM,
        HTTP_X_TWILIO_SIGNATURE=signature(f"http://testserver{INBOUND}", params),
    )

    assert ET.fromstring(response.content).find("Message").get("action") is None  # noqa: S314


def test_the_message_is_stored_before_answering(client):
    post_signed(client, INBOUND, _params("hello <b>doctor</b>", NumSegments="2"))
    message = Message.objects.get(sid=SID)
    assert message.direction == Message.Direction.INBOUND
    assert message.status == Message.Status.RECEIVED
    assert (message.from_number, message.to_number) == ("+14155550199", "+14155550100")
    assert message.body == "hello <b>doctor</b>"
    assert message.account_sid == ACCOUNT
    assert message.num_segments == 2
    assert message.num_media == 0
    assert message.date_created is not None and message.date_sent == message.date_created
    # Whole seconds like Twilio's dates, so the mirrored auto-reply never sorts before it.
    assert message.date_created.microsecond == 0


def test_media_rows_are_stored_with_their_sid_type_and_uri(client):
    urls = [_media_url(SID, "ME" + "1" * 32), _media_url(SID, "ME" + "2" * 32)]
    params = _params(
        "",
        NumMedia="2",
        MediaUrl0=urls[0],
        MediaContentType0="image/jpeg",
        MediaUrl1=urls[1],
        MediaContentType1="image/png",
    )
    response = post_signed(client, INBOUND, params)
    assert _reply(response) == ("Say hello! 👻", [])
    message = Message.objects.get(sid=SID)
    assert message.num_media == 2
    rows = list(message.media.order_by("sid").values_list("sid", "content_type", "uri"))
    assert rows == [
        ("ME" + "1" * 32, "image/jpeg", urls[0].removeprefix("https://api.twilio.com")),
        ("ME" + "2" * 32, "image/png", urls[1].removeprefix("https://api.twilio.com")),
    ]


def test_only_num_media_items_are_read(client):
    params = _params(NumMedia="1", MediaUrl0=_media_url(SID, "ME" + "1" * 32))
    params["MediaUrl1"] = _media_url(SID, "ME" + "2" * 32)
    post_signed(client, INBOUND, params)
    assert list(Media.objects.values_list("sid", flat=True)) == ["ME" + "1" * 32]


def test_a_media_item_sync_already_mirrored_does_not_fail_the_webhook(client):
    existing = MediaFactory(sid="ME" + "1" * 32)
    params = _params(NumMedia="1", MediaUrl0=_media_url(SID, existing.sid))
    assert _reply(post_signed(client, INBOUND, params)) is not None
    assert Message.objects.filter(sid=SID).exists()
    assert Media.objects.count() == 1


def test_a_retried_delivery_is_stored_once_and_answered_once(client):
    answers = [_reply(post_signed(client, INBOUND, _params("hello"))) for _ in range(3)]
    assert answers == [("Hello! ♥️", [HELLO_IMAGE]), None, None]
    assert Message.objects.filter(sid=SID).count() == 1


def test_a_retry_with_media_does_not_duplicate_the_media(client):
    params = _params(NumMedia="1", MediaUrl0=_media_url(SID, "ME" + "1" * 32))
    post_signed(client, INBOUND, params)
    post_signed(client, INBOUND, params)
    assert Media.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    ["STOP", "stop", "  Stop  ", "UNSUBSCRIBE", "end", "Quit", "STOPALL", "revoke", "OPTOUT",
     "cancel\n"],
)  # fmt: skip
def test_opt_out_words_get_no_auto_reply_but_are_stored(client, body):
    assert _reply(post_signed(client, INBOUND, _params(body))) is None
    assert Message.objects.get(sid=SID).body == body


@pytest.mark.parametrize("body", ["stop please", "please stop", "STOP it", "Hello, stop"])
def test_an_opt_out_word_inside_a_sentence_is_an_ordinary_message(client, body):
    assert _reply(post_signed(client, INBOUND, _params(body))) is not None


def test_a_keyword_twilio_answered_itself_gets_no_second_answer(client):
    response = post_signed(client, INBOUND, _params("HELP", OptOutType="HELP"))
    assert _reply(response) is None
    assert Message.objects.filter(sid=SID).exists()


def test_the_first_active_rule_by_priority_answers(client):
    AutoReplyRuleFactory(
        name="Appointments", match_kind="contains", pattern="APPOINTMENT", priority=5,
        reply_text="Call +1 415 555 0100 to book.",
    )  # fmt: skip
    AutoReplyRuleFactory(
        name="Inactive", match_kind="any", priority=1, reply_text="never", is_active=False
    )
    response = post_signed(client, INBOUND, _params("hello, about my appointment"))
    assert _reply(response) == ("Call +1 415 555 0100 to book.", [])


@pytest.mark.parametrize(
    ("kind", "pattern", "body", "matches"),
    [
        ("exact", "ok", " OK ", True),
        ("exact", "ok", "ok please", False),
        ("starts_with", "confirm", "Confirm 3pm", True),
        ("starts_with", "confirm", "I confirm", False),
        ("contains", "Refill", "need a REFILL asap", True),
        ("contains", "refill", "need a prescription", False),
    ],
)
def test_match_kinds_are_case_insensitive(client, kind, pattern, body, matches):
    AutoReplyRuleFactory(match_kind=kind, pattern=pattern, priority=1, reply_text="Rule reply")
    text, _ = _reply(post_signed(client, INBOUND, _params(body)))
    assert (text == "Rule reply") is matches


def test_with_no_rule_that_matches_the_answer_is_empty(client):
    AutoReplyRule.objects.filter(match_kind="any").update(is_active=False)
    assert _reply(post_signed(client, INBOUND, _params("When do you open?"))) is None


def test_reply_text_is_escaped_in_the_twiml(client):
    AutoReplyRuleFactory(match_kind="any", priority=1, reply_text="Tom & Jerry <3")
    assert _reply(post_signed(client, INBOUND, _params("hi"))) == ("Tom & Jerry <3", [])


def test_the_reply_choice_lives_on_the_rule_manager():
    assert AutoReplyRule.objects.reply_for("oh hello").name == "Greeting"
    assert AutoReplyRule.objects.reply_for("hi").name == "Fallback"
    assert AutoReplyRule.objects.reply_for(" StopAll ") is None
    assert AutoReplyRule.objects.reply_for("hello", opt_out_type="STOP") is None


def test_a_get_webhook_is_stored_and_answered(client):
    response = get_signed(client, INBOUND, _params("hello via GET"))
    assert _reply(response) == ("Hello! ♥️", [HELLO_IMAGE])
    assert Message.objects.get(sid=SID).body == "hello via GET"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"MessageSid": "", "SmsSid": "", "SmsMessageSid": ""}, "MessageSid"),
        ({"From": ""}, "From"),
        ({"To": ""}, "To"),
        ({"NumMedia": "-1"}, "NumMedia"),
        ({"NumMedia": "two"}, "NumMedia"),
        ({"NumMedia": "11"}, "NumMedia"),
        ({"NumMedia": "1"}, "MediaUrl0"),
        ({"NumMedia": "1", "MediaUrl0": "not a url"}, "MediaUrl0"),
        ({"NumMedia": "1", "MediaUrl0": "https://api.twilio.com/"}, "MediaUrl0"),
        # Only a media SID on Twilio's API: the SID names a file and a download URL.
        ({"NumMedia": "1", "MediaUrl0": _media_url(SID, "..")}, "MediaUrl0"),
        ({"NumMedia": "1", "MediaUrl0": _media_url(SID, "ME" + "z" * 32)}, "MediaUrl0"),
        ({"NumMedia": "1", "MediaUrl0": f"https://evil.example/{'ME' + 'a' * 32}"}, "MediaUrl0"),
        ({"NumMedia": "1", "MediaUrl0": "http://api.twilio.com/x/ME" + "a" * 32}, "MediaUrl0"),
        ({"NumMedia": "1", "MediaUrl0": "https://[::1/ME" + "a" * 32}, "MediaUrl0"),
        ({"NumSegments": "0"}, "NumSegments"),
        ({"From": "+1" * 40}, "From"),
    ],
)
def test_a_malformed_inbound_gets_400_with_a_sentence_and_stores_nothing(client, change, field):
    response = post_signed(client, INBOUND, {**_params(), **change})
    assert response.status_code == 400
    body = response.json()
    assert field in body["fields"]
    assert body["information"].endswith(".")
    assert not Message.objects.exists()
    assert not Media.objects.exists()


def test_a_body_over_64_kib_gets_413_and_stores_nothing(client):
    params = _params("x" * (64 * 1024))
    response = post_signed(client, INBOUND, params)
    assert response.status_code == 413
    assert "64 KiB" in response.json()["information"]
    assert not Message.objects.exists()


def test_a_body_over_djangos_own_limit_is_413_not_400_or_500(client, settings):
    # Django parses the body itself when it is under our limit but over its own.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    params = _params("x" * 4096)
    response = post_signed(client, INBOUND, params)
    assert response.status_code == 413


def test_too_many_fields_is_400(client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    params = {f"Extra{i}": "x" for i in range(20)}
    sig = signature("https://sms.example.org" + INBOUND, params)
    response = client.post(
        INBOUND, urlencode(params), content_type=FORM, HTTP_X_TWILIO_SIGNATURE=sig
    )
    assert response.status_code == 400
    assert "too many parameters" in response.json()["information"]


def test_a_nul_character_is_dropped_rather_than_failing_on_postgresql(client):
    response = post_signed(client, INBOUND, _params("hel\x00lo"))
    assert _reply(response) == ("Hello! ♥️", [HELLO_IMAGE])
    assert Message.objects.get(sid=SID).body == "hello"


# --- an MMS's media: fetched by a job once the webhook has answered -----------------------

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg bytes" * 10


def _mms(client, media_sid="ME" + "1" * 32):
    params = _params(
        "look", NumMedia="1", MediaUrl0=_media_url(SID, media_sid), MediaContentType0="image/jpeg"
    )
    return post_signed(client, INBOUND, params)


def test_an_mms_is_answered_without_waiting_on_twilio_then_a_job_caches_its_media(
    client, mocked_twilio, run_jobs
):
    response = _mms(client)

    assert _reply(response) == ("Say hello! 👻", [])
    assert len(mocked_twilio.calls) == 0  # Twilio waited on nothing but our database
    item = Media.objects.get()
    assert not item.file
    cdn = f"https://media.twiliocdn.com/{item.sid}"
    mocked_twilio.get(
        tw.account_url(f"Messages/{SID}/Media/{item.sid}"), status=307, headers={"Location": cdn}
    )
    mocked_twilio.get(cdn, body=JPEG, content_type="image/jpeg")

    run_jobs()

    item.refresh_from_db()
    assert item.file.read() == JPEG
    job = DBTaskResult.objects.get(task_path="smsapp.services.media.cache_media")
    assert (job.status, job.return_value) == ("SUCCESSFUL", 1)


def test_a_media_fetch_that_fails_keeps_its_error_for_the_admin(client, mocked_twilio, run_jobs):
    _mms(client)
    tw.add_error(mocked_twilio, "GET", f"Messages/{SID}/Media/{'ME' + '1' * 32}", 404, 20404)

    run_jobs()

    job = DBTaskResult.objects.get(task_path="smsapp.services.media.cache_media")
    assert job.status == "FAILED"
    assert "Twilio has no such record" in job.traceback
    assert not Media.objects.get().file  # the page's first view of it tries again


def test_a_text_without_media_queues_no_job(client):
    post_signed(client, INBOUND, _params("hello"))

    assert not DBTaskResult.objects.exists()
