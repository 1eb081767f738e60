"""The directory push, with the real SDK: on patient and contact point events, one
asynchronous, retried HttpRequestEffect POSTing the patient's current entry to the app,
signed so that the app's own check (canvas_contract.verify_directory_push) accepts it."""

import json
from datetime import datetime

import jwt
import pytest
from canvas_sdk.effects import EffectType
from canvas_sdk.events import EventType
from conftest import BASE_URL, LAUNCH_KEY, contact_point, patient_event
from twilio_sms_mms.handlers.directory import entry_of, mobiles_of
from twilio_sms_mms.handlers.directory_push import DirectoryPush

CONTACT_POINT_EVENTS = [
    EventType.PATIENT_CONTACT_POINT_CREATED,
    EventType.PATIENT_CONTACT_POINT_UPDATED,
    EventType.PATIENT_CONTACT_POINT_DELETED,
]


def request_of(effects) -> dict:
    """The HTTP request of the one effect, with its body read as JSON."""
    assert len(effects) == 1
    assert effects[0].type == EffectType.HTTP_REQUEST
    payload = json.loads(effects[0].payload)
    return {**payload["data"], "async": payload.get("async_props")}


def test_a_patient_update_posts_the_patients_entry_to_the_app(patient, secrets, contract):
    patient.nickname, patient.last_name = "Annie", "Smith"
    patient.last_known_timezone = "America/New_York"
    patient.save()
    contact_point(patient, "(415) 555-0123", rank=2)
    contact_point(patient, "+1 415 555 0199", rank=1, opted_out=True)

    effects = DirectoryPush(
        patient_event(EventType.PATIENT_UPDATED, target=patient.id), secrets
    ).compute()

    request = request_of(effects)
    assert request["url"] == BASE_URL + "/canvas/directory"
    assert request["method"] == "POST"
    assert request["headers"]["Content-Type"] == "application/json"
    body = json.loads(request["body"])
    assert datetime.fromisoformat(body["asOf"]).utcoffset() is not None
    assert body["patients"] == [
        {
            "patientId": patient.id,
            "name": "Annie Smith",
            "timeZone": "America/New_York",
            "active": True,
            "mobiles": [
                {"number": "+14155550199", "optedOut": True},
                {"number": "+14155550123", "optedOut": False},
            ],
        }
    ]


def test_the_push_is_signed_for_the_apps_directory_route(patient, secrets, contract):
    request = request_of(
        DirectoryPush(
            patient_event(EventType.PATIENT_CREATED, target=patient.id), secrets
        ).compute()
    )

    scheme, token = request["headers"]["Authorization"].split(" ")
    assert scheme == "Bearer"
    contract.verify_directory_push(token, key=LAUNCH_KEY, body=request["body"].encode())
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "canvas-plugin:twilio_sms_mms"
    assert claims["aud"] == "smsapp:directory"
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert claims["jti"]


def test_the_apps_check_refuses_the_push_with_another_body(patient, secrets, contract):
    request = request_of(
        DirectoryPush(
            patient_event(EventType.PATIENT_CREATED, target=patient.id), secrets
        ).compute()
    )
    token = request["headers"]["Authorization"].split(" ")[1]

    with pytest.raises(contract.ContractError, match="another body"):
        contract.verify_directory_push(
            token, key=LAUNCH_KEY, body=request["body"].replace("true", "false").encode()
        )


def test_the_push_runs_asynchronously_and_is_retried_on_429_and_5xx(patient, secrets):
    request = request_of(
        DirectoryPush(
            patient_event(EventType.PATIENT_CREATED, target=patient.id), secrets
        ).compute()
    )

    assert request["retry_on_status_codes"] == [429, 500, 502, 503, 504]
    assert request["async"] == {
        "retry_on_status_codes": [429, 500, 502, 503, 504],
        "delay_seconds": 0,
    }


@pytest.mark.parametrize("event_type", CONTACT_POINT_EVENTS)
def test_contact_point_events_push_the_patient_named_in_their_context(event_type, patient, secrets):
    point = contact_point(patient, "4155550123")

    request = request_of(
        DirectoryPush(
            patient_event(event_type, target=str(point.id), patient_id=patient.id), secrets
        ).compute()
    )

    (entry,) = json.loads(request["body"])["patients"]
    assert entry["patientId"] == patient.id
    assert entry["mobiles"] == [{"number": "+14155550123", "optedOut": False}]


def test_a_deleted_contact_point_pushes_the_patients_remaining_numbers(patient, secrets):
    """DELETED: the row may already be gone; the context still names the patient, whose
    entry then lists only the numbers left (an empty list removes them in the app)."""
    point = contact_point(patient, "4155550123")
    point_id = str(point.id)
    point.delete()

    request = request_of(
        DirectoryPush(
            patient_event(
                EventType.PATIENT_CONTACT_POINT_DELETED, target=point_id, patient_id=patient.id
            ),
            secrets,
        ).compute()
    )

    (entry,) = json.loads(request["body"])["patients"]
    assert entry["mobiles"] == []


def test_without_a_patient_in_the_context_the_contact_points_patient_is_used(patient, secrets):
    point = contact_point(patient, "4155550123")

    request = request_of(
        DirectoryPush(
            patient_event(EventType.PATIENT_CONTACT_POINT_UPDATED, target=str(point.id)), secrets
        ).compute()
    )

    assert json.loads(request["body"])["patients"][0]["patientId"] == patient.id


def test_an_unknown_patient_sends_nothing(secrets):
    event = patient_event(
        EventType.PATIENT_CONTACT_POINT_DELETED, target="not-a-uuid", patient_id=None
    )

    assert DirectoryPush(event, secrets).compute() == []
    event = patient_event(EventType.PATIENT_UPDATED, target="nobody")
    assert DirectoryPush(event, secrets).compute() == []


@pytest.mark.parametrize("missing", ["SMS_APP_BASE_URL", "SMS_LAUNCH_KEY"])
def test_without_its_variables_the_plugin_sends_nothing(missing, patient, secrets):
    secrets[missing] = " "

    effects = DirectoryPush(
        patient_event(EventType.PATIENT_UPDATED, target=patient.id), secrets
    ).compute()

    assert effects == []


def test_it_answers_the_patient_and_contact_point_events():
    assert set(DirectoryPush.RESPONDS_TO) == {
        "PATIENT_CREATED",
        "PATIENT_UPDATED",
        "PATIENT_CONTACT_POINT_CREATED",
        "PATIENT_CONTACT_POINT_UPDATED",
        "PATIENT_CONTACT_POINT_DELETED",
    }


def test_only_active_mobile_numbers_that_read_as_e164_are_listed_once_by_rank(patient):
    contact_point(patient, "4155550100", use="home", rank=1)
    contact_point(patient, "4155550101", state="deleted", rank=2)
    contact_point(patient, "4155550102", opted_out=True, rank=3)
    contact_point(patient, "not a number", rank=4)
    contact_point(patient, "+44 20 7946 0958", rank=5)
    contact_point(patient, "(415) 555-0102", rank=6)  # the same number again
    contact_point(patient, "4155550103", system="email", rank=0)

    assert mobiles_of(patient.telecom.all()) == [
        {"number": "+14155550102", "optedOut": True},
        {"number": "+442079460958", "optedOut": False},
    ]


def test_the_name_is_the_preferred_first_name_and_last_name(patient):
    patient.first_name, patient.nickname, patient.last_name = "Ann", "", "Smith"
    assert entry_of(patient)["name"] == "Ann Smith"

    patient.nickname = "Annie"
    assert entry_of(patient)["name"] == "Annie Smith"


def test_a_patient_without_a_time_zone_has_an_empty_one(patient):
    patient.last_known_timezone = None

    assert entry_of(patient)["timeZone"] == ""


def test_a_deactivated_patient_is_inactive_and_lists_no_numbers(patient):
    contact_point(patient, "4155550123")
    patient.active = False

    entry = entry_of(patient)

    assert entry["active"] is False
    assert entry["mobiles"] == []
