"""The two tokens of the Canvas embed, as plain functions.

1. The launch token: the Canvas plugin (canvas_plugin/twilio_sms_mms) signs it with the
   shared CANVAS_LAUNCH_KEY when a user opens the app in a patient's chart, and puts it
   in the embed URL. `decode_launch_token` checks it. It is single use: the embed view
   records its `jti` (smsapp.models.LaunchTokenUse).
2. The API token: what the embedded page sends as `Authorization: Bearer ...` on every
   API call, because a page framed on the Canvas origin cannot count on cookies. Signed
   with a key derived from Django's SECRET_KEY, valid for API_TOKEN_LIFETIME seconds,
   renewable while the page stays open, up to API_SESSION_MAX_AGE after the launch.

This module imports only PyJWT and the standard library, never Django: the plugin's own
tests (which run in a process where Django is configured with Canvas's settings) load
this file by path and check the plugin's tokens with the very function the app uses.
Every key and clock comes in as an argument.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass

import jwt

LAUNCH_ISSUER = "canvas-plugin:twilio_sms_mms"
LAUNCH_AUDIENCE = "smsapp"
# Clocks of Canvas and this app may disagree a little.
LAUNCH_LEEWAY = 30
# The plugin asks for 5 minutes. A token valid for longer was not made by it (or it was
# misconfigured); refusing it keeps a leaked URL from being useful for long.
LAUNCH_MAX_LIFETIME = 10 * 60

API_ISSUER = "smsapp"
API_AUDIENCE = "smsapp-api"
API_TOKEN_LIFETIME = 15 * 60
# Renewal keeps a page open all day, but not forever: after this, open it again from the
# chart (which checks the user's Canvas session again).
API_SESSION_MAX_AGE = 12 * 60 * 60

_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_HS256 = ["HS256"]  # never accept "none" or an algorithm the token picks


class TokenError(Exception):
    """A token was refused. `reason` is a short code for tests and logs, `message` a
    sentence for the person who opened the page."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class LaunchClaims:
    staff_id: str
    patient_id: str  # the app looks their numbers up (smsapp.services.directory)
    jti: str
    expires_at: int  # Unix time


@dataclass(frozen=True)
class ApiClaims:
    user_id: int
    patient_id: str
    session_started: int  # Unix time of the launch
    expires_at: int


def decode_launch_token(
    token: str,
    *,
    key: str,
    audience: str = LAUNCH_AUDIENCE,
    issuer: str = LAUNCH_ISSUER,
    leeway: int = LAUNCH_LEEWAY,
    max_lifetime: int = LAUNCH_MAX_LIFETIME,
) -> LaunchClaims:
    """Check a launch token's signature, expiry, audience, issuer and claims.

    Single use is the caller's job (it needs storage). Raises TokenError."""
    if not token:
        raise TokenError("missing", "This link has no launch token.")
    claims = _decode(
        token,
        key=key,
        audience=audience,
        issuer=issuer,
        leeway=leeway,
        required=["exp", "iat", "iss", "aud", "sub", "jti", "patient"],
    )
    if int(claims["exp"]) - int(claims["iat"]) > max_lifetime:
        raise TokenError("invalid", "This launch link is valid for too long to be trusted.")
    staff_id, patient_id, jti = (str(claims[name]) for name in ("sub", "patient", "jti"))
    # They become a user name and database keys: Canvas's ids are short and plain.
    if not all(_ID.fullmatch(value) for value in (staff_id, patient_id, jti)):
        raise TokenError("invalid", "This launch link does not name a staff member and patient.")
    return LaunchClaims(
        staff_id=staff_id,
        patient_id=patient_id,
        jti=jti,
        expires_at=int(claims["exp"]),
    )


def api_token_key(secret_key: str) -> str:
    """The API token's signing key, derived from Django's SECRET_KEY so that no other
    signature made with SECRET_KEY (sessions, password resets) can pass for one."""
    return hmac.new(secret_key.encode(), b"smsapp.launch.api-token", hashlib.sha256).hexdigest()


def issue_api_token(
    *,
    key: str,
    user_id: int,
    patient_id: str = "",
    session_started: int | None = None,
    now: int | None = None,
    lifetime: int = API_TOKEN_LIFETIME,
) -> str:
    """A bearer token for the JSON API, valid for `lifetime` seconds from `now`."""
    now = int(time.time()) if now is None else now
    payload = {
        "iss": API_ISSUER,
        "aud": API_AUDIENCE,
        "sub": str(user_id),
        "patient": patient_id,
        "sst": now if session_started is None else session_started,
        "iat": now,
        "exp": now + lifetime,
    }
    return jwt.encode(payload, key, algorithm="HS256")


def decode_api_token(token: str, *, key: str) -> ApiClaims:
    """Check a bearer token made by issue_api_token. Raises TokenError."""
    if not token:
        raise TokenError("missing", "The request has no API token.")
    claims = _decode(
        token,
        key=key,
        audience=API_AUDIENCE,
        issuer=API_ISSUER,
        leeway=0,
        required=["exp", "iat", "iss", "aud", "sub", "sst"],
    )
    try:
        user_id, session_started = int(claims["sub"]), int(claims["sst"])
    except (TypeError, ValueError):
        raise TokenError("invalid", "The API token is not valid.") from None
    return ApiClaims(
        user_id=user_id,
        patient_id=str(claims.get("patient") or ""),
        session_started=session_started,
        expires_at=int(claims["exp"]),
    )


def renew_api_token(
    claims: ApiClaims,
    *,
    key: str,
    now: int | None = None,
    max_session_age: int = API_SESSION_MAX_AGE,
) -> tuple[str, int]:
    """A fresh token for the same user and patient, and its lifetime in seconds. No token
    outlives the session: the last one expires exactly `max_session_age` after the
    launch, and after that there is nothing to renew."""
    now = int(time.time()) if now is None else now
    lifetime = min(API_TOKEN_LIFETIME, claims.session_started + max_session_age - now)
    if lifetime <= 0:
        raise TokenError(
            "session_too_old", "This session is too old to renew; open SMS again from the chart."
        )
    token = issue_api_token(
        key=key,
        user_id=claims.user_id,
        patient_id=claims.patient_id,
        session_started=claims.session_started,
        now=now,
        lifetime=lifetime,
    )
    return token, lifetime


def _decode(
    token: str, *, key: str, audience: str, issuer: str, leeway: int, required: list[str]
) -> dict:
    """jwt.decode, with PyJWT's exceptions turned into TokenError reasons."""
    try:
        return jwt.decode(
            token,
            key,
            algorithms=_HS256,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": required, "verify_iat": True},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("expired", "This link has expired.") from None
    except jwt.InvalidAudienceError:
        raise TokenError("wrong_audience", "This link was made for another application.") from None
    except jwt.InvalidIssuerError:
        raise TokenError("wrong_issuer", "This link was not made by the Canvas plugin.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError("invalid", f"This link lacks the {exc.claim!r} claim.") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("invalid", "This link is dated in the future; check clocks.") from None
    except jwt.InvalidSignatureError:
        raise TokenError("bad_signature", "This link's signature does not match.") from None
    except jwt.InvalidTokenError:
        # Anything else PyJWT refuses: not a JWT at all, wrong algorithm, bad claim types.
        raise TokenError("invalid", "This link's token is not a valid launch token.") from None
