"""The "SMS Twilio" chart application: opens the Django app's SMS page in the chart's
right pane, for the patient whose chart is open.

The page lives in the Django app (another origin), so the plugin only signs a short
launch token and hands Canvas the URL. The Django embed view checks that token with
smsapp.lib.launch.decode_launch_token; the claims here and the checks there must agree.

Runs in Canvas's plugin sandbox: only the imports it allows (jwt, uuid, time, re,
urllib.parse, the SDK) and no names starting with an underscore.
"""

import re
import time
from html import escape
from urllib.parse import urlencode
from uuid import uuid4

import jwt
from canvas_sdk.effects import Effect
from canvas_sdk.effects.launch_modal import LaunchModalEffect
from canvas_sdk.handlers.application import Application
from canvas_sdk.v1.data.common import ContactPointState, ContactPointSystem, ContactPointUse
from canvas_sdk.v1.data.patient import PatientContactPoint
from canvas_sdk.v1.data.staff import Staff
from logger import log

# Plugin variables (CANVAS_MANIFEST.json "variables"), set per Canvas instance.
BASE_URL_VARIABLE = "SMS_APP_BASE_URL"
LAUNCH_KEY_VARIABLE = "SMS_LAUNCH_KEY"

# Must match smsapp.lib.launch.LAUNCH_ISSUER / LAUNCH_AUDIENCE on the Django side.
ISSUER = "canvas-plugin:twilio_sms_mms"
AUDIENCE = "smsapp"
# Long enough for the pane to load on a slow connection; the token is single use anyway.
LIFETIME_SECONDS = 300
EMBED_PATH = "/embed/"
TITLE = "SMS Twilio"

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def e164(value: str) -> str:
    """The number in E.164, or "" if it cannot be read as one.

    Canvas charts usually hold US numbers in national form ("(415) 555-0123"), so ten
    digits are read as +1; anything else must already carry its country code."""
    digits = re.sub(r"\D", "", value or "")
    if (value or "").strip().startswith("+"):
        candidate = "+" + digits
    elif len(digits) == 10:
        candidate = "+1" + digits
    elif len(digits) == 11 and digits.startswith("1"):
        candidate = "+" + digits
    else:
        return ""
    return candidate if E164.match(candidate) else ""


def patient_mobile(patient_id: str) -> str:
    """The patient's first active mobile number that has not opted out of texts, in
    E.164, or "" when the chart has none (the page then opens with an empty To)."""
    contact_points = PatientContactPoint.objects.filter(
        patient__id=patient_id,
        system=ContactPointSystem.PHONE,
        use=ContactPointUse.MOBILE,
        state=ContactPointState.ACTIVE,
        opted_out=False,
    ).order_by("rank")
    for contact_point in contact_points:
        number = e164(contact_point.value)
        if number:
            return number
    return ""


def staff_id_of(actor_id: str) -> str:
    """The Canvas staff id (the key Canvas uses for staff in URLs and its APIs) of the
    user who opened the app, or "" when that user is not a staff member. The event's
    actor is the Canvas user's database id, which says little to anyone reading the
    Django app's user list."""
    if not actor_id.isdigit():
        return ""
    staff = Staff.objects.filter(user__dbid=int(actor_id)).first()
    return str(staff.id) if staff else ""


def launch_token(
    *, key: str, staff_id: str, patient_id: str, phone: str, now: int | None = None
) -> str:
    """The HS256 launch token the Django embed view checks (single use, by jti)."""
    issued_at = int(time.time()) if now is None else now
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": staff_id,
        "patient": patient_id,
        "iat": issued_at,
        "exp": issued_at + LIFETIME_SECONDS,
        "jti": uuid4().hex,
    }
    if phone:
        claims["phone"] = phone
    return jwt.encode(claims, key, algorithm="HS256")


def notice(sentence: str) -> str:
    """A small HTML page for the pane when the app cannot be opened."""
    return (
        '<div style="font:14px system-ui,sans-serif;padding:16px;color:#333">'
        f"<strong>{TITLE}</strong><p>{escape(sentence)}</p></div>"
    )


class SmsApplication(Application):
    """Opens the SMS page for the chart's patient in the right chart pane."""

    def on_open(self) -> Effect:
        """Sign a launch token for this user and patient and open the embed URL."""
        base_url = (self.secrets.get(BASE_URL_VARIABLE) or "").strip().rstrip("/")
        # Stripped like the app's CANVAS_LAUNCH_KEY, so a pasted newline cannot split them.
        key = (self.secrets.get(LAUNCH_KEY_VARIABLE) or "").strip()
        patient_id = str((self.event.context.get("patient") or {}).get("id") or "")

        if not base_url or not key:
            log.warning("SMS Twilio is not configured: set SMS_APP_BASE_URL and SMS_LAUNCH_KEY.")
            return self.pane(
                content=notice(
                    "This app is not set up yet. An administrator must set the plugin "
                    f"variables {BASE_URL_VARIABLE} and {LAUNCH_KEY_VARIABLE}."
                )
            )
        if not patient_id:
            return self.pane(content=notice("Open SMS from a patient's chart."))
        staff_id = staff_id_of(str(self.event.actor.id or ""))
        if not staff_id:
            return self.pane(content=notice("SMS is for the clinic's staff members."))

        token = launch_token(
            key=key, staff_id=staff_id, patient_id=patient_id, phone=patient_mobile(patient_id)
        )
        # In the fragment: browsers send it to no server and put it in no Referer, so the
        # token (which names the patient) stays out of access logs and other sites.
        return self.pane(url=base_url + EMBED_PATH + "#" + urlencode({"launch": token}))

    def pane(self, *, url: str | None = None, content: str | None = None) -> Effect:
        """The right chart pane, showing either the app's URL or a notice."""
        return LaunchModalEffect(
            url=url,
            content=content,
            target=LaunchModalEffect.TargetType.RIGHT_CHART_PANE,
            title=TITLE,
        ).apply()
