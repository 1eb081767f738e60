"""POST record, with the real SDK: one Message effect in the patient's chart, from and to
the right people, once per SID. Bodies and tokens are made by the app's own code
(canvas_contract.record_body / plugin_call_token)."""

import json
from datetime import UTC, datetime
from http import HTTPStatus

import pytest
from canvas_sdk.effects import EffectType
from canvas_sdk.test_utils.factories import StaffFactory
from canvas_sdk.v1.data.care_team import CareTeamMembership
from conftest import LAUNCH_KEY, call, other_effects, response_of
from twilio_sms_mms.handlers.api import SmsAppApi

AT = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
SID = "SM0123456789abcdef0123456789abcdef"


@pytest.fixture
def record(patient, contract, secrets):
    """POST record for the patient, as the app sends it; returns (status, answer,
    the Message effect's data or None)."""

    def post(**fields):
        values = {
            "sid": SID,
            "patient_id": patient.id,
            "direction": "inbound",
            "body": "Running late",
            "media": 0,
            "at": AT,
            "staff_id": "",
            "our_number": "+14155550100",
            "patient_number": "+14155550123",
            **fields,
        }
        body = contract.record_body(**values)
        effects = call(
            SmsAppApi,
            "POST",
            "/record",
            secrets=secrets,
            body=body,
            token=contract.plugin_call_token(key=LAUNCH_KEY, purpose="record", body=body),
        )
        status, answer = response_of(effects)
        messages = other_effects(effects)
        assert len(messages) <= 1
        if not messages:
            return status, answer, None
        assert messages[0].type == EffectType.CREATE_MESSAGE
        return status, answer, json.loads(messages[0].payload)["data"]

    return post


@pytest.fixture
def default_staff(secrets):
    staff = StaffFactory.create()
    secrets["SMS_DEFAULT_STAFF_ID"] = staff.id
    return staff


def lead_of(patient, staff, **fields) -> CareTeamMembership:
    values = {"status": "active", "lead": True, "role_code": "", "role_system": ""}
    return CareTeamMembership.objects.create(
        patient=patient, staff=staff, role_display="PCP", **{**values, **fields}
    )


def test_an_outbound_text_is_from_the_staff_member_who_sent_it(record, patient, staff):
    status, answer, message = record(direction="outbound", staff_id=staff.id, body="See you")

    assert (status, answer) == (HTTPStatus.OK, {"recorded": SID})
    assert message["sender_id"] == staff.id
    assert message["recipient_id"] == patient.id
    assert message["content"] == "SMS to +14155550123 (2026-12-02 18:00 UTC):\nSee you"
    # Its sender has read it.
    assert datetime.fromisoformat(message["read"]) == AT


def test_an_automated_text_is_from_the_default_staff_member(record, patient, default_staff):
    status, _, message = record(direction="outbound", staff_id="")

    assert status == HTTPStatus.OK
    assert message["sender_id"] == default_staff.id
    assert message["recipient_id"] == patient.id


def test_a_sender_canvas_no_longer_knows_falls_back_to_the_default(record, default_staff):
    _, _, message = record(direction="outbound", staff_id="gone0000")

    assert message["sender_id"] == default_staff.id


def test_an_inbound_text_goes_to_the_inbound_staff_member(record, patient, secrets, default_staff):
    inbound = StaffFactory.create()
    secrets["SMS_INBOUND_STAFF_ID"] = inbound.id
    lead_of(patient, StaffFactory.create())

    status, _, message = record(direction="inbound")

    assert status == HTTPStatus.OK
    assert message["sender_id"] == patient.id
    assert message["recipient_id"] == inbound.id
    assert message["content"] == "SMS from +14155550123 (2026-12-02 18:00 UTC):\nRunning late"
    # Unread, for its recipient to see.
    assert "read" not in message or message["read"] is None


def test_without_an_inbound_staff_member_it_goes_to_the_care_team_lead(
    record, patient, default_staff
):
    lead = StaffFactory.create()
    lead_of(patient, StaffFactory.create(), lead=False)
    lead_of(patient, StaffFactory.create(), status="inactive")
    lead_of(patient, lead)

    _, _, message = record(direction="inbound")

    assert message["recipient_id"] == lead.id


def test_without_a_care_team_lead_it_goes_to_the_default_staff_member(record, default_staff):
    _, _, message = record(direction="inbound")

    assert message["recipient_id"] == default_staff.id


@pytest.mark.parametrize("direction", ["inbound", "outbound"])
def test_without_any_staff_member_it_says_what_to_set(record, direction):
    status, answer, message = record(direction=direction)

    assert status == HTTPStatus.CONFLICT
    assert "SMS_DEFAULT_STAFF_ID" in answer["error"]
    assert message is None


def test_a_configured_staff_member_who_left_is_skipped(record, secrets, default_staff):
    secrets["SMS_INBOUND_STAFF_ID"] = StaffFactory.create(active=False).id

    _, _, message = record(direction="inbound")

    assert message["recipient_id"] == default_staff.id


def test_a_sid_is_recorded_once(record, default_staff):
    first = record()
    again = record()

    assert first[2] is not None
    assert again == (HTTPStatus.OK, {"recorded": SID, "duplicate": True}, None)
    assert record(sid="SM" + "1" * 32)[2] is not None


def test_a_text_refused_for_want_of_staff_can_be_recorded_later(record, secrets):
    assert record()[0] == HTTPStatus.CONFLICT
    secrets["SMS_DEFAULT_STAFF_ID"] = StaffFactory.create().id

    status, answer, message = record()

    assert (status, answer) == (HTTPStatus.OK, {"recorded": SID})
    assert message is not None


@pytest.mark.parametrize(
    ("media", "body", "text"),
    [
        (1, "Look", "Look [1 attachment]"),
        (3, "", "[3 attachments]"),
        (0, "  ", "(no text)"),
    ],
)
def test_attachments_are_noted_in_the_text(record, default_staff, media, body, text):
    _, _, message = record(media=media, body=body)

    assert message["content"] == f"SMS from +14155550123 (2026-12-02 18:00 UTC):\n{text}"


def test_an_unknown_patient_is_not_found(record, default_staff):
    status, answer, message = record(patient_id="nobody")

    assert status == HTTPStatus.NOT_FOUND
    assert "patientId" in answer["error"]
    assert message is None


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"sid": 12}, '"sid" must be a string'),
        ({"sid": "SM 1"}, '"sid" must be a Twilio message SID'),
        ({"direction": "sideways"}, '"direction" must be'),
        ({"media": -1}, '"media" must be'),
        ({"media": "2"}, '"media" must be'),
        ({"at": "2026-12-02T18:00:00"}, '"at" must be an ISO 8601 time with its offset'),
        ({"at": "yesterday"}, '"at" must be'),
        ({"patientId": "a/b"}, '"patientId" must be'),
        ({"staffId": None}, '"staffId" must be a string'),
    ],
)
def test_a_body_it_cannot_read_says_what_to_fix(
    change, complaint, patient, contract, secrets, default_staff
):
    data = {
        "sid": SID,
        "patientId": patient.id,
        "direction": "inbound",
        "body": "Hi",
        "media": 0,
        "at": AT.isoformat(),
        "staffId": "",
        "ourNumber": "+14155550100",
        "patientNumber": "+14155550123",
        **change,
    }
    body = contract.encode(data)

    effects = call(
        SmsAppApi,
        "POST",
        "/record",
        secrets=secrets,
        body=body,
        token=contract.plugin_call_token(key=LAUNCH_KEY, purpose="record", body=body),
    )

    status, answer = response_of(effects)
    assert status == HTTPStatus.BAD_REQUEST
    assert complaint in answer["error"]
    assert other_effects(effects) == []


def test_a_body_that_is_not_json_is_refused(contract, secrets):
    body = b"sid=SM1"

    effects = call(
        SmsAppApi,
        "POST",
        "/record",
        secrets=secrets,
        body=body,
        token=contract.plugin_call_token(key=LAUNCH_KEY, purpose="record", body=body),
    )

    assert response_of(effects) == (
        HTTPStatus.BAD_REQUEST,
        {"error": "The body must be a JSON object."},
    )
