"""The Twilio gateway against Twilio's HTTP API, mocked with `responses`: the real SDK
builds every request and parses every answer."""

import base64
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from smsapp import twilio_gateway as gw
from smsapp.twilio_gateway import calls, rest
from tests import twilio_payloads as tw

MB = 1024 * 1024


def form(call) -> dict[str, list[str]]:
    """The form body the SDK sent with a recorded request."""
    body = call.request.body
    return parse_qs(body.decode() if isinstance(body, bytes) else body)


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def no_retries(settings):
    settings.TWILIO_MAX_RETRIES = 0


# --- client and credentials -----------------------------------------------------------------


def test_it_authenticates_with_the_api_key_and_sets_the_timeout(mocked_twilio, settings):
    settings.TWILIO_TIMEOUT = 7.5
    sid = tw.message_sid(1)
    mocked_twilio.get(tw.account_url(f"Messages/{sid}.json"), json=tw.message_json(1))

    gw.fetch_message(sid)

    request = mocked_twilio.calls[0].request
    assert request.headers["Authorization"] == basic_auth(
        settings.TWILIO_API_KEY, settings.TWILIO_API_SECRET
    )
    assert request.req_kwargs["timeout"] == 7.5


def test_it_falls_back_to_the_auth_token_without_an_api_key(mocked_twilio, settings):
    settings.TWILIO_API_KEY = ""
    settings.TWILIO_API_SECRET = ""
    sid = tw.message_sid(1)
    mocked_twilio.get(tw.account_url(f"Messages/{sid}.json"), json=tw.message_json(1))

    gw.fetch_message(sid)

    assert mocked_twilio.calls[0].request.headers["Authorization"] == basic_auth(
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: next(gw.list_phone_numbers()),
        lambda: gw.update_sms_webhook(tw.phone_sid(1), url="https://x.example", method="POST"),
        lambda: next(gw.iter_message_pages()),
        lambda: gw.fetch_message(tw.message_sid(1)),
        lambda: gw.send_message(from_="+14155550100", to="+14155550199", body="Hi"),
        lambda: gw.delete_message(tw.message_sid(1)),
        lambda: gw.list_media(tw.message_sid(1)),
        lambda: gw.download_media(tw.message_sid(1), tw.media_sid(1)),
    ],
    ids=[
        "list_phones",
        "update_webhook",
        "messages",
        "fetch",
        "send",
        "delete",
        "media",
        "download",
    ],
)
@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "credentials"])
def test_missing_credentials_raise_not_configured_without_any_request(
    mocked_twilio, settings, call, missing
):
    if missing == "credentials":
        settings.TWILIO_API_KEY = settings.TWILIO_API_SECRET = settings.TWILIO_AUTH_TOKEN = ""
    else:
        settings.TWILIO_ACCOUNT_SID = ""

    with pytest.raises(gw.TwilioNotConfigured) as caught:
        call()

    assert "TWILIO_ACCOUNT_SID" in caught.value.message
    assert caught.value.http_status == 503
    assert not gw.is_configured()
    assert len(mocked_twilio.calls) == 0


# --- phone numbers ---------------------------------------------------------------------------


def test_list_phone_numbers_follows_every_page(mocked_twilio):
    pages = [[tw.phone_json(1), tw.phone_json(2)], [tw.phone_json(3, capabilities={"mms": False})]]
    served = tw.add_paged_list(
        mocked_twilio, "IncomingPhoneNumbers.json", "incoming_phone_numbers", pages
    )

    records = list(gw.list_phone_numbers())

    assert [r["sid"] for r in records] == [tw.phone_sid(1), tw.phone_sid(2), tw.phone_sid(3)]
    assert records[2] == {
        "sid": tw.phone_sid(3),
        "phone_number": "+14155550003",
        "friendly_name": "Front desk 3",
        "sms": True,
        "mms": False,
        "voice": True,
        "fax": False,
        "status": "in-use",
        "sms_url": tw.phone_json(3)["sms_url"],
        "sms_method": "POST",
        "status_callback": "",
    }
    assert [r.get("Page") for r in served.requests] == [None, "1"]
    assert served.requests[0]["PageSize"] == "1000"


def test_update_sms_webhook_sends_the_url_and_method(mocked_twilio):
    sid = tw.phone_sid(4)
    url = "https://sms.example.org/plugin-io/api/twilio_sms_mms/inbound_treatment"
    mocked_twilio.post(
        tw.account_url(f"IncomingPhoneNumbers/{sid}.json"),
        json=tw.phone_json(4, sms_url=url, sms_method="GET"),
    )

    record = gw.update_sms_webhook(sid, url=url, method="GET")

    assert form(mocked_twilio.calls[0]) == {"SmsUrl": [url], "SmsMethod": ["GET"]}
    assert (record["sid"], record["sms_url"], record["sms_method"]) == (sid, url, "GET")


def test_update_sms_webhook_of_an_unknown_number_is_not_found(mocked_twilio, no_retries):
    sid = tw.phone_sid(4)
    tw.add_error(mocked_twilio, "POST", f"IncomingPhoneNumbers/{sid}.json", 404, 20404)

    with pytest.raises(gw.TwilioError) as caught:
        gw.update_sms_webhook(sid, url="https://sms.example.org/x", method="POST")

    assert (caught.value.http_status, caught.value.code) == (404, 20404)


# --- messages ---------------------------------------------------------------------------------


def test_iter_message_pages_streams_three_pages_with_the_filters(mocked_twilio):
    pages = [[tw.message_json(n) for n in range(p * 3, p * 3 + 3)] for p in range(3)]
    served = tw.add_paged_list(mocked_twilio, "Messages.json", "messages", pages)

    stream = gw.iter_message_pages(
        to="+14155550199",
        from_="+14155550100",
        date_sent_after=date(2026, 10, 30),
        date_sent_before=datetime(2026, 11, 2, 8, 30, tzinfo=UTC),
        page_size=5000,
    )
    first = next(stream)
    assert served.pages_served == 1  # one page at a time, not the whole account
    got = [first, *stream]

    assert [[r["sid"] for r in page] for page in got] == [
        [tw.message_sid(n) for n in range(p * 3, p * 3 + 3)] for p in range(3)
    ]
    assert served.requests[0] == {
        "To": "+14155550199",
        "From": "+14155550100",
        "DateSent>": "2026-10-30T00:00:00Z",
        "DateSent<": "2026-11-02T08:30:00Z",
        "PageSize": "1000",  # capped at Twilio's maximum
    }
    # Later pages come from next_page_uri, which keeps the filters.
    assert [r.get("Page") for r in served.requests] == [None, "1", "2"]
    assert all(r["DateSent>"] == "2026-10-30T00:00:00Z" for r in served.requests)


def test_iter_message_pages_without_filters_sends_only_the_page_size(mocked_twilio):
    served = tw.add_paged_list(mocked_twilio, "Messages.json", "messages", [[]])

    assert list(gw.iter_message_pages(page_size=0)) == [[]]

    assert served.requests == [{"PageSize": "1"}]


def test_fetch_message_converts_twilio_fields_to_model_fields(mocked_twilio):
    sid = tw.message_sid(9)
    mocked_twilio.get(
        tw.account_url(f"Messages/{sid}.json"),
        json=tw.message_json(
            9,
            direction="inbound",
            num_media=2,
            num_segments="3",
            status="undelivered",
            error_code=30003,
            error_message="Unreachable destination handset",
            price=None,
            messaging_service_sid="MG" + "5" * 32,
            date_sent=None,
        ),
    )

    record = gw.fetch_message(sid)

    assert record == {
        "sid": sid,
        "account_sid": tw.account_sid(),
        "messaging_service_sid": "MG" + "5" * 32,
        "direction": "inbound",
        "from_number": "+14155550100",
        "to_number": "+14155550199",
        "body": "Message number 9",
        "status": "undelivered",
        "error_code": 30003,
        "error_message": "Unreachable destination handset",
        "num_media": 2,
        "num_segments": 3,
        "price": "",
        "price_unit": "USD",
        "date_created": datetime(2026, 11, 1, 12, 9, tzinfo=UTC),
        "date_sent": None,
        "date_updated": datetime(2026, 11, 1, 12, 9, 5, tzinfo=UTC),
    }


def test_send_message_sends_an_sms_with_a_status_callback(mocked_twilio):
    callback = "https://sms.example.org/plugin-io/api/twilio_sms_mms/outbound_api_status"
    mocked_twilio.post(
        tw.account_url("Messages.json"),
        json=tw.message_json(20, status="queued", body="See you at 3pm", date_sent=None),
        status=201,
    )

    record = gw.send_message(
        from_="+14155550100", to="+14155550199", body="See you at 3pm", status_callback=callback
    )

    assert form(mocked_twilio.calls[0]) == {
        "From": ["+14155550100"],
        "To": ["+14155550199"],
        "Body": ["See you at 3pm"],
        "StatusCallback": [callback],
    }
    assert (record["sid"], record["status"], record["body"]) == (
        tw.message_sid(20),
        "queued",
        "See you at 3pm",
    )


def test_send_message_sends_an_mms_with_every_media_url(mocked_twilio):
    urls = [f"https://cdn.example.org/picture-{n}.jpg" for n in range(10)]
    mocked_twilio.post(
        tw.account_url("Messages.json"), json=tw.message_json(21, num_media=10), status=201
    )

    record = gw.send_message(from_="+14155550100", to="+14155550199", media_urls=urls)

    sent = form(mocked_twilio.calls[0])
    assert sent["MediaUrl"] == urls
    assert "Body" not in sent and "StatusCallback" not in sent
    assert record["num_media"] == 10


def test_send_message_refuses_more_than_ten_media_urls_without_calling_twilio(mocked_twilio):
    urls = [f"https://cdn.example.org/picture-{n}.jpg" for n in range(11)]

    with pytest.raises(gw.TwilioError) as caught:
        gw.send_message(from_="+14155550100", to="+14155550199", media_urls=urls)

    assert "at most 10 media URLs" in caught.value.message
    assert (caught.value.http_status, caught.value.field) == (400, "mediaUrls")
    assert len(mocked_twilio.calls) == 0


@pytest.mark.parametrize(
    "sid", [None, "", 42, "SMnot-a-sid"], ids=["null", "empty", "number", "malformed"]
)
def test_an_answer_without_a_sid_is_a_failed_call_not_a_record(mocked_twilio, sid):
    """A malformed 201 must not become an answer with "sid": null: nothing could find,
    mirror or delete that message."""
    mocked_twilio.post(
        tw.account_url("Messages.json"), json=tw.message_json(1, sid=sid), status=201
    )
    mocked_twilio.get(tw.account_url(f"Messages/{tw.message_sid(2)}.json"), json={"status": "sent"})
    updated = tw.phone_json(1, sid=sid)
    mocked_twilio.post(tw.account_url(f"IncomingPhoneNumbers/{tw.phone_sid(1)}.json"), json=updated)

    for call in (
        lambda: gw.send_message(from_="+14155550100", to="+14155550199", body="Hi"),
        lambda: gw.fetch_message(tw.message_sid(2)),
        lambda: gw.update_sms_webhook(tw.phone_sid(1), url="https://x.org", method="POST"),
    ):
        with pytest.raises(gw.TwilioError) as caught:
            call()
        assert caught.value.http_status == 502
        assert "no valid SID" in caught.value.message
    assert len(mocked_twilio.calls) == 3  # none of them retried


def test_delete_message(mocked_twilio):
    sid = tw.message_sid(3)
    mocked_twilio.delete(tw.account_url(f"Messages/{sid}.json"), status=204)

    assert gw.delete_message(sid) is None

    assert mocked_twilio.calls[0].request.method == "DELETE"


def test_delete_message_still_being_sent_is_a_conflict(mocked_twilio):
    sid = tw.message_sid(3)
    tw.add_error(mocked_twilio, "DELETE", f"Messages/{sid}.json", 400, 20009)

    with pytest.raises(gw.TwilioError) as caught:
        gw.delete_message(sid)

    assert caught.value.http_status == 409
    assert "still being processed" in caught.value.message


# --- media -------------------------------------------------------------------------------------


def test_list_media(mocked_twilio):
    sid = tw.message_sid(5)
    items = [tw.media_json(sid, 1), tw.media_json(sid, 2, content_type="image/png")]
    served = tw.add_paged_list(mocked_twilio, f"Messages/{sid}/Media.json", "media_list", [items])

    records = gw.list_media(sid)

    assert records == [
        {
            "sid": tw.media_sid(n),
            "content_type": kind,
            "uri": tw.account_path(f"Messages/{sid}/Media/{tw.media_sid(n)}.json"),
            "date_created": tw.BASE_TIME,
        }
        for n, kind in [(1, "image/jpeg"), (2, "image/png")]
    ]
    assert served.requests[0]["PageSize"] == "1000"


def _media_redirect(mocked_twilio, cdn_url: str) -> str:
    message, media = tw.message_sid(5), tw.media_sid(1)
    mocked_twilio.get(
        tw.account_url(f"Messages/{message}/Media/{media}"),
        status=302,
        headers={"Location": cdn_url},
    )
    return message, media


def test_download_media_follows_the_redirect_and_sends_credentials_only_to_twilio(
    mocked_twilio, settings
):
    cdn = "https://s3-external-1.amazonaws.com/media.twiliocdn.com/AC0/abc?X-Amz-Signature=1"
    message, media = _media_redirect(mocked_twilio, cdn)
    mocked_twilio.get(cdn, body=b"\xff\xd8jpeg-bytes", content_type="image/jpeg; charset=binary")

    content, content_type = gw.download_media(message, media)

    assert (content, content_type) == (b"\xff\xd8jpeg-bytes", "image/jpeg")
    first, second = mocked_twilio.calls
    assert first.request.headers["Authorization"] == basic_auth(
        settings.TWILIO_API_KEY, settings.TWILIO_API_SECRET
    )
    assert urlsplit(second.request.url).hostname == "s3-external-1.amazonaws.com"
    assert "Authorization" not in second.request.headers  # the CDN URL is pre-signed


def test_download_media_refuses_a_declared_size_over_the_limit(mocked_twilio):
    cdn = "https://media.twiliocdn.com/big.jpg"
    message, media = _media_redirect(mocked_twilio, cdn)
    mocked_twilio.get(cdn, body=b"x" * (5 * MB + 1), auto_calculate_content_length=True)

    with pytest.raises(gw.TwilioError) as caught:
        gw.download_media(message, media)

    assert caught.value.message == "This media item is larger than 5 MB and was not downloaded."
    assert (caught.value.http_status, caught.value.transient) == (502, False)
    assert len(mocked_twilio.calls) == 2  # not retried


def test_download_media_refuses_a_streamed_size_over_the_limit(mocked_twilio):
    cdn = "https://media.twiliocdn.com/big.jpg"
    message, media = _media_redirect(mocked_twilio, cdn)
    mocked_twilio.get(cdn, body=b"x" * (5 * MB + 1))  # no Content-Length: chunked

    with pytest.raises(gw.TwilioError) as caught:
        gw.download_media(message, media)

    assert "larger than 5 MB" in caught.value.message
    assert "Content-Length" not in mocked_twilio.calls[1].response.headers


def test_download_media_accepts_exactly_the_limit(mocked_twilio, settings):
    settings.TWILIO_MEDIA_MAX_BYTES = 1000
    cdn = "https://media.twiliocdn.com/small.png"
    message, media = _media_redirect(mocked_twilio, cdn)
    mocked_twilio.get(cdn, body=b"p" * 1000, content_type="image/png")

    assert gw.download_media(message, media) == (b"p" * 1000, "image/png")


def test_download_media_of_a_deleted_item_is_not_found(mocked_twilio, no_retries):
    message, media = tw.message_sid(5), tw.media_sid(1)
    tw.add_error(mocked_twilio, "GET", f"Messages/{message}/Media/{media}", 404, 20404)

    with pytest.raises(gw.TwilioError) as caught:
        gw.download_media(message, media)

    assert caught.value.http_status == 404


# --- error mapping ------------------------------------------------------------------------------

REFUSED_SEND = [
    (21211, "numberTo", "not a valid phone number"),
    (21606, "numberFrom", "cannot send this kind of message"),
    (21610, "numberTo", "opted out"),
    (21608, "numberTo", "trial account"),
]


@pytest.mark.parametrize(("code", "field", "words"), REFUSED_SEND)
def test_send_errors_name_the_field_to_fix(mocked_twilio, code, field, words):
    tw.add_error(mocked_twilio, "POST", "Messages.json", 400, code)

    with pytest.raises(gw.TwilioError) as caught:
        gw.send_message(from_="+14155550100", to="+14155550199", body="Hi")

    error = caught.value
    assert words in error.message and error.message.endswith(".")
    assert (error.code, error.http_status, error.transient, error.field) == (
        code,
        400,
        False,
        field,
    )
    assert len(mocked_twilio.calls) == 1


ERRORS = [
    # (HTTP status, Twilio code, our status, transient, words in the sentence)
    (401, 20003, 503, False, "credentials were refused"),
    (401, None, 503, False, "credentials were refused"),
    (404, 20404, 404, False, "no such record"),
    (404, None, 404, False, "no such record"),
    (429, 20429, 503, True, "limiting how fast"),
    (429, None, 503, True, "limiting how fast"),
    (500, None, 503, True, "HTTP 500"),
    (503, None, 503, True, "HTTP 503"),
]


@pytest.mark.parametrize(("status", "code", "ours", "transient", "words"), ERRORS)
def test_fetch_errors_become_a_sentence_and_a_flag(
    mocked_twilio, no_retries, status, code, ours, transient, words
):
    sid = tw.message_sid(1)
    tw.add_error(mocked_twilio, "GET", f"Messages/{sid}.json", status, code)

    with pytest.raises(gw.TwilioError) as caught:
        gw.fetch_message(sid)

    assert words in caught.value.message
    assert (caught.value.http_status, caught.value.transient) == (ours, transient)
    assert caught.value.field is None


@pytest.mark.parametrize(("status", "code", "ours", "transient", "words"), ERRORS)
def test_list_errors_map_the_same_way(
    mocked_twilio, no_retries, status, code, ours, transient, words
):
    """The SDK's list pages raise a bare TwilioException for errors; the gateway must still
    read Twilio's code from the body."""
    tw.add_error(mocked_twilio, "GET", "Messages.json", status, code)

    with pytest.raises(gw.TwilioError) as caught:
        next(gw.iter_message_pages())

    assert words in caught.value.message
    assert (caught.value.http_status, caught.value.transient) == (ours, transient)


def test_an_unknown_error_code_keeps_twilios_reason(mocked_twilio):
    tw.add_error(
        mocked_twilio,
        "POST",
        "Messages.json",
        400,
        21617,
        "The concatenated message body exceeds the 1600 character limit.",
    )

    with pytest.raises(gw.TwilioError) as caught:
        gw.send_message(from_="+14155550100", to="+14155550199", body="x" * 1601)

    assert caught.value.message == (
        "Twilio refused the request: The concatenated message body exceeds the 1600 "
        "character limit (Twilio error 21617)."
    )
    assert (caught.value.http_status, caught.value.transient, caught.value.code) == (
        502,
        False,
        21617,
    )


def test_a_non_json_answer_is_an_error_not_a_crash(mocked_twilio):
    sid = tw.message_sid(1)
    mocked_twilio.get(tw.account_url(f"Messages/{sid}.json"), body="<html>Bad gateway</html>")

    with pytest.raises(gw.TwilioError) as caught:
        gw.fetch_message(sid)

    assert "could not read" in caught.value.message
    assert caught.value.http_status == 502


def _refused() -> requests.ConnectionError:
    """What requests raises when nothing listens at the address."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")
    return requests.ConnectionError(MaxRetryError(None, "/", reason))


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), "did not answer within 10 seconds"),
        (requests.exceptions.ConnectTimeout("connect timed out"), "did not answer within"),
        (_refused(), "Could not reach Twilio"),
    ],
    ids=["read-timeout", "connect-timeout", "refused"],
)
def test_network_failures_are_transient(mocked_twilio, no_retries, exc, words):
    sid = tw.message_sid(1)
    mocked_twilio.get(tw.account_url(f"Messages/{sid}.json"), body=exc)

    with pytest.raises(gw.TwilioError) as caught:
        gw.fetch_message(sid)

    assert words in caught.value.message
    assert (caught.value.http_status, caught.value.transient) == (503, True)
    assert caught.value.__cause__ is exc  # SDK and requests types stay inside the gateway


# --- retries ---------------------------------------------------------------------------------


def test_a_503_then_a_success_is_retried_once(mocked_twilio):
    sid = tw.message_sid(1)
    url = tw.account_url(f"Messages/{sid}.json")
    mocked_twilio.get(url, json=tw.error_json(20500, 503), status=503)
    mocked_twilio.get(url, json=tw.message_json(1))

    assert gw.fetch_message(sid)["sid"] == sid

    assert len(mocked_twilio.calls) == 2


def test_a_persistent_503_gives_up_after_the_configured_retries(mocked_twilio, settings):
    settings.TWILIO_MAX_RETRIES = 2
    sid = tw.message_sid(1)
    tw.add_error(mocked_twilio, "GET", f"Messages/{sid}.json", 503)

    with pytest.raises(gw.TwilioError) as caught:
        gw.fetch_message(sid)

    assert caught.value.transient
    assert len(mocked_twilio.calls) == 3  # TWILIO_MAX_RETRIES + 1


def test_retries_back_off_exponentially(mocked_twilio, settings, monkeypatch):
    settings.TWILIO_MAX_RETRIES = 3
    settings.TWILIO_RETRY_BACKOFF = 0.5
    delays = []
    monkeypatch.setattr(calls.time, "sleep", delays.append)
    tw.add_error(mocked_twilio, "GET", f"Messages/{tw.message_sid(1)}.json", 503)

    with pytest.raises(gw.TwilioError):
        gw.fetch_message(tw.message_sid(1))

    assert delays == [0.5, 1.0, 2.0]


def test_a_failed_page_is_retried_and_paging_continues(mocked_twilio):
    pages = [[tw.message_json(1)], [tw.message_json(2)]]
    served = tw.add_paged_list(
        mocked_twilio,
        "Messages.json",
        "messages",
        pages,
        errors={1: [(503, tw.error_json(20500, 503)), (429, tw.error_json(20429, 429))]},
    )

    got = list(gw.iter_message_pages())

    assert [[r["sid"] for r in p] for p in got] == [[tw.message_sid(1)], [tw.message_sid(2)]]
    assert [r.get("Page") for r in served.requests] == [None, "1", "1", "1"]


def test_permanent_errors_are_not_retried(mocked_twilio):
    tw.add_error(mocked_twilio, "GET", f"Messages/{tw.message_sid(1)}.json", 401, 20003)

    with pytest.raises(gw.TwilioError):
        gw.fetch_message(tw.message_sid(1))

    assert len(mocked_twilio.calls) == 1


@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.exceptions.ReadTimeout("read timed out")},
        {"json": tw.error_json(20500, 500), "status": 500},
        {"json": tw.error_json(20503, 503), "status": 503},
    ],
    ids=["read-timeout", "500", "503"],
)
def test_send_is_not_retried_when_twilio_may_have_sent_it(mocked_twilio, failure):
    mocked_twilio.post(tw.account_url("Messages.json"), **failure)
    mocked_twilio.post(tw.account_url("Messages.json"), json=tw.message_json(1), status=201)

    with pytest.raises(gw.TwilioError) as caught:
        gw.send_message(from_="+14155550100", to="+14155550199", body="Your results are in")

    assert caught.value.transient
    assert caught.value.outcome_unknown  # the caller must look it up, never send it again
    assert len(mocked_twilio.calls) == 1  # a patient must never get the same text twice


@pytest.mark.parametrize(
    "failure",
    [
        {"json": tw.error_json(20429, 429), "status": 429},
        {"body": requests.exceptions.ConnectTimeout("connect timed out")},
        {"json": tw.error_json(21211, 400), "status": 400},
    ],
    ids=["429", "connect-timeout", "refused-input"],
)
def test_a_send_twilio_certainly_did_not_act_on_has_a_known_outcome(
    mocked_twilio, settings, failure
):
    settings.TWILIO_MAX_RETRIES = 0
    mocked_twilio.post(tw.account_url("Messages.json"), **failure)

    with pytest.raises(gw.TwilioError) as caught:
        gw.send_message(from_="+14155550100", to="+14155550199", body="Hi")

    assert not caught.value.outcome_unknown


def test_a_read_that_timed_out_has_no_unknown_outcome(mocked_twilio, settings):
    settings.TWILIO_MAX_RETRIES = 0
    url = tw.account_url(f"Messages/{tw.message_sid(1)}.json")
    mocked_twilio.get(url, body=requests.exceptions.ReadTimeout("slow"))

    with pytest.raises(gw.TwilioError) as caught:
        gw.fetch_message(tw.message_sid(1))

    assert not caught.value.outcome_unknown  # repeating a read is harmless


@pytest.mark.parametrize(
    "failure",
    [
        {"json": tw.error_json(20429, 429), "status": 429},
        {"body": requests.exceptions.ConnectTimeout("connect timed out")},
        {"body": _refused()},
    ],
    ids=["429", "connect-timeout", "refused"],
)
def test_send_is_retried_when_twilio_certainly_did_nothing(mocked_twilio, failure):
    mocked_twilio.post(tw.account_url("Messages.json"), **failure)
    mocked_twilio.post(tw.account_url("Messages.json"), json=tw.message_json(1), status=201)

    record = gw.send_message(from_="+14155550100", to="+14155550199", body="Hi")

    assert record["sid"] == tw.message_sid(1)
    assert len(mocked_twilio.calls) == 2


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"direction": "inbound", "status": "received", "price": None, "price_unit": None},
        {
            "status": "failed",
            "error_code": 30007,
            "error_message": "Carrier violation",
            "date_sent": None,
            "num_segments": "4",
            "num_media": 3,
        },
        {"messaging_service_sid": "MG" + "1" * 32, "body": "Ça va? 👋", "date_updated": None},
        {"date_created": None, "num_media": None, "num_segments": None, "error_code": "oops"},
    ],
)
def test_list_pages_give_the_same_records_as_fetch(mocked_twilio, overrides):
    """Pages are converted from their JSON directly (fast); fetch goes through the SDK's
    MessageInstance. Both must give identical records."""
    payload = tw.message_json(42, **overrides)
    tw.add_paged_list(mocked_twilio, "Messages.json", "messages", [[payload]])
    mocked_twilio.get(tw.account_url(f"Messages/{payload['sid']}.json"), json=payload)

    [[listed]] = list(gw.iter_message_pages())

    assert listed == gw.fetch_message(payload["sid"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sun, 01 Nov 2026 12:00:00 +0000", datetime(2026, 11, 1, 12, 0, tzinfo=UTC)),
        ("Wed, 30 Dec 2026 23:59:59 +0000", datetime(2026, 12, 30, 23, 59, 59, tzinfo=UTC)),
        ("1 Nov 2026 12:00:00 GMT", datetime(2026, 11, 1, 12, 0, tzinfo=UTC)),  # fallback
        ("not a date", None),
        ("", None),
        (None, None),
    ],
)
def test_twilio_times(text, expected):
    assert rest._time(text) == expected
