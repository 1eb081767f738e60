"""A text the SMS app sent or received, recorded in the patient's chart as a Canvas
message (docs/canvas.md, "Texts recorded in the chart"): who it is from and to, and
what the chart shows.

Runs in Canvas's plugin sandbox: only the imports it allows, no names starting with "_".
"""

import re
from datetime import UTC, datetime

from canvas_sdk.v1.data.care_team import CareTeamMembership, CareTeamMembershipStatus
from canvas_sdk.v1.data.staff import Staff

# Plugin variables: who automated texts are from and, when the patient has no care team
# lead, who inbound texts are to; who inbound texts are to before the care team lead.
DEFAULT_STAFF_VARIABLE = "SMS_DEFAULT_STAFF_ID"
INBOUND_STAFF_VARIABLE = "SMS_INBOUND_STAFF_ID"

SID = re.compile(r"^[A-Za-z0-9]{2,64}$")
ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DIRECTIONS = ("inbound", "outbound")
# A whole MMS is 1600 characters; anything far beyond that did not come from Twilio.
LONGEST_BODY = 5000


def read_record(data) -> tuple[dict, str]:
    """The `POST record` body's fields, and "" or the first thing to fix, as a sentence."""
    if not isinstance(data, dict):
        return {}, "The body must be a JSON object."
    texts = ("sid", "patientId", "direction", "body", "at", "staffId", "ourNumber")
    for name in (*texts, "patientNumber"):
        if not isinstance(data.get(name), str):
            return {}, f'"{name}" must be a string.'
    if not SID.match(data["sid"]):
        return {}, '"sid" must be a Twilio message SID, such as "SM0123…".'
    if not ID.match(data["patientId"]):
        return {}, '"patientId" must be a Canvas patient id.'
    if data["direction"] not in DIRECTIONS:
        return {}, '"direction" must be "inbound" or "outbound".'
    if data["staffId"] and not ID.match(data["staffId"]):
        return {}, '"staffId" must be a Canvas staff id, or "".'
    if len(data["body"]) > LONGEST_BODY:
        return {}, f'"body" must be at most {LONGEST_BODY} characters.'
    media = data.get("media")
    if isinstance(media, bool) or not isinstance(media, int) or media < 0:
        return {}, '"media" must be the number of attachments (0 or more).'
    try:
        at = datetime.fromisoformat(data["at"])
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        return {}, '"at" must be an ISO 8601 time with its offset.'
    return {**data, "at": at}, ""


def staff_exists(staff_id: str) -> bool:
    return bool(staff_id) and Staff.objects.filter(id=staff_id, active=True).exists()


def care_team_lead(patient) -> str:
    """The staff id of the patient's active care team lead, or ""."""
    membership = (
        CareTeamMembership.objects.filter(
            patient=patient,
            lead=True,
            status=CareTeamMembershipStatus.ACTIVE,
            staff__isnull=False,
            staff__active=True,
        )
        .select_related("staff")
        .order_by("dbid")
        .first()
    )
    return str(membership.staff.id) if membership else ""


def staff_member_for(record: dict, patient, *, default_staff: str, inbound_staff: str) -> str:
    """The staff member on the chart's side of the text, or "" when there is none.

    Outbound: who sent it, or the default staff member for automated sends (and for a
    sender Canvas no longer knows). Inbound: the configured inbound staff member, else
    the patient's care team lead, else the default staff member."""
    if record["direction"] == "outbound":
        candidates = [record["staffId"], default_staff]
    else:
        candidates = [inbound_staff, care_team_lead(patient), default_staff]
    return next((staff_id for staff_id in candidates if staff_exists(staff_id)), "")


def message_text(record: dict) -> str:
    """What the chart shows: which way, the patient's number and when, then the text and
    a note of its attachments (the files themselves stay with Twilio and the app)."""
    when = record["at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    number = record["patientNumber"] or "the patient"
    heading = f"SMS from {number}" if record["direction"] == "inbound" else f"SMS to {number}"
    media = record["media"]
    attachments = f"[{media} attachment{'' if media == 1 else 's'}]" if media else ""
    text = " ".join(part for part in (record["body"].strip(), attachments) if part)
    return f"{heading} ({when}):\n{text or '(no text)'}"
