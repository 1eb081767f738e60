"""The "SMS Twilio" chart application: opens the Django app's SMS page in the chart's
right pane, for the patient whose chart is open.

The page lives in the Django app (another origin), so the plugin only signs a short
launch token and hands Canvas the URL. The Django embed view checks that token with
smsapp.lib.launch.decode_launch_token; the claims here and the checks there must agree.

Runs in Canvas's plugin sandbox: only the imports it allows (html, urllib.parse, the SDK,
the plugin's own modules) and no names starting with an underscore.
"""

from html import escape
from urllib.parse import urlencode

from canvas_sdk.effects import Effect
from canvas_sdk.effects.launch_modal import LaunchModalEffect
from canvas_sdk.handlers.application import Application
from canvas_sdk.v1.data.staff import Staff
from logger import log
from twilio_sms_mms.handlers.tokens import (
    BASE_URL_VARIABLE,
    KEY_VARIABLE,
    LAUNCH_AUDIENCE,
    LAUNCH_LIFETIME,
    setting,
    sign,
)

EMBED_PATH = "/embed/"
TITLE = "SMS Twilio"


def staff_id_of(actor_id: str) -> str:
    """The Canvas staff id (the key Canvas uses for staff in URLs and its APIs) of the
    user who opened the app, or "" when that user is not a staff member. The event's
    actor is the Canvas user's database id, which says little to anyone reading the
    Django app's user list."""
    if not actor_id.isdigit():
        return ""
    staff = Staff.objects.filter(user__dbid=int(actor_id)).first()
    return str(staff.id) if staff else ""


def launch_token(*, key: str, staff_id: str, patient_id: str) -> str:
    """The HS256 launch token the Django embed view checks (single use, by jti). It
    names the staff member and the patient, never a phone number: the app looks the
    patient's numbers up in its directory."""
    return sign(
        key=key,
        audience=LAUNCH_AUDIENCE,
        # Long enough for the pane to load on a slow connection; single use anyway.
        lifetime=LAUNCH_LIFETIME,
        claims={"sub": staff_id, "patient": patient_id},
    )


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
        base_url = setting(self.secrets, BASE_URL_VARIABLE).rstrip("/")
        key = setting(self.secrets, KEY_VARIABLE)
        patient_id = str((self.event.context.get("patient") or {}).get("id") or "")

        if not base_url or not key:
            log.warning("SMS Twilio is not configured: set SMS_APP_BASE_URL and SMS_LAUNCH_KEY.")
            return self.pane(
                content=notice(
                    "This app is not set up yet. An administrator must set the plugin "
                    f"variables {BASE_URL_VARIABLE} and {KEY_VARIABLE}."
                )
            )
        if not patient_id:
            return self.pane(content=notice("Open SMS from a patient's chart."))
        staff_id = staff_id_of(str(self.event.actor.id or ""))
        if not staff_id:
            return self.pane(content=notice("SMS is for the clinic's staff members."))

        token = launch_token(key=key, staff_id=staff_id, patient_id=patient_id)
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
