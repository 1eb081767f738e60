"""Fixtures for the plugin's tests: a patient in the SDK's test database (the SDK's own
factories; pytest-canvas wraps each test in a transaction), the application's events,
and the Django app's launch-token check loaded from its file."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from canvas_generated.messages.events_pb2 import Event as EventRequest
from canvas_sdk.events import Event, EventType
from canvas_sdk.test_utils.factories import PatientFactory, StaffFactory
from canvas_sdk.v1.data.patient import PatientContactPoint

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCH_KEY = "plugin-tests-launch-key-0123456789abcdef"
BASE_URL = "https://sms.example.org"
APP_ID = "twilio_sms_mms.handlers.sms_app:SmsApplication"


@pytest.fixture(scope="session")
def app_launch():
    """smsapp/lib/launch.py from the Django app, loaded by path: it imports only jwt, so the
    plugin's token is checked by the very code the app runs, without importing Django's
    settings (or anything else of the app) into this process."""
    spec = importlib.util.spec_from_file_location(
        "smsapp_launch_under_test", REPO_ROOT / "smsapp" / "lib" / "launch.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def secrets() -> dict[str, str]:
    return {"SMS_APP_BASE_URL": BASE_URL + "/", "SMS_LAUNCH_KEY": LAUNCH_KEY}


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
