"""Simulating a patient's text in sandbox mode: from the page (a staff-only JSON route)
and from the command line (`manage.py sandbox_inbound`). Both go through the stand-in,
which calls the app's real, signed inbound webhook; the auto-reply the app answers with
is then mirrored through the real REST client, as `sync_twilio` would."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path

from smsapp.lib import validation
from smsapp.lib.public_urls import API_PREFIX
from smsapp.services.messages import get_message
from smsapp.twilio_gateway.constants import MAX_MEDIA
from smsapp.web.decorators import api_view, json_error
from smsapp.web.scope import require_in_scope
from twilio_sandbox import engine


def simulate_and_mirror(*, from_: str, to: str, body: str, media: int = 0) -> dict:
    """Text `to` from `from_`, then mirror the replies. Returns the SIDs involved."""
    engine.ensure_seeded()
    inbound, replies = engine.simulate_inbound(from_=from_, to=to, body=body, media=media)
    for reply in replies:
        get_message(sid=reply.sid)  # fetched through the REST client and mirrored
    return {"inbound": inbound.sid, "replies": [reply.sid for reply in replies]}


@api_view("POST", perm="smsapp.send_message", scope="patient")
def simulate_inbound(request: HttpRequest) -> JsonResponse:
    """POST {from, to, body, media}: a patient texts one of the sandbox's numbers."""
    if not settings.TWILIO_SANDBOX:
        return json_error("The Twilio sandbox is switched off (TWILIO_SANDBOX=false).", 404)
    data = validation.json_object(request.body)
    sender, to, body = (str(data.get(k) or "").strip() for k in ("from", "to", "body"))
    media = data.get("media") or 0
    fields = {}
    if not sender:
        fields["from"] = "Give the patient's number, e.g. +14155550101."
    if not to:
        fields["to"] = "Choose which of the clinic's numbers the patient texts."
    if not isinstance(media, int) or not 0 <= media <= MAX_MEDIA:
        fields["media"] = f"Attach between 0 and {MAX_MEDIA} pictures."
    elif not body and not media:
        fields["body"] = "Type what the patient says (or attach a picture)."
    if fields:
        return json_error(next(iter(fields.values())), 400, fields)
    require_in_scope(request, sender)
    try:
        result = simulate_and_mirror(from_=sender, to=to, body=body, media=media)
    except engine.SandboxError as exc:
        return json_error(exc.message, 400 if exc.status == 400 else 502)
    return JsonResponse(result)


urlpatterns = [
    path(f"{API_PREFIX}sandbox/inbound", simulate_inbound, name="simulate_inbound"),
]
