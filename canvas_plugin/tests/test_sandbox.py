"""The new handlers as Canvas's plugin runner loads them: `canvas validate` only imports
each module in the sandbox, while its run-time guards (attribute access, imports inside
calls, the plugin cache's check that plugin code is calling) only fire when the code
runs. So run the routes and the push as the sandbox loaded them, with the SDK's real
get_cache."""

import json
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path

import pytest
from canvas_sdk.effects import EffectType
from canvas_sdk.events import EventType
from canvas_sdk.test_utils.factories import StaffFactory
from conftest import LAUNCH_KEY, call, contact_point, other_effects, patient_event, response_of
from plugin_runner.plugin_runner import sandbox_plugin_handlers

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "twilio_sms_mms"


@pytest.fixture(scope="module")
def sandboxed() -> dict:
    """The manifest's handlers, by class name, as the sandbox loaded them."""
    manifest = json.loads((PLUGIN_DIR / "CANVAS_MANIFEST.json").read_text())
    results = sandbox_plugin_handlers(
        "twilio_sms_mms", PLUGIN_DIR, manifest["components"]["handlers"]
    )
    assert [result.error for result in results] == [None] * len(results)
    return {result.handler_class: result.scope[result.handler_class] for result in results}


def test_the_record_route_runs_in_the_sandbox_and_remembers_its_sid(
    sandboxed, contract, secrets, patient
):
    secrets["SMS_DEFAULT_STAFF_ID"] = StaffFactory.create().id
    body = contract.record_body(
        sid="SM" + "c" * 32,
        patient_id=patient.id,
        direction="inbound",
        body="Hello",
        media=0,
        at=datetime(2026, 12, 2, 18, 0, tzinfo=UTC),
        staff_id="",
        our_number="+14155550100",
        patient_number="+14155550123",
    )

    def post() -> list:
        token = contract.plugin_call_token(key=LAUNCH_KEY, purpose="record", body=body)
        return call(
            sandboxed["SmsAppApi"], "POST", "/record", secrets=secrets, body=body, token=token
        )

    first, again = post(), post()

    assert response_of(first) == (HTTPStatus.OK, {"recorded": "SM" + "c" * 32})
    assert [effect.type for effect in other_effects(first)] == [EffectType.CREATE_MESSAGE]
    assert response_of(again)[1]["duplicate"] is True
    assert other_effects(again) == []


def test_the_directory_route_runs_in_the_sandbox(sandboxed, contract, secrets, patient):
    contact_point(patient, "4155550123")
    token = contract.plugin_call_token(key=LAUNCH_KEY, purpose="directory", body=None)

    effects = call(
        sandboxed["SmsAppApi"], "GET", "/directory", secrets=secrets, query="limit=1", token=token
    )

    status, answer = response_of(effects)
    assert status == HTTPStatus.OK
    assert answer["patients"][0]["mobiles"] == [{"number": "+14155550123", "optedOut": False}]
    assert answer["next"] is None


def test_the_push_runs_in_the_sandbox(sandboxed, contract, secrets, patient):
    point = contact_point(patient, "4155550123")

    (effect,) = sandboxed["DirectoryPush"](
        patient_event(
            EventType.PATIENT_CONTACT_POINT_UPDATED, target=str(point.id), patient_id=patient.id
        ),
        secrets,
    ).compute()

    request = json.loads(effect.payload)["data"]
    contract.verify_directory_push(
        request["headers"]["Authorization"].removeprefix("Bearer "),
        key=LAUNCH_KEY,
        body=request["body"].encode(),
    )


def test_a_refusal_runs_in_the_sandbox(sandboxed, secrets):
    effects = call(sandboxed["SmsAppApi"], "GET", "/directory", secrets=secrets, token="nope")  # noqa: S106

    assert response_of(effects)[0] == HTTPStatus.UNAUTHORIZED
