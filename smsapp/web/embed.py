"""The page inside Canvas: the launch from the chart, and the API token that follows.

The Canvas plugin (canvas_plugin/twilio_sms_mms) opens `embed/?launch=<token>` in the
chart's right pane. The token is checked here (smsapp.lib.launch: signature with
CANVAS_LAUNCH_KEY, expiry, audience, issuer, then single use by its jti), the Canvas staff
member is mapped to a Django staff user, and the page is rendered with a short-lived API
token its JavaScript sends as `Authorization: Bearer ...`. Nothing here sets a cookie:
browsers may block cookies in a frame on another site, so the page must not need one.
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
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET

from smsapp.lib import launch
from smsapp.models import LaunchTokenUse
from smsapp.web.decorators import api_view, json_error
from smsapp.web.pages import render_page

log = logging.getLogger(__name__)

# Canvas staff become Django users named after their Canvas id, so an administrator can
# find (and switch off) them in the admin.
USERNAME_PREFIX = "canvas-"

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
    """A launch that must not open the page; `reason` picks the sentence shown."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


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
    _record_use(claims, now=now)
    return _staff_user(claims.staff_id), claims


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
    username = f"{USERNAME_PREFIX}{staff_id}"
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


def _refused_page(request: HttpRequest, reason: str, status: int) -> HttpResponse:
    if reason == "disabled":
        headline = "Your access to SMS is switched off."
        advice = "Ask an administrator of the SMS app to turn it back on."
    elif reason == "not_configured":
        headline = "Opening SMS from Canvas is not set up."
        advice = (
            "An administrator must set CANVAS_LAUNCH_KEY in the SMS app's environment to "
            "the same value as the plugin's SMS_LAUNCH_KEY variable, and restart the app."
        )
    else:
        headline = _REASONS.get(reason, _REASONS["invalid"])
        advice = "Close this pane and open SMS again from the patient's chart."
    response = render(
        request,
        "smsapp/embed_refused.html",
        {"headline": headline, "advice": advice, "reason": reason},
        status=status,
    )
    # Shown inside the chart's pane, like the page itself (frame-ancestors: Canvas only).
    response.xframe_options_exempt = True
    add_never_cache_headers(response)
    return response


@require_GET
def embed(request: HttpRequest) -> HttpResponse:
    """The page for the patient whose chart opened it, or a 401 page saying why not."""
    if not settings.CANVAS_LAUNCH_KEY:
        return _refused_page(request, "not_configured", 503)
    try:
        user, claims = open_launch(
            token=request.GET.get("launch", "").strip(), key=settings.CANVAS_LAUNCH_KEY
        )
    except LaunchRefused as refused:
        log.warning("Canvas launch refused: %s", refused.reason)
        return _refused_page(request, refused.reason, refused.status)
    api_token = launch.issue_api_token(
        key=launch.api_token_key(settings.SECRET_KEY),
        user_id=user.pk,
        patient_id=claims.patient_id,
        patient_phone=claims.patient_phone,
    )
    response = render_page(
        request,
        patient_phone=claims.patient_phone,
        api_token=api_token,
        api_token_renew_url=reverse("smsapp:embed_renew"),
    )
    # The URL still holds the (used) launch token: keep it out of Referer headers.
    response["Referrer-Policy"] = "same-origin"
    return response


@api_view("POST", perm=None)
def embed_renew(request: HttpRequest) -> JsonResponse:
    """A fresh API token for the embedded page, in exchange for a valid one."""
    if request.api_token is None:
        return json_error("Renewing needs the page's bearer token, not a session.", 401)
    try:
        token = launch.renew_api_token(
            request.api_token, key=launch.api_token_key(settings.SECRET_KEY)
        )
    except launch.TokenError as refused:
        return json_error(refused.message, 401)
    return JsonResponse({"token": token, "expiresIn": launch.API_TOKEN_LIFETIME})
