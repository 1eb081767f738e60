"""The chart application's on_open, with the real SDK: one LaunchModalEffect to the right
chart pane whose URL's token the Django app's own check accepts, and which carries no
phone number (the app looks numbers up in its directory)."""

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from canvas_sdk.effects import EffectType
from canvas_sdk.events import EventType
from conftest import BASE_URL, LAUNCH_KEY, contact_point, open_event
from plugin_runner.plugin_runner import sandbox_plugin_handlers
from twilio_sms_mms.handlers.directory import e164
from twilio_sms_mms.handlers.sms_app import SmsApplication

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "twilio_sms_mms"


def actor_of(staff) -> str:
    """The event's actor: the staff member's Canvas user, by database id."""
    return str(staff.user.dbid)


def launch_payload(effects) -> dict:
    assert len(effects) == 1
    assert effects[0].type == EffectType.LAUNCH_MODAL
    return json.loads(effects[0].payload)["data"]


def launch_token_of(url: str) -> str:
    """The launch token, which travels in the URL's fragment only: browsers never send a
    fragment to a server (no access log, no proxy sees it) nor put it in a Referer."""
    parsed = urlparse(url)
    assert f"{parsed.scheme}://{parsed.netloc}" == BASE_URL
    assert parsed.path == "/embed/"
    assert parsed.query == ""
    (token,) = parse_qs(parsed.fragment)["launch"]
    return token


def unverified(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_opening_the_app_launches_the_embed_url_in_the_right_chart_pane(
    staff, patient, secrets, app_launch
):
    contact_point(patient, "(415) 555-0123")

    effects = SmsApplication(
        open_event(actor=actor_of(staff), patient_id=patient.id), secrets
    ).compute()

    data = launch_payload(effects)
    assert data["target"] == "right_chart_pane"
    assert data["title"] == "SMS Twilio"
    token = launch_token_of(data["url"])
    claims = app_launch.decode_launch_token(token, key=LAUNCH_KEY)
    assert claims.staff_id == staff.id
    assert claims.patient_id == patient.id
    assert claims.jti


def test_the_token_carries_no_phone_number(staff, patient, secrets):
    """The security review: the launch URL passes through the browser, so it names no
    number; the app finds the patient's numbers in its directory."""
    contact_point(patient, "(415) 555-0123")

    data = launch_payload(
        SmsApplication(open_event(actor=actor_of(staff), patient_id=patient.id), secrets).compute()
    )

    claims = unverified(launch_token_of(data["url"]))
    assert set(claims) == {"iss", "aud", "sub", "patient", "iat", "exp", "jti"}
    assert "4155550123" not in json.dumps(claims)


def test_the_token_is_short_lived_and_unique_per_launch(staff, patient, secrets):
    event = open_event(actor=actor_of(staff), patient_id=patient.id)
    tokens = [
        launch_token_of(launch_payload(SmsApplication(event, secrets).compute())["url"])
        for _ in range(2)
    ]

    claims = [unverified(t) for t in tokens]
    assert claims[0]["jti"] != claims[1]["jti"]
    assert 0 < claims[0]["exp"] - claims[0]["iat"] <= 300
    assert jwt.get_unverified_header(tokens[0])["alg"] == "HS256"


def test_the_django_app_refuses_the_token_with_another_key(staff, patient, secrets, app_launch):
    data = launch_payload(
        SmsApplication(open_event(actor=actor_of(staff), patient_id=patient.id), secrets).compute()
    )

    with pytest.raises(app_launch.TokenError) as refused:
        app_launch.decode_launch_token(launch_token_of(data["url"]), key="another-key")
    assert refused.value.reason == "bad_signature"


def test_without_its_variables_the_pane_says_what_to_set(staff, patient):
    effects = SmsApplication(open_event(actor=actor_of(staff), patient_id=patient.id), {}).compute()

    data = launch_payload(effects)
    assert data["url"] is None
    assert data["target"] == "right_chart_pane"
    assert "SMS_APP_BASE_URL" in data["content"]
    assert "SMS_LAUNCH_KEY" in data["content"]


def test_without_a_patient_the_pane_asks_to_open_it_from_a_chart(staff, secrets):
    data = launch_payload(
        SmsApplication(open_event(actor=actor_of(staff), patient_id=None), secrets).compute()
    )

    assert data["url"] is None
    assert "Open SMS from a patient" in data["content"]


def test_a_user_who_is_not_staff_gets_no_launch(patient, secrets):
    event = open_event(actor=str(patient.user.dbid), patient_id=patient.id)  # a portal user

    data = launch_payload(SmsApplication(event, secrets).compute())

    assert data["url"] is None
    assert "staff members" in data["content"]


def test_events_for_another_application_are_ignored(staff, patient, secrets):
    event = open_event(
        actor=actor_of(staff), patient_id=patient.id, target="other_plugin.apps:Other"
    )

    assert SmsApplication(event, secrets).compute() == []


def test_it_answers_the_application_events():
    assert EventType.Name(EventType.APPLICATION__ON_OPEN) in SmsApplication.RESPONDS_TO


def test_the_handler_runs_inside_canvass_sandbox(staff, patient, secrets, app_launch):
    """`canvas validate` only imports the module in the sandbox; the sandbox's run-time
    guards (attribute access, imports inside calls) only fire when on_open runs, so run it
    the way the plugin runner does: the class as the sandbox loaded it."""
    manifest = json.loads((PLUGIN_DIR / "CANVAS_MANIFEST.json").read_text())
    (result,) = sandbox_plugin_handlers(
        "twilio_sms_mms", PLUGIN_DIR, manifest["components"]["applications"]
    )
    assert result.error is None
    sandboxed_class = result.scope[result.handler_class]

    effects = sandboxed_class(
        open_event(actor=actor_of(staff), patient_id=patient.id), secrets
    ).compute()

    claims = app_launch.decode_launch_token(
        launch_token_of(launch_payload(effects)["url"]), key=LAUNCH_KEY
    )
    assert claims.patient_id == patient.id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(415) 555-0123", "+14155550123"),
        ("1 415 555 0123", "+14155550123"),
        ("+1 (415) 555-0123", "+14155550123"),
        ("+44 20 7946 0958", "+442079460958"),
        ("555-0123", ""),
        ("", ""),
        ("+0123456789", ""),
    ],
)
def test_chart_numbers_are_read_as_e164(raw, expected):
    assert e164(raw) == expected
