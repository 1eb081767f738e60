"""Keeps the SMS app's patient directory current: when a patient or one of their contact
points changes in Canvas, POST the patient's current entry to the app's
/canvas/directory (docs/canvas.md, "Pushed by the plugin").

Canvas runs the request (HttpRequestEffect) asynchronously and retries it on 429 and
5xx, so a slow or restarting app does not lose a change; the app applies entries in
`asOf` order, so a late retry cannot undo a newer change.

Runs in Canvas's plugin sandbox: only the imports it allows, no names starting with "_".
"""

from datetime import UTC, datetime
from uuid import UUID

from canvas_sdk.effects import Effect
from canvas_sdk.effects.http_request import HttpRequestEffect
from canvas_sdk.events import EventType
from canvas_sdk.handlers.base import BaseHandler
from canvas_sdk.v1.data.patient import PatientContactPoint
from logger import log
from twilio_sms_mms.handlers.directory import patient_entries
from twilio_sms_mms.handlers.tokens import (
    BASE_URL_VARIABLE,
    DIRECTORY_PUSH_AUDIENCE,
    DIRECTORY_PUSH_LIFETIME,
    KEY_VARIABLE,
    encode,
    setting,
    sign,
)

DIRECTORY_PATH = "/canvas/directory"
RETRY_ON = [429, 500, 502, 503, 504]
PATIENT_EVENTS = (EventType.PATIENT_CREATED, EventType.PATIENT_UPDATED)
CONTACT_POINT_EVENTS = (
    EventType.PATIENT_CONTACT_POINT_CREATED,
    EventType.PATIENT_CONTACT_POINT_UPDATED,
    EventType.PATIENT_CONTACT_POINT_DELETED,
)


def directory_push(*, base_url: str, key: str, patients: list[dict]) -> Effect:
    """The POST of these entries to the app, signed for its directory route."""
    body = encode({"asOf": datetime.now(UTC).isoformat(), "patients": patients})
    token = sign(
        key=key,
        audience=DIRECTORY_PUSH_AUDIENCE,
        lifetime=DIRECTORY_PUSH_LIFETIME,
        body=body.encode(),
    )
    return HttpRequestEffect(
        url=base_url + DIRECTORY_PATH,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body=body,
        retry_on_status_codes=RETRY_ON,
    ).apply()


class DirectoryPush(BaseHandler):
    """Sends the changed patient's directory entry to the SMS app."""

    RESPONDS_TO = [EventType.Name(event) for event in PATIENT_EVENTS + CONTACT_POINT_EVENTS]

    def compute(self) -> list[Effect]:
        base_url = setting(self.secrets, BASE_URL_VARIABLE).rstrip("/")
        key = setting(self.secrets, KEY_VARIABLE)
        if not base_url or not key:
            log.warning(
                f"SMS Twilio: not sending directory changes; set {BASE_URL_VARIABLE} and "
                f"{KEY_VARIABLE}."
            )
            return []
        patient_id = self.patient_id()
        patients = patient_entries(patient_id) if patient_id else []
        if not patients:
            log.info("SMS Twilio: no patient to send for this event.")
            return []
        return [directory_push(base_url=base_url, key=key, patients=patients)]

    def patient_id(self) -> str:
        """The patient the event is about. Patient events target the patient; contact point
        events target the contact point and name its patient in their context, which
        still holds when the contact point is gone (DELETED)."""
        if self.event.type in PATIENT_EVENTS:
            return str(self.event.target.id or "")
        patient_id = str((self.event.context.get("patient") or {}).get("id") or "")
        if patient_id:
            return patient_id
        try:
            point_id = UUID(str(self.event.target.id))
        except ValueError:
            return ""
        point = PatientContactPoint.objects.filter(id=point_id).select_related("patient").first()
        return str(point.patient.id) if point and point.patient else ""
