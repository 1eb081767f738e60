"""The routes the SMS app calls (docs/canvas.md), served by Canvas at
`<Canvas instance>/plugin-io/api/twilio_sms_mms/<route>`:

- `GET directory`: pages of the patient directory, for the app's first fill and its
  look-ups at launch;
- `POST record`: a text the app sent or received, recorded in the patient's chart;
- `POST badge`: the app's unread total, on the SMS application's icon.

Every call carries the app's bearer token for that route. Canvas asks `authenticate`
first, with the headers but not the body, then runs the route with the body: so the
token's `bsh` (the body's hash) is checked by the POST routes themselves.

Runs in Canvas's plugin sandbox: only the imports it allows, no names starting with "_".
"""

import json
from datetime import UTC, datetime
from http import HTTPStatus
from uuid import uuid4

from canvas_sdk.caching.plugins import get_cache
from canvas_sdk.effects import Effect
from canvas_sdk.effects.application_notification_badge import ApplicationNotificationBadge
from canvas_sdk.effects.note.message import Message
from canvas_sdk.effects.simple_api import JSONResponse
from canvas_sdk.handlers.simple_api import BearerCredentials, SimpleAPI, api
from canvas_sdk.handlers.simple_api.exceptions import AuthenticationError
from canvas_sdk.v1.data.patient import Patient
from logger import log
from twilio_sms_mms.handlers.chart_record import (
    DEFAULT_STAFF_VARIABLE,
    INBOUND_STAFF_VARIABLE,
    message_text,
    read_record,
    staff_member_for,
)
from twilio_sms_mms.handlers.directory import (
    DEFAULT_PAGE,
    LARGEST_PAGE,
    page,
    patient_entries,
    position_of,
)
from twilio_sms_mms.handlers.tokens import (
    KEY_VARIABLE,
    ROUTE_AUDIENCES,
    app_token_problem,
    bearer,
    setting,
)

# The application the badge is shown on: the manifest's class string for it.
APPLICATION_ID = "twilio_sms_mms.handlers.sms_app:SmsApplication"
# Remembered as long as the plugin cache keeps anything (14 days); the app retries a
# text for less than that.
RECORDED_KEY = "recorded-sid:{sid}"
LARGEST_COUNT = 1_000_000


def error(message: str, status: HTTPStatus) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class SmsAppApi(SimpleAPI):
    """The SMS app's calls into Canvas, each signed for its own route."""

    def authenticate(self, credentials: BearerCredentials) -> bool:
        """The token's signature, issuer, audience (this route's), lifetime and jti. The
        body is not here yet: the POST routes check the token against it."""
        problem = app_token_problem(
            credentials.token,
            key=setting(self.secrets, KEY_VARIABLE),
            audience=ROUTE_AUDIENCES.get(self.request.path, ""),
            body=None,
        )
        if problem:
            raise AuthenticationError(problem)
        return True

    def body_refusal(self) -> list[JSONResponse]:
        """A 401 unless the request's token was made for this exact body, else []."""
        problem = app_token_problem(
            bearer(self.request.headers.get("Authorization") or ""),
            key=setting(self.secrets, KEY_VARIABLE),
            audience=ROUTE_AUDIENCES.get(self.request.path, ""),
            body=self.request.body,
        )
        return [error(problem, HTTPStatus.UNAUTHORIZED)] if problem else []

    def json_body(self):
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError):
            return None

    @api.get("/directory")
    def directory(self) -> list[JSONResponse]:
        """?patient=<id> (one patient, or none), else ?after=<cursor>&limit=<n>."""
        params = self.request.query_params
        as_of = datetime.now(UTC).isoformat()
        if params.get("patient") is not None:
            patients = patient_entries(params.get("patient"))
            return [JSONResponse({"asOf": as_of, "patients": patients, "next": None})]
        limit_text = params.get("limit") or str(DEFAULT_PAGE)
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= LARGEST_PAGE:
            message = f'"limit" must be a whole number from 1 to {LARGEST_PAGE}.'
            return [error(message, HTTPStatus.BAD_REQUEST)]
        try:
            after = position_of(params.get("after")) if params.get("after") else 0
        except ValueError:
            message = '"after" must be the "next" cursor of the previous page.'
            return [error(message, HTTPStatus.BAD_REQUEST)]
        patients, following = page(after=after, limit=int(limit_text))
        return [JSONResponse({"asOf": as_of, "patients": patients, "next": following})]

    @api.post("/record")
    def record(self) -> list[JSONResponse | Effect]:
        """One Message effect for a text not recorded before (by SID)."""
        refusal = self.body_refusal()
        if refusal:
            return refusal
        record, problem = read_record(self.json_body())
        if problem:
            return [error(problem, HTTPStatus.BAD_REQUEST)]
        key = RECORDED_KEY.format(sid=record["sid"])
        if get_cache().get(key) is not None:
            return [JSONResponse({"recorded": record["sid"], "duplicate": True})]
        patient = Patient.objects.filter(id=record["patientId"]).first()
        if patient is None:
            return [error("No patient has this patientId in Canvas.", HTTPStatus.NOT_FOUND)]
        staff_id = staff_member_for(
            record,
            patient,
            default_staff=setting(self.secrets, DEFAULT_STAFF_VARIABLE),
            inbound_staff=setting(self.secrets, INBOUND_STAFF_VARIABLE),
        )
        if not staff_id:
            message = (
                "No Canvas staff member to record this text with: set the plugin's "
                f"{DEFAULT_STAFF_VARIABLE} variable to an active staff member's id."
            )
            return [error(message, HTTPStatus.CONFLICT)]
        inbound = record["direction"] == "inbound"
        effect = Message(
            content=message_text(record),
            sender_id=patient.id if inbound else staff_id,
            recipient_id=staff_id if inbound else patient.id,
            # The staff member who sent a text has read it; an inbound one stays unread
            # for its recipient, like a message from the patient portal.
            read=None if inbound else record["at"],
        ).create()
        # Marked once the effect is made (a text refused above can come again). get_or_set
        # adds only a missing key: of two requests racing for one SID, one wins.
        mark = uuid4().hex
        if get_cache().get_or_set(key, mark) != mark:
            log.info(f"SMS Twilio: {record['sid']} was already recorded.")
            return [JSONResponse({"recorded": record["sid"], "duplicate": True})]
        return [effect, JSONResponse({"recorded": record["sid"]})]

    @api.post("/badge")
    def badge(self) -> list[JSONResponse | Effect]:
        """The unread count on the application's icon, for these staff (or everyone)."""
        refusal = self.body_refusal()
        if refusal:
            return refusal
        data = self.json_body()
        unread = data.get("unread") if isinstance(data, dict) else None
        staff_ids = data.get("staffIds") if isinstance(data, dict) else None
        if isinstance(unread, bool) or not isinstance(unread, int):
            return [error('"unread" must be a whole number.', HTTPStatus.BAD_REQUEST)]
        if not 0 <= unread <= LARGEST_COUNT:
            message = f'"unread" must be from 0 to {LARGEST_COUNT}.'
            return [error(message, HTTPStatus.BAD_REQUEST)]
        if not isinstance(staff_ids, list) or not all(
            isinstance(staff_id, str) and staff_id for staff_id in staff_ids
        ):
            message = '"staffIds" must be a list of Canvas staff ids ([] for everyone).'
            return [error(message, HTTPStatus.BAD_REQUEST)]
        effect = ApplicationNotificationBadge(APPLICATION_ID).broadcast(
            count=unread, staff_ids=staff_ids
        )
        return [effect, JSONResponse({"unread": unread})]
