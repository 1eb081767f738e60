"""The Canvas embed: the page's shell, the launch token traded for an API token, then the
page's API calls with that bearer token and no cookie at all (a frame on another site may
not get cookies)."""

import json
import re
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import timezone

from smsapp.lib import launch
from smsapp.models import LaunchTokenUse, Message
from tests import twilio_payloads as tw
from tests.factories import MessageFactory, PhoneFactory, in_directory
from tests.test_launch_tokens import PATIENT_ID, STAFF_ID, launch_token
from tests.test_settings import start

pytestmark = pytest.mark.django_db

EMBED = "/embed/"
LAUNCH = "/embed/launch/"
RENEW = "/embed/renew/"
API = "/plugin-io/api/twilio_sms_mms/"
CANVAS = "https://clinic.canvasmedical.com"  # tests/settings.py CANVAS_ORIGIN
US = "+14155550100"
PATIENT = "+14155550199"


def fresh_client() -> Client:
    """A browser with no cookies at all, as inside a third-party frame."""
    client = Client()
    client.cookies.clear()
    return client


def trade(client: Client, token, **extra):
    """What the page's script does with the launch token of its URL fragment."""
    return client.post(
        LAUNCH, data=json.dumps({"launch": token}), content_type="application/json", **extra
    )


def page_config(response) -> dict:
    match = re.search(
        r'<script id="sms-config" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, "the page's config block is missing"
    return json.loads(match.group(1))


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def chart_token(*, phone: str | None = None, **claims) -> str:
    """A launch token from the chart of a patient whose mobile number (in the app's
    directory, as the plugin keeps it) is `phone`."""
    if phone:
        in_directory(claims.get("patient", PATIENT_ID), phone)
    return launch_token(**claims)


def launched_api_token(client: Client | None = None, **claims) -> str:
    response = trade(client or fresh_client(), chart_token(**claims))
    assert response.status_code == 200, response.content
    return response.json()["token"]


def assert_refused(response, status: int, words: str, reason: str) -> None:
    """The refusal page's two sentences, in the API's error shape; never a token."""
    assert response.status_code == status
    body = response.json()
    assert words in body["headline"]
    assert body["information"] == f"{body['headline']} {body['advice']}"
    assert body["reason"] == reason
    assert "token" not in body and "session" not in body
    assert not response.cookies
    assert "no-store" in response["Cache-Control"]


def assert_refused_page(response, status: int, words: str) -> None:
    """A small HTML page saying what happened and what to do, never the app."""
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    text = response.content.decode()
    assert words in text
    assert "sms-config" not in text and "page/main.js" not in text
    assert not response.cookies
    # Shown in the chart's pane, so framable by Canvas (and only Canvas).
    assert f"frame-ancestors 'self' {CANVAS}" in response["Content-Security-Policy"]


# --- the page's shell -------------------------------------------------------------------


def test_the_shell_carries_no_token_no_user_and_no_data():
    MessageFactory(from_number=PATIENT, to_number=US, body="Private words")

    response = fresh_client().get(EMBED)

    assert response.status_code == 200
    config = page_config(response)
    assert config["embed"] is True
    assert (config["launchUrl"], config["apiTokenRenewUrl"]) == (LAUNCH, RENEW)
    assert "session" not in config and "csrfToken" not in config
    assert "Private words" not in response.content.decode()
    assert 'id="app" hidden' in response.content.decode()


def test_the_shell_sets_no_cookie_sends_no_referrer_and_is_framable_by_canvas_only():
    response = fresh_client().get(EMBED)

    assert not response.cookies
    assert f"frame-ancestors 'self' {CANVAS}" in response["Content-Security-Policy"]
    assert "X-Frame-Options" not in response
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"


def test_a_launch_token_in_the_query_string_is_refused_unread():
    """A plugin from before the fragment: the token already went through logs."""
    token = launch_token()

    response = fresh_client().get(EMBED, {"launch": token})

    assert_refused_page(response, 400, "old version of the SMS Twilio plugin")
    assert not LaunchTokenUse.objects.exists()
    assert trade(fresh_client(), token).status_code == 200  # never used, still good


def test_without_a_launch_key_the_shell_says_which_setting_to_add(settings):
    settings.CANVAS_LAUNCH_KEY = ""

    assert_refused_page(fresh_client().get(EMBED), 503, "CANVAS_LAUNCH_KEY")
    assert_refused(trade(fresh_client(), launch_token()), 503, "not set up", "not_configured")


def test_the_shell_answers_get_only():
    assert fresh_client().post(EMBED).status_code == 405


# --- trading the launch token --------------------------------------------------------------


def test_a_launch_gives_an_api_token_and_the_session_of_the_patient():
    response = trade(fresh_client(), chart_token(phone=PATIENT))

    assert response.status_code == 200
    body = response.json()
    assert body["expiresIn"] == launch.API_TOKEN_LIFETIME
    assert body["session"] == {
        "userName": f"canvas-{STAFF_ID}",
        "patient": {"id": PATIENT_ID, "name": "Ann Smith"},
        "patientPhone": PATIENT,
        "scope": "clinic",
        "may": {
            "smsapp.send_message": True,
            "smsapp.change_phone": False,
            "smsapp.sync_twilio": False,
            "smsapp.delete_message": False,
            "smsapp.add_numberlink": True,
        },
    }
    claims = launch.decode_api_token(body["token"], key=_api_key())
    user = get_user_model().objects.get(pk=claims.user_id)
    assert claims.patient_id == PATIENT_ID
    assert user.username == f"canvas-{STAFF_ID}"
    assert not response.cookies
    assert "no-store" in response["Cache-Control"]


def test_a_patient_without_a_phone_gets_a_session_with_an_empty_to():
    response = trade(fresh_client(), launch_token())

    assert response.status_code == 200
    assert response.json()["session"]["patientPhone"] == ""


def test_the_launch_works_from_a_frame_with_an_opaque_origin():
    """The launch token in the body is the credential, like a bearer token: a sandboxed
    frame may send Origin: null."""
    assert trade(fresh_client(), launch_token(), HTTP_ORIGIN="null").status_code == 200


def test_the_first_launch_creates_an_agent_who_cannot_sign_in_with_a_password():
    launched_api_token()
    launched_api_token()

    user = get_user_model().objects.get(username=f"canvas-{STAFF_ID}")
    assert user.is_active and not user.is_staff and not user.is_superuser
    assert [group.name for group in user.groups.all()] == ["SMS agents"]
    assert user.has_perm("smsapp.send_message") and not user.has_perm("smsapp.change_phone")
    assert not user.has_usable_password()
    assert get_user_model().objects.filter(username__startswith="canvas-").count() == 1


def test_a_user_whose_role_an_administrator_took_away_stays_without_it():
    launched_api_token()
    get_user_model().objects.get(username=f"canvas-{STAFF_ID}").groups.clear()

    response = trade(fresh_client(), launch_token())

    assert_refused(response, 403, "Your access to SMS is switched off.", "disabled")
    assert not get_user_model().objects.get(username=f"canvas-{STAFF_ID}").groups.exists()


@override_settings(CANVAS_DEFAULT_GROUP="SMS administrators")
def test_the_role_of_new_canvas_users_is_a_setting():
    launched_api_token()

    user = get_user_model().objects.get(username=f"canvas-{STAFF_ID}")
    assert [group.name for group in user.groups.all()] == ["SMS administrators"]
    assert not user.is_staff and not user.is_superuser


def test_a_token_is_traded_only_once():
    token = launch_token()
    assert trade(fresh_client(), token).status_code == 200

    response = trade(fresh_client(), token)

    assert_refused(response, 401, "has already been used", "used")
    assert LaunchTokenUse.objects.count() == 1


def _expired():
    past = int(time.time()) - 1000
    return launch_token(iat=past, exp=past + 300)


@pytest.mark.parametrize(
    ("make_token", "words", "reason"),
    [
        (_expired, "has expired", "expired"),
        (lambda: launch_token(key="another-instance-key-0123456789abcdef"), "was not signed",
         "bad_signature"),
        (lambda: launch_token(aud="another-app"), "made for another application",
         "wrong_audience"),
        (lambda: launch_token(iss="someone"), "not made by the SMS Twilio plugin",
         "wrong_issuer"),
        (lambda: launch_token(drop=("patient",)), "not a valid launch link", "invalid"),
        (lambda: "garbage", "not a valid launch link", "invalid"),
        (lambda: "", "must be opened from a patient", "missing"),
        (lambda: None, "must be opened from a patient", "missing"),
        (lambda: ["a", "list"], "must be opened from a patient", "missing"),
    ],
    ids=["expired", "bad-signature", "wrong-audience", "wrong-issuer", "incomplete",
         "garbage", "empty", "null", "not-a-string"],
)  # fmt: skip
def test_a_refused_token_gets_a_401_saying_why(make_token, words, reason):
    response = trade(fresh_client(), make_token())

    assert_refused(response, 401, words, reason)
    assert "open SMS again from the patient" in response.json()["advice"]
    assert not get_user_model().objects.exists()
    assert not LaunchTokenUse.objects.exists()


def test_the_launch_takes_a_json_post_only():
    token = launch_token()
    client = fresh_client()

    assert client.get(LAUNCH).status_code == 405
    assert client.post(LAUNCH, {"launch": token}).status_code == 415  # a form post
    not_json = client.post(LAUNCH, data="launch=x", content_type="application/json")
    assert not_json.status_code == 400
    assert not LaunchTokenUse.objects.exists()


def test_a_lone_surrogate_in_the_launch_body_is_a_400_naming_it():
    response = fresh_client().post(
        LAUNCH, data='{"launch": "\\ud800"}', content_type="application/json"
    )

    assert response.status_code == 400
    assert "launch" in response.json()["fields"]


def test_a_short_launch_key_stops_start_up():
    result = start(CANVAS_LAUNCH_KEY="too-short-to-be-safe")

    assert result.returncode != 0
    assert "CANVAS_LAUNCH_KEY must be at least 32 characters" in result.stderr
    assert start(CANVAS_LAUNCH_KEY="k" * 32).returncode == 0


def test_old_token_records_are_removed_by_the_periodic_purge(run_jobs):
    long_ago = timezone.now() - timedelta(hours=2)
    LaunchTokenUse.objects.create(
        jti="old", staff_id="s", patient_id="p", used_at=long_ago, expires_at=long_ago
    )
    launched_api_token()

    run_jobs()

    assert not LaunchTokenUse.objects.filter(jti="old").exists()
    assert LaunchTokenUse.objects.count() == 1  # the token still in its lifetime stays


# --- the embedded session: the API with the bearer token and no cookie -------------------


def test_a_full_embedded_session_works_without_any_cookie(mocked_twilio):
    phone = PhoneFactory(phone_number=US, sms=True, mms=True)
    MessageFactory(from_number=PATIENT, to_number=US, direction="inbound", body="Hi there")
    browser = fresh_client()
    token = trade(browser, chart_token(phone=PATIENT)).json()["token"]
    browser.cookies.clear()  # whatever the launch might have set, the page must not need it

    phones = browser.get(f"{API}phone_list", **bearer(token))
    log = browser.get(f"{API}message_list/{PATIENT}/from", **bearer(token))
    conversation = browser.get(f"{API}conversation/{US}/{PATIENT}", **bearer(token))
    answer = tw.message_json(1, from_=US, to=PATIENT, status="queued", date_sent=None, price=None)
    mocked_twilio.post(tw.account_url("Messages.json"), json=answer, status=201)
    sent = browser.post(
        f"{API}sms_send",
        data=json.dumps(
            {"numberFrom": US, "numberFromSid": phone.sid, "numberTo": PATIENT, "text": "Hello"}
        ),
        content_type="application/json",
        # The frame may even have an opaque origin; the bearer token is what counts.
        HTTP_ORIGIN="null",
        **bearer(token),
    )

    assert phones.status_code == 200, phones.content
    assert [p["phoneNumber"] for p in phones.json()] == [US]
    assert log.status_code == 200, log.content
    assert [m["body"] for m in log.json()] == ["Hi there"]
    assert conversation.status_code == 200, conversation.content
    assert sent.status_code == 200, sent.content
    assert sent.json()["sid"] == answer["sid"]
    assert Message.objects.filter(sid=answer["sid"], to_number=PATIENT).exists()
    assert not browser.cookies


def test_without_the_bearer_token_the_api_is_closed():
    browser = fresh_client()
    launched_api_token(browser)

    assert browser.get(f"{API}phone_list").status_code == 401


@pytest.mark.parametrize("spoil", ["expired", "tampered", "foreign", "garbage", "empty"])
def test_a_bad_bearer_token_is_a_401(spoil):
    token = launched_api_token()
    user_id = launch.decode_api_token(token, key=_api_key()).user_id
    spoiled = {
        "expired": launch.issue_api_token(
            key=_api_key(), user_id=user_id, now=int(time.time()) - launch.API_TOKEN_LIFETIME - 5
        ),
        "tampered": token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),
        "foreign": launch.issue_api_token(key=launch.api_token_key("other"), user_id=user_id),
        "garbage": "not-a-token",
        "empty": "",
    }[spoil]

    response = fresh_client().get(f"{API}phone_list", **bearer(spoiled))

    assert response.status_code == 401
    assert "open it again from the patient's chart" in response.json()["information"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_bad_bearer_token_is_refused_even_with_a_staff_session(staff_client):
    response = staff_client.get(f"{API}phone_list", **bearer("not-a-token"))

    assert response.status_code == 401


def test_a_launch_token_is_not_accepted_as_a_bearer_token():
    response = fresh_client().get(f"{API}phone_list", **bearer(launch_token()))

    assert response.status_code == 401


def test_switching_the_user_off_ends_its_bearer_tokens():
    token = launched_api_token()
    user = get_user_model().objects.get(username=f"canvas-{STAFF_ID}")

    user.groups.clear()
    assert fresh_client().get(f"{API}phone_list", **bearer(token)).status_code == 403
    user.is_active = False
    user.save()
    assert fresh_client().get(f"{API}phone_list", **bearer(token)).status_code == 401


# --- renewing the API token ---------------------------------------------------------------


def _renew(client: Client, token: str | None, **extra):
    headers = bearer(token) if token is not None else {}
    return client.post(RENEW, data="{}", content_type="application/json", **headers, **extra)


def test_renewal_gives_a_fresh_token_that_works():
    PhoneFactory()  # a mirror with numbers: phone_list answers without asking Twilio
    old = launched_api_token()
    old_claims = launch.decode_api_token(old, key=_api_key())

    response = _renew(fresh_client(), old, HTTP_ORIGIN="null")

    assert response.status_code == 200
    body = response.json()
    assert body["expiresIn"] == launch.API_TOKEN_LIFETIME
    new_claims = launch.decode_api_token(body["token"], key=_api_key())
    assert (new_claims.user_id, new_claims.patient_id, new_claims.session_started) == (
        old_claims.user_id, old_claims.patient_id, old_claims.session_started,
    )  # fmt: skip
    assert fresh_client().get(f"{API}phone_list", **bearer(body["token"])).status_code == 200


def test_renewing_answers_post_only_and_in_the_apis_error_shape():
    response = fresh_client().get(RENEW, **bearer(launched_api_token()))

    assert response.status_code == 405
    assert "POST" in response.json()["information"]


def test_an_expired_token_cannot_be_renewed():
    user_id = launch.decode_api_token(launched_api_token(), key=_api_key()).user_id
    expired = launch.issue_api_token(
        key=_api_key(), user_id=user_id, now=int(time.time()) - launch.API_TOKEN_LIFETIME - 5
    )

    assert _renew(fresh_client(), expired).status_code == 401


def test_a_session_too_old_cannot_be_renewed():
    user_id = launch.decode_api_token(launched_api_token(), key=_api_key()).user_id
    started = int(time.time()) - launch.API_SESSION_MAX_AGE - 60
    old = launch.issue_api_token(key=_api_key(), user_id=user_id, session_started=started)

    response = _renew(fresh_client(), old)

    assert response.status_code == 401
    assert "open SMS again from the chart" in response.json()["information"]


def test_renewal_needs_the_bearer_token_not_a_session(staff_client):
    assert _renew(staff_client, None).status_code == 401
    assert _renew(fresh_client(), None).status_code == 401


def test_renewal_is_post_only():
    token = launched_api_token()

    assert fresh_client().get(RENEW, **bearer(token)).status_code == 405


def _api_key() -> str:
    return launch.api_token_key(settings.SECRET_KEY)
