"""The plugin's side of the signed calls between it and the SMS app (docs/canvas.md,
"Tokens"): every call carries a short-lived HS256 JWT signed with the shared key, with an
audience per direction and purpose, so no token is good for another call. The app's side
is smsapp/lib/canvas_contract.py; the plugin's contract test runs each side's tokens
through the other's checks.

Runs in Canvas's plugin sandbox: only the imports it allows, no names starting with "_".
"""

import hashlib
import json
import time
from hmac import compare_digest
from uuid import uuid4

import jwt

# Plugin variables (CANVAS_MANIFEST.json "variables"), set per Canvas instance.
BASE_URL_VARIABLE = "SMS_APP_BASE_URL"
KEY_VARIABLE = "SMS_LAUNCH_KEY"

PLUGIN_ISSUER = "canvas-plugin:twilio_sms_mms"
APP_ISSUER = "smsapp"
LAUNCH_AUDIENCE = "smsapp"  # plugin → app page
DIRECTORY_PUSH_AUDIENCE = "smsapp:directory"  # plugin → app, POST /canvas/directory
# app → plugin, by SimpleAPI route path.
ROUTE_AUDIENCES = {
    "/directory": "twilio_sms_mms:directory",
    "/record": "twilio_sms_mms:record",
    "/badge": "twilio_sms_mms:badge",
}
LAUNCH_LIFETIME = 5 * 60
DIRECTORY_PUSH_LIFETIME = 15 * 60  # the push is retried for a while
APP_CALL_LIFETIME = 60
# Canvas's clock and the app's may disagree a little.
LEEWAY = 30


def setting(secrets: dict, name: str) -> str:
    """A plugin variable, stripped like the app's settings, so that a pasted newline
    cannot make the two sides' keys differ."""
    return str(secrets.get(name) or "").strip()


def body_hash(body: bytes) -> str:
    """The `bsh` claim: SHA-256 (hex) of the exact body bytes."""
    return hashlib.sha256(body).hexdigest()


def encode(payload: dict) -> str:
    """A request body as sent and hashed. ASCII only, so the text and its bytes agree
    whatever encoding Canvas sends it with."""
    return json.dumps(payload, separators=(",", ":"))


def sign(
    *, key: str, audience: str, lifetime: int, claims: dict | None = None, body: bytes | None = None
) -> str:
    """A plugin token for one call; with `body`, bound to those exact bytes."""
    issued_at = int(time.time())
    payload = {
        "iss": PLUGIN_ISSUER,
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + lifetime,
        "jti": uuid4().hex,
        **(claims or {}),
    }
    if body is not None:
        payload["bsh"] = body_hash(body)
    return jwt.encode(payload, key, algorithm="HS256")


def app_token_problem(token: str, *, key: str, audience: str, body: bytes | None) -> str:
    """Why the app's token for this call is refused, as a sentence, or "" when it is good.

    HS256 only, issuer "smsapp", this route's audience, not expired (30 s of leeway), valid
    for at most a minute (plus the leeway), with a jti; with `body`, its `bsh` must be that
    body's hash."""
    if not key:
        return f"The plugin is not set up: set its {KEY_VARIABLE} variable."
    if not token:
        return "The request has no bearer token."
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=audience,
            issuer=APP_ISSUER,
            leeway=LEEWAY,
            options={"require": ["iss", "aud", "iat", "exp", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        return "The bearer token has expired."
    except jwt.InvalidTokenError as error:
        return f"The bearer token is not valid ({error})."
    if claims["exp"] - claims["iat"] > APP_CALL_LIFETIME + LEEWAY:
        return "The bearer token is valid for too long."
    if not isinstance(claims["jti"], str) or not claims["jti"]:
        return "The bearer token has no jti."
    if body is not None and not compare_digest(str(claims.get("bsh") or ""), body_hash(body)):
        return "The bearer token was made for another body."
    return ""


def bearer(header: str) -> str:
    """The token of an `Authorization: Bearer ...` header, or ""."""
    scheme, space, token = (header or "").partition(" ")
    return token.strip() if space and scheme.lower() == "bearer" else ""
