"""Input checks for the JSON API, each failure a sentence a person can act on.

Every check raises `InvalidInput` with `{field: sentence}`; the API answers it as a 400
whose `information` is the first sentence and whose `fields` holds them all, so the page
can mark every wrong field at once.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

from smsapp.lib.errors import InvalidInput, NotFound
from smsapp.lib.placeholders import listed, unfilled_placeholders
from smsapp.twilio_gateway.constants import MAX_BODY_LENGTH, MAX_MEDIA

WEBHOOK_METHODS = ("GET", "POST")

# How far ahead a text may be scheduled, and how late a `sendAt` of "now" may arrive.
SCHEDULE_AHEAD = timedelta(days=35)
SCHEDULE_LATE = timedelta(minutes=1)

E164_EXAMPLE = "+14155550123"

# Twilio SIDs: two capital letters and 32 hex digits. Checked before any lookup so a
# malformed path never reaches Twilio.
_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
_SURROGATE = re.compile("[\ud800-\udfff]")


def is_sid(value: str, prefixes: tuple[str, ...]) -> bool:
    return bool(_SID.match(value)) and value[:2] in prefixes


def check_message_sid(sid: str) -> None:
    """A message SID from a URL path: a malformed one is a 404 before any lookup."""
    if not is_sid(sid, ("SM", "MM")):
        raise NotFound(f"There is no message with SID {sid[:40]!r}; message SIDs start with SM.")


def uuid_or_404(value: str) -> uuid.UUID:
    """An id from a URL path: a malformed one is a 404 before any lookup."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"There is nothing with the id {value[:40]!r}.") from None


def json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or InvalidInput saying what is wrong with it."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # [[[[… nested past the limit
        raise InvalidInput(
            {}, 'The request body is not valid JSON; send a JSON object such as {"text": "Hi"}.'
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(
            {}, "The request body must be a JSON object ({...}), not a list or value."
        )
    for key, value in data.items():
        if _has_lone_surrogate(key) or _has_lone_surrogate(value):
            field = key.encode("utf-8", "backslashreplace").decode()
            raise InvalidInput(
                {
                    field: f"{field} holds a broken character (half of a UTF-16 surrogate "
                    "pair, such as \\ud800), which no phone can show; remove it."
                }
            )
    return data


def _has_lone_surrogate(value: Any) -> bool:
    """JSON's \\ud800 escapes parse into a str no database, log or HTTP client can
    encode; found here, anywhere in a value, before any of them tries."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def e164(value: Any, *, field: str, label: str, strict: bool = True) -> str:
    """`value` as an E.164 number (+ and digits), normalised from common spellings such
    as "+1 (415) 555-0123". `strict` asks libphonenumber whether the number can exist
    (numbers we send to); lookups only need a number that is possible."""
    problem = f"{label} must be a phone number in E.164 form, such as {E164_EXAMPLE}."
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput({field: problem})
    text = value.strip()
    if not text.startswith("+"):
        raise InvalidInput({field: f"{problem} Start it with + and the country code."})
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise InvalidInput({field: problem}) from None
    ok = phonenumbers.is_valid_number(number) if strict else phonenumbers.is_possible_number(number)
    if not ok:
        raise InvalidInput({field: f"{label} {text} is not a valid phone number; {problem}"})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def path_number(value: str, *, field: str = "number", label: str = "The number") -> str:
    """A number taken from a URL path or query. `+` may arrive raw or as %2B (both decode
    to +); a + decoded as a space (a proxy, an unencoded query) is mended."""
    if value.startswith(" "):
        value = "+" + value[1:]
    return e164(value, field=field, label=label, strict=False)


def https_url(value: Any, *, field: str, label: str) -> str:
    """An absolute https URL with a host: Twilio calls or fetches it from the internet."""
    problem = f"{label} must be an https:// address, such as https://example.org/status."
    if not isinstance(value, str):
        raise InvalidInput({field: problem})
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        raise InvalidInput({field: problem}) from None
    if parts.scheme.lower() != "https" or not parts.hostname or _has_control(text):
        raise InvalidInput({field: problem})
    return text


def text_field(value: Any, *, field: str, label: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput({field: f"{label} must be a string."})
    if "\x00" in value:  # no phone shows it, and PostgreSQL cannot store it
        raise InvalidInput({field: f"{label} contains a NUL character; remove it."})
    return value


def _has_control(text: str) -> bool:
    return any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text)


def collect(checks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Run several checks ({field: zero-argument callable}), keeping every value that
    passed and every sentence that did not, so one answer can name all the faults."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, check in checks.items():
        try:
            values[name] = check()
        except InvalidInput as problem:
            errors.update(problem.fields or {name: problem.information})
    return values, errors


def send_request(data: dict[str, Any]) -> dict[str, Any]:
    """The shape checks of sms_send's body (which numbers exist is checked against the
    mirror by smsapp.services.messages.send). Returns from_, from_sid, to, text,
    media_urls, callback_url and send_at (None: now); raises InvalidInput naming every
    field at fault."""
    values, errors = collect(
        {
            "numberFrom": lambda: e164(
                data.get("numberFrom"), field="numberFrom", label="The From number", strict=False
            ),
            "numberFromSid": lambda: _optional_sid(data.get("numberFromSid")),
            "numberTo": lambda: e164(data.get("numberTo"), field="numberTo", label="The To number"),
            "text": lambda: text_field(data.get("text"), field="text", label="The text"),
            "mediaUrls": lambda: _media_urls(data.get("mediaUrls")),
            "callbackUrl": lambda: _optional_https(data.get("callbackUrl"), "callbackUrl"),
            "sendAt": lambda: send_at(data.get("sendAt"), now=datetime.now(UTC)),
        }
    )
    if "text" in values and "mediaUrls" in values:
        text, media = values["text"], values["mediaUrls"]
        if not text.strip() and not media:
            errors["text"] = "Write a message (or attach media) before sending."
        elif len(text) > MAX_BODY_LENGTH:
            errors["text"] = (
                f"The text is {len(text):,} characters long; Twilio takes at most "
                f"{MAX_BODY_LENGTH:,}. Shorten it or send it in two messages."
            )
        elif unfilled := unfilled_placeholders(text):
            errors["text"] = _unfilled_sentence(unfilled)
    if errors:
        raise InvalidInput(errors)
    return {
        "from_": values["numberFrom"],
        "from_sid": values["numberFromSid"],
        "to": values["numberTo"],
        "text": values["text"],
        "media_urls": values["mediaUrls"],
        "callback_url": values["callbackUrl"],
        "send_at": values["sendAt"],
    }


_PLACEHOLDER_VALUES = {
    "{first_name}": "the patient's first name",
    "{clinic_name}": "the clinic's name (CLINIC_NAME fills it in when set)",
    "{our_number}": "the number you send from",
}


def _unfilled_sentence(unfilled: list[str]) -> str:
    what = listed([f"{name} with {_PLACEHOLDER_VALUES[name]}" for name in unfilled])
    return f"The text still contains {listed(unfilled)}: replace {what} before sending."


def send_at(value: Any, *, now: datetime) -> datetime | None:
    """sms_send's `sendAt`: None (send now), or an ISO 8601 time with a UTC offset from
    now to SCHEDULE_AHEAD ahead, returned in UTC."""
    if value is None or value == "":
        return None
    example = "such as 2026-03-10T09:30:00-08:00 (or …Z for UTC)"
    if not isinstance(value, str):
        raise InvalidInput({"sendAt": f"sendAt must be a date and time in ISO 8601, {example}."})
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            {"sendAt": f"sendAt {value[:40]!r} is not a date and time in ISO 8601, {example}."}
        ) from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(
            {"sendAt": f"sendAt must say its UTC offset, {example}; {value[:40]!r} has none."}
        )
    at = at.astimezone(UTC)
    if at < now - SCHEDULE_LATE:
        raise InvalidInput({"sendAt": "sendAt is in the past; choose a time from now on."})
    if at > now + SCHEDULE_AHEAD:
        raise InvalidInput(
            {
                "sendAt": f"sendAt is more than {SCHEDULE_AHEAD.days} days ahead; texts can "
                f"be scheduled at most {SCHEDULE_AHEAD.days} days in advance."
            }
        )
    return max(at, now)


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EXPORT_DEFAULT_DAYS = 30


def date_range(query: dict[str, str], *, today: date) -> tuple[date, date]:
    """The audit export's `since` and `until` (YYYY-MM-DD, both days included). Left
    out: `until` is today, `since` EXPORT_DEFAULT_DAYS days before `until`, both
    included."""
    until = _day(query, "until") or today
    since = _day(query, "since") or until - timedelta(days=EXPORT_DEFAULT_DAYS - 1)
    if since > until:
        raise InvalidInput({"since": f"since ({since}) is after until ({until}); swap them."})
    return since, until


def _day(query: dict[str, str], name: str) -> date | None:
    value = (query.get(name) or "").strip()
    if not value:
        return None
    try:
        if _DAY.match(value):
            return date.fromisoformat(value)
    except ValueError:
        pass  # 2026-02-30: the shape of a day, not a day
    raise InvalidInput(
        {name: f"{name} must be a day written YYYY-MM-DD, such as 2026-01-31, not {value[:20]!r}."}
    )


def webhook_request(data: dict[str, Any]) -> tuple[str, str]:
    """inbound_webhook's body: an https `url` (an empty one clears the webhook) and a
    `method`, GET or POST (POST when left out, as Twilio's own default)."""

    def url() -> str:
        raw = data.get("url")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return ""
        return https_url(raw, field="url", label="The webhook URL")

    def method() -> str:
        raw = data.get("method")
        if raw is None or raw == "":
            return "POST"
        if not isinstance(raw, str) or raw.strip().upper() not in WEBHOOK_METHODS:
            raise InvalidInput({"method": "The webhook method must be GET or POST."})
        return raw.strip().upper()

    values, errors = collect({"url": url, "method": method})
    if errors:
        raise InvalidInput(errors)
    return values["url"], values["method"]


def _optional_sid(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not is_sid(value.strip(), ("PN",)):
        raise InvalidInput(
            {
                "numberFromSid": "numberFromSid must be a phone number SID (PN followed by 32 hex "
                "digits), or left out."
            }
        )
    return value.strip()


def _optional_https(value: Any, field: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    return https_url(value, field=field, label="The callback URL")


def _media_urls(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(
            {
                "mediaUrls": "mediaUrls must be a list of https:// addresses, such as "
                '["https://example.org/photo.jpg"].'
            }
        )
    if len(value) > MAX_MEDIA:
        raise InvalidInput(
            {
                "mediaUrls": f"A message can carry at most {MAX_MEDIA} media items; "
                f"{len(value)} were given."
            }
        )
    urls = []
    for position, item in enumerate(value, start=1):
        try:
            urls.append(https_url(item, field="mediaUrls", label=f"Media item {position}"))
        except InvalidInput as problem:
            raise InvalidInput({"mediaUrls": problem.information}) from None
    return urls
