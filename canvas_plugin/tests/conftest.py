"""Fixtures for the plugin's tests: a patient in the SDK's test database (the SDK's own
factories; pytest-canvas wraps each test in a transaction), the events Canvas sends
(application, patient, SimpleAPI), and the Django app's own token and contract code
loaded from its files."""

import base64
import importlib.util
import json
import sys
from base64 import b64encode
from http import HTTPStatus
from pathlib import Path

import pytest
from canvas_generated.messages.events_pb2 import Event as EventRequest
from canvas_sdk.caching.client import get_cache as get_cache_client
from canvas_sdk.effects import EffectType
from canvas_sdk.events import Event, EventType
from canvas_sdk.test_utils.factories import PatientFactory, StaffFactory
from canvas_sdk.v1.data.application import Application
from canvas_sdk.v1.data.patient import PatientContactPoint
from django.core.cache import caches
from twilio_sms_mms.handlers import api as api_module

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCH_KEY = "plugin-tests-launch-key-0123456789abcdef"
BASE_URL = "https://sms.example.org"
APP_ID = "twilio_sms_mms.handlers.sms_app:SmsApplication"


def load_app_module(name: str):
    """A module of smsapp/lib loaded by path: launch.py and canvas_contract.py import only
    jwt, so the plugin's tokens and bodies are checked by the very code the app runs,
    without importing Django's settings (or anything else of the app) into this process."""
    spec = importlib.util.spec_from_file_location(
        f"smsapp_{name}_under_test", REPO_ROOT / "smsapp" / "lib" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def app_launch():
    return load_app_module("launch")


@pytest.fixture(scope="session")
def contract():
    """smsapp/lib/canvas_contract.py: the app's side of docs/canvas.md."""
    return load_app_module("canvas_contract")


@pytest.fixture
def secrets() -> dict[str, str]:
    return {"SMS_APP_BASE_URL": BASE_URL + "/", "SMS_LAUNCH_KEY": LAUNCH_KEY}


@pytest.fixture(autouse=True)
def plugin_cache(monkeypatch):
    """The plugin cache the routes use (the SDK's own client, on the test settings'
    in-memory backend), emptied for each test. Imported outside Canvas's sandbox, the
    plugin's modules are not marked as plugin code, so the SDK's get_cache (which looks
    for that mark) is swapped for the client it would return; the sandboxed test in
    test_api_sandbox.py runs the real one."""
    cache = get_cache_client(driver="plugins", prefix="twilio_sms_mms")
    monkeypatch.setattr(api_module, "get_cache", lambda: cache)
    caches["plugins"].clear()
    yield cache
    caches["plugins"].clear()


def contact_point(patient, value: str, **fields) -> PatientContactPoint:
    values = {
        "system": "phone",
        "use": "mobile",
        "use_notes": "",
        "rank": 1,
        "state": "active",
        "has_consent": True,
        "opted_out": False,
        "verification_token": "",
        **fields,
    }
    return PatientContactPoint.objects.create(patient=patient, value=value, **values)


@pytest.fixture
def patient():
    return PatientFactory.create()


@pytest.fixture
def staff():
    return StaffFactory.create()


def open_event(*, patient_id: str | None, actor: str, target: str = APP_ID) -> Event:
    """An APPLICATION__ON_OPEN event as Canvas sends it when the app's icon is clicked in
    a chart: the application's identifier as target, the patient in the context, the
    Canvas user (by database id) as actor."""
    context = {"patient": {"id": patient_id}} if patient_id else {}
    request = EventRequest(
        type=EventType.APPLICATION__ON_OPEN,
        target=target,
        context=json.dumps(context),
        actor=actor,
    )
    return Event(request)


def patient_event(event_type, *, target: str, patient_id: str | None = None) -> Event:
    """A patient or contact point event as Canvas sends it: the changed record as target;
    contact point events name their patient in the context."""
    context = {"patient": {"id": patient_id}} if patient_id else {}
    return Event(EventRequest(type=event_type, target=target, context=json.dumps(context)))


def api_event(
    event_type, method: str, path: str, *, query: str = "", body: bytes = b"", headers=None
) -> Event:
    """A SimpleAPI event as home-app sends it for /plugin-io/api/twilio_sms_mms<path>."""
    context = {
        "plugin_name": "twilio_sms_mms",
        "method": method,
        "path": path,
        "query_string": query,
        "body": b64encode(body).decode(),
        "headers": dict(headers or {}),
    }
    return Event(EventRequest(type=event_type, context=json.dumps(context)))


def call(
    handler_class, method: str, path: str, *, secrets, query: str = "", body: bytes = b"",
    token: str | None = None,
) -> list:  # fmt: skip
    """Mimic home-app's two passes, as the SDK's own SimpleAPI tests do: authenticate with
    the headers only (no body), then, if that answered 200, the request with its body.
    Returns the effects of the pass that answered."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    auth = handler_class(
        api_event(EventType.SIMPLE_API_AUTHENTICATE, method, path, query=query, headers=headers),
        secrets,
    )
    effects = auth.compute()
    if json.loads(effects[0].payload)["status_code"] != HTTPStatus.OK:
        return effects
    request = handler_class(
        api_event(
            EventType.SIMPLE_API_REQUEST, method, path, query=query, body=body, headers=headers
        ),
        secrets,
    )
    return request.compute()


def response_of(effects) -> tuple[int, dict]:
    """The status and JSON body of the route's one response effect."""
    responses = [e for e in effects if e.type == EffectType.SIMPLE_API_RESPONSE]
    assert len(responses) == 1
    payload = json.loads(responses[0].payload)
    body = base64.b64decode(payload["body"])
    return payload["status_code"], json.loads(body) if body else {}


def other_effects(effects) -> list:
    return [e for e in effects if e.type != EffectType.SIMPLE_API_RESPONSE]


@pytest.fixture
def application():
    """The SMS application's row, as Canvas keeps it for an installed plugin: the badge
    effect checks that the application it names exists."""
    return Application.objects.create(
        identifier=APP_ID, name="SMS Twilio", description="Read and send SMS/MMS."
    )
