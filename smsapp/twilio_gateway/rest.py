"""Twilio's REST API, as the app uses it: phone numbers, messages and their media.

Every function returns plain dicts keyed like our models (the records), and every failure
is a TwilioError (smsapp.twilio_gateway.calls).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.rest.api.v2010.account.message import MessageInstance

from smsapp.twilio_gateway.calls import TwilioError, as_int, attempt_timeout, call
from smsapp.twilio_gateway.client import client, credentials, media_session
from smsapp.twilio_gateway.constants import API_BASE, API_VERSION, MAX_MEDIA, MAX_PAGE_SIZE

# --- plain records ------------------------------------------------------------------------


_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")


def _sid(value: Any, what: str) -> str:
    """The SID of a record Twilio answered with. A record without one cannot be mirrored
    or named to anyone, so it is a failed call (502), never an answer with no SID."""
    if not isinstance(value, str) or not _SID.fullmatch(value):
        raise TwilioError(
            f"Twilio answered with a {what} that has no valid SID, so this app cannot tell "
            "what Twilio did; check the Twilio console (or the log after the next sync) "
            "before trying again."
        )
    return value


def _phone_record(p: Any) -> dict[str, Any]:
    caps = p.capabilities or {}
    return {
        "sid": _sid(p.sid, "phone number"),
        "phone_number": p.phone_number or "",
        "friendly_name": p.friendly_name or "",
        "sms": bool(caps.get("sms")),
        "mms": bool(caps.get("mms")),
        "voice": bool(caps.get("voice")),
        "fax": bool(caps.get("fax")),
        "status": p.status or "",
        "sms_url": p.sms_url or "",
        "sms_method": (p.sms_method or "POST").upper(),
        "status_callback": p.status_callback or "",
    }


def _time(value: str | datetime | None) -> datetime | None:
    """Twilio's RFC 2822 time ("Thu, 30 Jul 2015 20:12:31 +0000") as an aware datetime;
    the SDK's instances hold one already."""
    if not value or isinstance(value, datetime):
        return value or None
    return _parse_time(value)


@lru_cache(maxsize=4096)
def _parse_time(value: str) -> datetime | None:
    """Cached: Twilio's times are whole seconds, a message's dates often share one, and a
    list page holds messages sent close together, so most of a sync's parses repeat."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # "-0000" parses naive


def message_record(m: dict[str, Any] | MessageInstance) -> dict[str, Any]:
    """A Twilio message as the fields of our Message model: from its JSON in a list page
    (building the SDK's instance for each of 1,000 messages would cost a sync more than
    the mapping), or from the SDK's instance that fetch and create return."""
    get = m.get if isinstance(m, dict) else (lambda name: getattr(m, _ATTRIBUTES.get(name, name)))
    return {
        "sid": _sid(get("sid"), "message"),
        "account_sid": get("account_sid") or "",
        "messaging_service_sid": get("messaging_service_sid") or "",
        "direction": get("direction") or "",
        "from_number": get("from") or "",
        "to_number": get("to") or "",
        "body": get("body") or "",
        "status": get("status") or "",
        # The SDK passes through a code it cannot parse, which would fail the column.
        "error_code": None if get("error_code") is None else as_int(get("error_code"), None),
        "error_message": get("error_message") or "",
        "num_media": as_int(get("num_media")),
        "num_segments": as_int(get("num_segments"), 1),
        "price": get("price") or "",
        "price_unit": get("price_unit") or "",
        "date_created": _time(get("date_created")),
        "date_sent": _time(get("date_sent")),
        "date_updated": _time(get("date_updated")),
    }


_ATTRIBUTES = {"from": "from_"}  # JSON keys the SDK renames on its instances


def _page_records(page: Any) -> list[dict[str, Any]]:
    """A list page's messages as records. Reads the page's parsed JSON (the SDK keeps it in
    `_payload`, unchanged since twilio 6); falls back to the SDK's instances if that
    ever moves."""
    payload = getattr(page, "_payload", None)
    if isinstance(payload, dict) and isinstance(payload.get("messages"), list):
        return [message_record(m) for m in payload["messages"]]
    return [message_record(m) for m in page]


def _media_record(m: Any) -> dict[str, Any]:
    return {
        "sid": m.sid,
        "content_type": m.content_type or "",
        "uri": m.uri or "",
        "date_created": m.date_created,
    }


# --- phone numbers ------------------------------------------------------------------------


def list_phone_numbers() -> Iterator[dict[str, Any]]:
    """Every IncomingPhoneNumber of the account, page by page."""
    page = call(lambda: client().incoming_phone_numbers.page(page_size=MAX_PAGE_SIZE))
    while page is not None:
        yield from (_phone_record(p) for p in page)
        page = call(page.next_page)


def update_sms_webhook(phone_sid: str, *, url: str, method: str) -> dict[str, Any]:
    """Point a number's inbound SMS webhook at `url`, called with `method` (GET or POST)."""
    phone = call(
        lambda: client().incoming_phone_numbers(phone_sid).update(sms_url=url, sms_method=method)
    )
    return _phone_record(phone)


# --- messages ------------------------------------------------------------------------------


def iter_message_pages(
    *,
    to: str | None = None,
    from_: str | None = None,
    date_sent_after: date | datetime | None = None,
    date_sent_before: date | datetime | None = None,
    page_size: int = MAX_PAGE_SIZE,
) -> Iterator[list[dict[str, Any]]]:
    """Messages matching the filters, one page (a list of records) at a time, newest
    first, following Twilio's next_page_uri. Only one page is held in memory."""
    filters: dict[str, Any] = {"page_size": min(max(page_size, 1), MAX_PAGE_SIZE)}
    if to:
        filters["to"] = to
    if from_:
        filters["from_"] = from_
    if date_sent_after:
        filters["date_sent_after"] = date_sent_after
    if date_sent_before:
        filters["date_sent_before"] = date_sent_before
    page = call(lambda: client().messages.page(**filters))
    while page is not None:
        yield _page_records(page)
        page = call(page.next_page)


def fetch_message(message_sid: str) -> dict[str, Any]:
    return message_record(call(lambda: client().messages(message_sid).fetch()))


def send_message(
    *,
    from_: str,
    to: str,
    body: str = "",
    media_urls: list[str] | tuple[str, ...] = (),
    status_callback: str | None = None,
) -> dict[str, Any]:
    """Send an SMS, or an MMS when `media_urls` (at most 10) are given."""
    if len(media_urls) > MAX_MEDIA:
        raise TwilioError(
            f"A message can carry at most {MAX_MEDIA} media URLs (got {len(media_urls)}).",
            http_status=400,
            field="mediaUrls",
        )
    kwargs: dict[str, Any] = {"from_": from_, "to": to}
    if body:
        kwargs["body"] = body
    if media_urls:
        kwargs["media_url"] = list(media_urls)
    if status_callback:
        kwargs["status_callback"] = status_callback
    message = call(lambda: client().messages.create(**kwargs), safe_to_repeat=False)
    return message_record(message)


def delete_message(message_sid: str) -> None:
    call(lambda: client().messages(message_sid).delete())


# --- media ----------------------------------------------------------------------------------


def list_media(message_sid: str) -> list[dict[str, Any]]:
    items = call(lambda: client().messages(message_sid).media.list(page_size=MAX_PAGE_SIZE))
    return [_media_record(m) for m in items]


def media_content_url(message_sid: str, media_sid: str) -> str:
    """The address of a media item's bytes (the Media resource URI without `.json`)."""
    return (
        f"{API_BASE}/{API_VERSION}/Accounts/{settings.TWILIO_ACCOUNT_SID}"
        f"/Messages/{message_sid}/Media/{media_sid}"
    )


def download_media(message_sid: str, media_sid: str) -> tuple[bytes, str]:
    """The bytes and content type of one media item, at most TWILIO_MEDIA_MAX_BYTES.

    Twilio answers with a redirect to a short-lived CDN address; the first request carries
    our credentials, the redirect is followed (requests drops the credentials when the
    host changes, which is what we want: the CDN URL is pre-signed).
    """
    client()  # raises TwilioNotConfigured before any network call
    url = media_content_url(message_sid, media_sid)
    limit = settings.TWILIO_MEDIA_MAX_BYTES

    def fetch() -> tuple[bytes, str]:
        with media_session().get(
            url, auth=credentials(), timeout=attempt_timeout(settings.TWILIO_TIMEOUT), stream=True
        ) as response:
            if response.status_code >= 400:
                raise TwilioRestException(response.status_code, url, "media download failed")
            declared = as_int(response.headers.get("Content-Length"), 0)
            if declared > limit:
                raise _too_large(limit)
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
            content_type = response.headers.get("Content-Type", "application/octet-stream")
            return b"".join(chunks), content_type.split(";")[0].strip()

    return call(fetch)


def _too_large(limit: int) -> TwilioError:
    return TwilioError(
        f"This media item is larger than {limit / (1024 * 1024):g} MB and was not downloaded.",
        http_status=502,
    )
