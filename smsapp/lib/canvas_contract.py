"""The calls between the app and the Canvas plugin, both ways (docs/canvas.md): the
signed tokens, the bodies the app sends, and the directory entries it reads.

Like smsapp.lib.launch, this imports only PyJWT and the standard library, never Django:
the plugin's contract test (canvas_plugin/tests/test_contract.py) loads this file by path,
feeds the app's bodies and tokens into the plugin's routes and the plugin's directory
pushes into `read_directory`, so neither side can drift from the other.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import jwt

PLUGIN_ISSUER = "canvas-plugin:twilio_sms_mms"
APP_ISSUER = "smsapp"
# Audiences, one per direction and purpose: no token is good for another call.
DIRECTORY_PUSH = "smsapp:directory"  # plugin → app, POST /canvas/directory
PLUGIN_CALLS = {  # app → plugin, its SimpleAPI routes
    "directory": "twilio_sms_mms:directory",
    "record": "twilio_sms_mms:record",
    "badge": "twilio_sms_mms:badge",
}
PLUGIN_CALL_LIFETIME = 60
DIRECTORY_PUSH_LIFETIME = 15 * 60  # the plugin's push is retried for a while
LEEWAY = 30
# Where Canvas serves a plugin's SimpleAPI routes, under CANVAS_INSTANCE_URL.
PLUGIN_API_PATH = "/plugin-io/api/twilio_sms_mms/"
PAGE_LIMIT = 500  # the directory route's largest page

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class ContractError(Exception):
    """A token or body refused: the message says what is wrong."""


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def sign(
    *, key: str, issuer: str, audience: str, lifetime: int, body: bytes | None, now: int | None
) -> str:
    """A bearer token for one call; with `body`, bound to those exact bytes (`bsh`)."""
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": uuid4().hex,
    }
    if body is not None:
        claims["bsh"] = body_hash(body)
    return jwt.encode(claims, key, algorithm="HS256")


def verify(
    token: str,
    *,
    key: str,
    issuer: str,
    audience: str,
    lifetime: int,
    body: bytes | None,
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of a token signed by `sign` for this call. Raises ContractError."""
    if not token:
        raise ContractError("The request has no bearer token.")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY,
            options={"require": ["iss", "aud", "iat", "exp", "jti"], "verify_iat": False},
        )
    except jwt.ExpiredSignatureError:
        raise ContractError("The bearer token has expired.") from None
    except jwt.InvalidAudienceError:
        raise ContractError("The bearer token was made for another call.") from None
    except jwt.InvalidTokenError as error:
        raise ContractError(f"The bearer token is not valid ({error}).") from None
    now = int(time.time()) if now is None else now
    too_long = int(claims["exp"]) - int(claims["iat"]) > lifetime + LEEWAY
    if too_long or int(claims["iat"]) > now + LEEWAY:
        raise ContractError("The bearer token is valid for too long, or dated in the future.")
    if body is not None and claims.get("bsh") != body_hash(body):
        raise ContractError("The bearer token was made for another body.")
    return claims


# --- app → plugin -------------------------------------------------------------------------


def plugin_call_token(*, key: str, purpose: str, body: bytes | None, now: int | None = None) -> str:
    """The app's token for the plugin route `purpose` (directory, record, badge)."""
    return sign(
        key=key,
        issuer=APP_ISSUER,
        audience=PLUGIN_CALLS[purpose],
        lifetime=PLUGIN_CALL_LIFETIME,
        body=body,
        now=now,
    )


def encode(payload: dict[str, Any]) -> bytes:
    """A request body, exactly as sent (and hashed into its token)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def record_body(
    *,
    sid: str,
    patient_id: str,
    direction: str,
    body: str,
    media: int,
    at: datetime,
    staff_id: str,
    our_number: str,
    patient_number: str,
) -> bytes:
    """POST record: one text to create in the patient's chart."""
    return encode(
        {
            "sid": sid,
            "patientId": patient_id,
            "direction": direction,
            "body": body,
            "media": media,
            "at": at.astimezone(UTC).isoformat(),
            "staffId": staff_id,
            "ourNumber": our_number,
            "patientNumber": patient_number,
        }
    )


def badge_body(*, unread: int, staff_ids: list[str]) -> bytes:
    """POST badge: the unread total, and who sees it ([]: every staff member)."""
    return encode({"unread": unread, "staffIds": staff_ids})


# --- plugin → app: directory entries -------------------------------------------------------


@dataclass(frozen=True)
class Mobile:
    number: str
    opted_out: bool


@dataclass(frozen=True)
class Entry:
    patient_id: str
    name: str
    time_zone: str
    active: bool
    mobiles: tuple[Mobile, ...] = field(default=())


# Who signs a directory push, for whom, for how long.
_PUSH = {"issuer": PLUGIN_ISSUER, "audience": DIRECTORY_PUSH, "lifetime": DIRECTORY_PUSH_LIFETIME}


def directory_push_token(*, key: str, body: bytes, now: int | None = None) -> str:
    """The plugin's token for POST /canvas/directory (the plugin signs its own; this one is
    for the app's tests)."""
    return sign(key=key, body=body, now=now, **_PUSH)


def verify_directory_push(token: str, *, key: str, body: bytes, now: int | None = None) -> None:
    verify(token, key=key, body=body, now=now, **_PUSH)


def read_directory(body: bytes) -> tuple[datetime, list[Entry], str | None]:
    """A directory push's or page's body: its `asOf`, its entries and (a page's) `next`
    cursor. Raises ContractError naming what is wrong."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ContractError("The body is not JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("patients"), list):
        raise ContractError('The body must be an object with a "patients" list.')
    try:
        as_of = datetime.fromisoformat(str(data.get("asOf")))
    except ValueError:
        raise ContractError('"asOf" must be an ISO 8601 time with its offset.') from None
    if as_of.tzinfo is None:
        raise ContractError('"asOf" must be an ISO 8601 time with its offset.')
    following = data.get("next")
    if following is not None and not isinstance(following, str):
        raise ContractError('"next" must be a string or null.')
    entries = [_entry(item, index) for index, item in enumerate(data["patients"])]
    return as_of, entries, following or None


def _entry(item: Any, index: int) -> Entry:
    where = f"patients[{index}]"
    if not isinstance(item, dict):
        raise ContractError(f"{where} must be an object.")
    patient_id, name, zone = (item.get(k) for k in ("patientId", "name", "timeZone"))
    if not isinstance(patient_id, str) or not _ID.fullmatch(patient_id):
        raise ContractError(f"{where}.patientId must be a Canvas patient id.")
    if not isinstance(name, str) or not isinstance(zone or "", str):
        raise ContractError(f"{where}.name and .timeZone must be strings.")
    mobiles = item.get("mobiles")
    if not isinstance(mobiles, list):
        raise ContractError(f"{where}.mobiles must be a list.")
    seen: dict[str, Mobile] = {}
    for position, mobile in enumerate(mobiles):
        number = mobile.get("number") if isinstance(mobile, dict) else None
        if not isinstance(number, str) or not _E164.fullmatch(number):
            raise ContractError(f"{where}.mobiles[{position}].number must be in E.164.")
        seen.setdefault(number, Mobile(number, bool(mobile.get("optedOut"))))
    active = item.get("active", True) is not False
    return Entry(
        patient_id=patient_id,
        name=" ".join(name.split())[:200],
        time_zone=(zone or "")[:64],
        active=active,
        mobiles=tuple(seen.values()) if active else (),
    )
