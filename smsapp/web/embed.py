"""The page inside Canvas: the launch from the chart, and the API token that follows.

The Canvas plugin (canvas_plugin/twilio_sms_mms) opens `embed/#launch=<token>` in the
chart's right pane. The server renders the page's shell; the page's script (embed.js)
takes the token from the URL fragment, which never reaches a server log or a Referer,
and posts it to `embed/launch/`. The token is checked there (smsapp.lib.launch:
signature with CANVAS_LAUNCH_KEY, expiry, audience, issuer, then single use by its jti),
the Canvas staff member is mapped to a Django user, and the answer is a short-lived API
token the script sends as `Authorization: Bearer ...` and keeps for reloads of the pane
(sessionStorage, or the fragment where a browser refuses a frame storage), renewing it
instead of trying the used launch token again. Nothing here sets a cookie: browsers may
block cookies in a frame on another site, so the page must not need one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET

from smsapp.lib import launch, validation
from smsapp.lib.errors import InvalidInput
from smsapp.models import AuditEvent, LaunchTokenUse
from smsapp.models.canvas import CANVAS_USERNAME_PREFIX
from smsapp.services import audit, directory
from smsapp.web.decorators import api_view, credential_post, json_error
from smsapp.web.pages import render_page, session_config

log = logging.getLogger(__name__)


_REASONS = {
    "missing": "This page must be opened from a patient's chart in Canvas.",
    "expired": "The link that opened this page has expired.",
    "used": "The link that opened this page has already been used.",
    "bad_signature": "The link that opened this page was not signed with this app's key.",
    "wrong_audience": "The link that opened this page was made for another application.",
    "wrong_issuer": "The link that opened this page was not made by the SMS Twilio plugin.",
    "invalid": "The link that opened this page is not a valid launch link.",
}


class LaunchRefused(Exception):
    """A launch that must not open the page; `reason` picks the sentence shown. `claims`:
    the token's, when it was genuine (used already, or its user switched off)."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.claims: launch.LaunchClaims | None = None


def open_launch(
    *, token: str, key: str, now: datetime | None = None
) -> tuple[AbstractBaseUser, launch.LaunchClaims]:
    """Check a launch token, use it up and return the staff user and the token's claims.

    Raises LaunchRefused. The jti is recorded before anything else happens, so two
    requests racing with one token cannot both open the page."""
    now = now or timezone.now()
    try:
        claims = launch.decode_launch_token(token, key=key)
    except launch.TokenError as refused:
        raise LaunchRefused(refused.reason) from None
    try:
        _record_use(claims, now=now)
        return _staff_user(claims.staff_id), claims
    except LaunchRefused as refused:
        refused.claims = claims
        raise


def _record_use(claims: launch.LaunchClaims, *, now: datetime) -> None:
    expires_at = datetime.fromtimestamp(claims.expires_at, tz=UTC)
    try:
        with transaction.atomic():
            LaunchTokenUse.objects.create(
                jti=claims.jti,
                staff_id=claims.staff_id,
                patient_id=claims.patient_id,
                used_at=now,
                expires_at=expires_at,
            )
    except IntegrityError:
        raise LaunchRefused("used") from None


def _staff_user(staff_id: str) -> AbstractBaseUser:
    """The Django user for a Canvas staff member, created on their first launch in the
    CANVAS_DEFAULT_GROUP role (SMS agents unless set otherwise), with an unusable password
    (they only ever sign in through Canvas), never as staff of the admin site nor as an
    administrator. An existing user is never re-granted: an administrator who switched it
    off, or took its role away, keeps it so."""
    users = get_user_model().objects
    username = f"{CANVAS_USERNAME_PREFIX}{staff_id}"
    try:
        with transaction.atomic():
            user, created = users.get_or_create(username=username)
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
                user.groups.add(*Group.objects.filter(name=settings.CANVAS_DEFAULT_GROUP))
    except IntegrityError:  # the same person's first launch, twice at once
        user, created = users.get(username=username), False
    if created:
        log.info("Created user %s for Canvas staff %s", username, staff_id)
    if not (user.is_active and user.has_perm("smsapp.view_message")):
        raise LaunchRefused("disabled", status=403)
    return user


def _refusal(reason: str) -> tuple[str, str]:
    """What happened and what to do, for a launch refused for `reason`."""
    if reason == "disabled":
        return (
            "Your access to SMS is switched off.",
            "Ask an administrator of the SMS app to turn it back on.",
        )
    if reason == "not_configured":
        return (
            "Opening SMS from Canvas is not set up.",
            "An administrator must set CANVAS_LAUNCH_KEY in the SMS app's environment to the "
            "same value as the plugin's SMS_LAUNCH_KEY variable, and restart the app.",
        )
    if reason == "old_plugin":
        return (
            "SMS was opened by an old version of the SMS Twilio plugin.",
            "An administrator must update the plugin in Canvas (it now keeps the launch "
            "token out of the page's address), then open SMS again from the chart.",
        )
    headline = _REASONS.get(reason, _REASONS["invalid"])
    return headline, "Close this pane and open SMS again from the patient's chart."


def _refused_page(request: HttpRequest, reason: str, status: int) -> HttpResponse:
    headline, advice = _refusal(reason)
    response = render(
        request,
        "smsapp/refused.html",
        {"headline": headline, "advice": advice, "reason": reason},
        status=status,
    )
    # Shown inside the chart's pane, like the page itself (frame-ancestors: Canvas only).
    response.xframe_options_exempt = True
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "no-referrer"
    return response


def _refused(reason: str, status: int) -> JsonResponse:
    """A refused launch in the API's error shape, with the two sentences apart so the page
    shows them as the refusal page does."""
    headline, advice = _refusal(reason)
    return json_error(
        f"{headline} {advice}", status, headline=headline, advice=advice, reason=reason
    )


def _record_refusal(
    request: HttpRequest, reason: str, claims: launch.LaunchClaims | None = None
) -> None:
    """A refused launch in the audit trail (target: the reason). Its actor is the Canvas
    staff member when the token was genuine, else the plugin that opened the pane."""
    name = f"{CANVAS_USERNAME_PREFIX}{claims.staff_id}" if claims else AuditEvent.CANVAS_PLUGIN
    audit.record(
        audit.Action.LAUNCH_REFUSED,
        target=reason,
        actor=audit.Actor.of(request, name=name),
        patient=claims.patient_id if claims else "",
    )


def _session(user: AbstractBaseUser, patient_id: str) -> dict[str, object]:
    """session_config for a session opened from the chart of `patient_id`."""
    return session_config(
        user,
        patient_phone=directory.textable_number(patient_id),
        patient=directory.chart_patient(patient_id),
        scope=settings.EMBED_SCOPE,
    )


@require_GET
def embed(request: HttpRequest) -> HttpResponse:
    """The page's shell, for the chart's pane: no token, no user, no data. Its script reads
    the launch token from the URL fragment (`#launch=...`, which browsers send to no
    server and put in no Referer) and trades it at `embed_launch`."""
    if not settings.CANVAS_LAUNCH_KEY:
        _record_refusal(request, "not_configured")
        return _refused_page(request, "not_configured", 503)
    if "launch" in request.GET:  # a plugin from before the fragment: the token was logged
        log.warning("Canvas launch refused: the launch token came in the query string")
        _record_refusal(request, "old_plugin")
        return _refused_page(request, "old_plugin", 400)
    return render_page(request, embed=True)


@credential_post  # no cookie is read or set: the launch token in the body is the credential
def embed_launch(request: HttpRequest) -> JsonResponse:
    """POST {"launch": <token>}: the launch token checked and used up (open_launch), then
    `{token, expiresIn, session}`: the API token the page sends as a bearer token and what
    the page needs to know about its user (pages.session_config). A refusal is 401 (403
    for a user switched off, 503 without CANVAS_LAUNCH_KEY) with the refusal page's
    sentences."""
    if request.content_type != "application/json":
        return json_error(
            "Send the request body as JSON, with the header Content-Type: application/json.",
            415,
        )
    if not settings.CANVAS_LAUNCH_KEY:
        _record_refusal(request, "not_configured")
        return _refused("not_configured", 503)
    try:
        token = validation.json_object(request.body).get("launch")
    except InvalidInput as problem:
        return json_error(problem.information, 400, problem.fields)
    try:
        user, claims = open_launch(
            token=token.strip() if isinstance(token, str) else "", key=settings.CANVAS_LAUNCH_KEY
        )
    except LaunchRefused as refused:
        log.warning("Canvas launch refused: %s", refused.reason)
        _record_refusal(request, refused.reason, refused.claims)
        return _refused(refused.reason, refused.status)
    # Before the API token exists: a launch the trail cannot record opens nothing.
    audit.record(
        audit.Action.LAUNCH_ACCEPTED,
        target=claims.jti,
        actor=audit.Actor.of(request, name=user.get_username()),
        patient=claims.patient_id,
    )
    api_token = launch.issue_api_token(
        key=launch.api_token_key(settings.SECRET_KEY), user_id=user.pk, patient_id=claims.patient_id
    )
    # The token names the patient only; their numbers come from the directory, read now.
    directory.refresh_patient(claims.patient_id)
    session = _session(user, claims.patient_id)
    return JsonResponse(
        {"token": api_token, "expiresIn": launch.API_TOKEN_LIFETIME, "session": session}
    )


@api_view("POST", perm=None, scope="any")
def embed_renew(request: HttpRequest) -> JsonResponse:
    """A fresh API token for the embedded page, in exchange for a valid one, and the
    session's facts as the launch answers them (the page renews when it is reloaded, so
    a role changed meanwhile shows). No token outlives the session: API_SESSION_MAX_AGE
    after the launch, renewal ends."""
    if request.api_token is None:
        return json_error("Renewing needs the page's bearer token, not a session.", 401)
    validation.json_object(request.body)  # `{}`; anything but JSON is still refused
    try:
        token, lifetime = launch.renew_api_token(
            request.api_token, key=launch.api_token_key(settings.SECRET_KEY)
        )
    except launch.TokenError as refused:
        return json_error(refused.message, 401)
    session = _session(request.user, request.api_token.patient_id)
    return JsonResponse({"token": token, "expiresIn": lifetime, "session": session})
