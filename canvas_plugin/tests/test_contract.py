"""docs/canvas.md, run both ways: the app's real bodies and tokens (made by
smsapp/lib/canvas_contract.py, loaded by path) into the plugin's routes, and the plugin's
real directory pushes and pages into the app's checks and reader. If either side changes
a field, a claim or an audience, this fails."""

import base64
import json
from datetime import UTC, datetime
from http import HTTPStatus

from canvas_sdk.effects import EffectType
from canvas_sdk.events import EventType
from canvas_sdk.test_utils.factories import PatientFactory, StaffFactory
from conftest import (
    APP_ID,
    LAUNCH_KEY,
    call,
    contact_point,
    other_effects,
    patient_event,
    response_of,
)
from twilio_sms_mms.handlers import tokens
from twilio_sms_mms.handlers.api import SmsAppApi
from twilio_sms_mms.handlers.directory_push import DirectoryPush


def app_post(contract, secrets, purpose: str, body: bytes) -> list:
    token = contract.plugin_call_token(key=LAUNCH_KEY, purpose=purpose, body=body)
    return call(SmsAppApi, "POST", f"/{purpose}", secrets=secrets, body=body, token=token)


def chart_entry(patient, contract):
    """What the chart holds for the patient, in the app's own terms."""
    return contract.Entry(
        patient_id=patient.id,
        name=f"{patient.nickname or patient.first_name} {patient.last_name}",
        time_zone=patient.last_known_timezone or "",
        active=patient.active,
        mobiles=(
            contract.Mobile("+14155550123", False),
            contract.Mobile("+442079460958", True),
        ),
    )


def charted_patient():
    patient = PatientFactory.create(nickname="Annie", last_known_timezone="Europe/London")
    contact_point(patient, "(415) 555-0123", rank=1)
    contact_point(patient, "+44 20 7946 0958", rank=2, opted_out=True)
    contact_point(patient, "4155550100", rank=3, use="home")
    return patient


def test_both_sides_name_the_same_routes_audiences_and_lifetimes(contract):
    assert {f"/{purpose}": aud for purpose, aud in contract.PLUGIN_CALLS.items()} == (
        tokens.ROUTE_AUDIENCES
    )
    assert contract.PLUGIN_API_PATH == "/plugin-io/api/twilio_sms_mms/"
    assert contract.PLUGIN_ISSUER == tokens.PLUGIN_ISSUER
    assert contract.APP_ISSUER == tokens.APP_ISSUER
    assert contract.DIRECTORY_PUSH == tokens.DIRECTORY_PUSH_AUDIENCE
    assert contract.DIRECTORY_PUSH_LIFETIME == tokens.DIRECTORY_PUSH_LIFETIME
    assert contract.PLUGIN_CALL_LIFETIME == tokens.APP_CALL_LIFETIME
    assert contract.LEEWAY == tokens.LEEWAY
    assert contract.PAGE_LIMIT == 500


def test_the_apps_inbound_record_becomes_a_message_to_staff(contract, secrets, patient):
    staff = StaffFactory.create()
    secrets["SMS_INBOUND_STAFF_ID"] = staff.id
    body = contract.record_body(
        sid="SM" + "a" * 32,
        patient_id=patient.id,
        direction="inbound",
        body="Running late",
        media=1,
        at=datetime(2026, 12, 2, 18, 0, tzinfo=UTC),
        staff_id="",
        our_number="+14155550100",
        patient_number="+14155550123",
    )

    effects = app_post(contract, secrets, "record", body)

    assert response_of(effects) == (HTTPStatus.OK, {"recorded": "SM" + "a" * 32})
    (message,) = other_effects(effects)
    assert message.type == EffectType.CREATE_MESSAGE
    data = json.loads(message.payload)["data"]
    assert (data["sender_id"], data["recipient_id"]) == (patient.id, staff.id)
    assert data["content"] == (
        "SMS from +14155550123 (2026-12-02 18:00 UTC):\nRunning late [1 attachment]"
    )


def test_the_apps_outbound_record_becomes_a_message_from_its_sender(contract, secrets, patient):
    staff = StaffFactory.create()
    body = contract.record_body(
        sid="SM" + "b" * 32,
        patient_id=patient.id,
        direction="outbound",
        body="See you at 3 ☺",
        media=0,
        at=datetime(2026, 12, 2, 13, 0, tzinfo=UTC),
        staff_id=staff.id,
        our_number="+14155550100",
        patient_number="+14155550123",
    )

    effects = app_post(contract, secrets, "record", body)

    (message,) = other_effects(effects)
    data = json.loads(message.payload)["data"]
    assert (data["sender_id"], data["recipient_id"]) == (staff.id, patient.id)
    assert data["content"].endswith("\nSee you at 3 ☺")


def test_the_apps_badge_becomes_the_icons_count(contract, secrets, application):
    body = contract.badge_body(unread=4, staff_ids=["s1"])

    effects = app_post(contract, secrets, "badge", body)

    assert response_of(effects) == (HTTPStatus.OK, {"unread": 4})
    (badge,) = other_effects(effects)
    data = json.loads(badge.payload)["data"]
    assert (data["application_identifier"], data["count"], data["staff_ids"]) == (
        APP_ID,
        4,
        ["s1"],
    )


def test_the_plugins_push_passes_the_apps_check_and_reads_back_as_the_chart(contract, secrets):
    patient = charted_patient()

    (effect,) = DirectoryPush(
        patient_event(EventType.PATIENT_UPDATED, target=patient.id), secrets
    ).compute()

    request = json.loads(effect.payload)["data"]
    body = request["body"].encode()
    token = request["headers"]["Authorization"].removeprefix("Bearer ")
    contract.verify_directory_push(token, key=LAUNCH_KEY, body=body)
    as_of, entries, following = contract.read_directory(body)
    assert as_of.tzinfo is not None
    assert entries == [chart_entry(patient, contract)]
    assert following is None


def test_the_directory_page_reads_back_as_the_chart(contract, secrets):
    patients = [charted_patient() for _ in range(3)]
    token = contract.plugin_call_token(key=LAUNCH_KEY, purpose="directory", body=None)

    entries, query = [], "limit=2"
    while True:
        effects = call(SmsAppApi, "GET", "/directory", secrets=secrets, query=query, token=token)
        (response,) = effects
        payload = json.loads(response.payload)
        assert payload["status_code"] == HTTPStatus.OK
        as_of, page, following = contract.read_directory(base64.b64decode(payload["body"]))
        entries += page
        if following is None:
            break
        query = f"limit=2&after={following}"

    assert entries == [chart_entry(patient, contract) for patient in patients]
