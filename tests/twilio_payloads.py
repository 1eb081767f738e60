"""Twilio-shaped JSON for tests, and `responses` mocks that serve it page by page.

Everything here builds what Twilio's REST API (2010-04-01) really answers, so the real
`twilio` SDK parses it: tests mock Twilio at the HTTP layer only. Typical use:

    from tests import twilio_payloads as tw

    pages = tw.add_paged_list(mocked_twilio, "Messages.json", "messages",
                              [[tw.message_json(n) for n in range(3)]])
    ...
    assert pages.requests[0]["PageSize"] == "1000"

Times are RFC 2822 in UTC, as Twilio sends them; numbers are strings where Twilio sends
strings (num_media, num_segments, price).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.conf import settings

API = "https://api.twilio.com/2010-04-01"
BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def account_sid() -> str:
    """The account SID the tests' settings use."""
    return settings.TWILIO_ACCOUNT_SID


def account_url(path: str) -> str:
    """The full address of an account resource, e.g. account_url("Messages.json")."""
    return f"{API}/Accounts/{account_sid()}/{path}"


def account_path(path: str) -> str:
    """The same address without the host, as Twilio writes `uri` and `next_page_uri`."""
    return f"/2010-04-01/Accounts/{account_sid()}/{path}"


def message_sid(n: int) -> str:
    return f"SM{n:032x}"


# A message SID no test stores: tests.factories.MessageFactory numbers its SIDs like
# message_sid(n) through the whole session, so message_sid(99) may be one it made.
UNKNOWN_MESSAGE_SID = "SM" + "f" * 32


def phone_sid(n: int) -> str:
    return f"PN{n:032x}"


def media_sid(n: int) -> str:
    return f"ME{n:032x}"


def twilio_time(value: datetime | None) -> str | None:
    """A datetime as Twilio writes it: 'Sun, 01 Nov 2026 12:00:00 +0000'."""
    return format_datetime(value.astimezone(UTC)) if value else None


def message_json(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """Message number `n`: an outbound SMS sent `n` minutes after BASE_TIME, delivered.

    Override any Twilio field by its Twilio name (`from_` for "from"); datetimes given for
    date_created/date_sent/date_updated are formatted for you.
    """
    sid = overrides.pop("sid", message_sid(n))
    created = overrides.pop("date_created", BASE_TIME + timedelta(minutes=n))
    sent = overrides.pop("date_sent", created + timedelta(seconds=2) if created else None)
    updated = overrides.pop("date_updated", created + timedelta(seconds=5) if created else None)
    num_media = overrides.pop("num_media", 0)
    record = {
        "account_sid": account_sid(),
        "api_version": "2010-04-01",
        "body": f"Message number {n}",
        "date_created": twilio_time(created),
        "date_sent": twilio_time(sent),
        "date_updated": twilio_time(updated),
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": overrides.pop("from_", "+14155550100"),
        "messaging_service_sid": None,
        "num_media": None if num_media is None else str(num_media),
        "num_segments": "1",
        "price": "-0.00790",
        "price_unit": "USD",
        "sid": sid,
        "status": "delivered",
        "subresource_uris": {"media": account_path(f"Messages/{sid}/Media.json")},
        "to": "+14155550199",
        "uri": account_path(f"Messages/{sid}.json"),
    }
    record.update(overrides)
    return record


def phone_json(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """IncomingPhoneNumber number `n`, SMS/MMS/voice capable, webhook on POST."""
    sid = overrides.pop("sid", phone_sid(n))
    capabilities = {"fax": False, "mms": True, "sms": True, "voice": True}
    capabilities.update(overrides.pop("capabilities", {}))
    record = {
        "account_sid": account_sid(),
        "capabilities": capabilities,
        "date_created": twilio_time(BASE_TIME),
        "date_updated": twilio_time(BASE_TIME),
        "friendly_name": f"Front desk {n}",
        "phone_number": f"+1415555{n:04d}",
        "sid": sid,
        "sms_method": "POST",
        "sms_url": f"https://sms.example.org/plugin-io/api/twilio_sms_mms/inbound_webhook/{sid}",
        "status": "in-use",
        "status_callback": "",
        "uri": account_path(f"IncomingPhoneNumbers/{sid}.json"),
    }
    record.update(overrides)
    return record


def media_json(message: str, n: int = 0, **overrides: Any) -> dict[str, Any]:
    """Media item number `n` of the message with SID `message` (a JPEG by default)."""
    sid = overrides.pop("sid", media_sid(n))
    record = {
        "account_sid": account_sid(),
        "content_type": "image/jpeg",
        "date_created": twilio_time(BASE_TIME),
        "date_updated": twilio_time(BASE_TIME),
        "parent_sid": message,
        "sid": sid,
        "uri": account_path(f"Messages/{message}/Media/{sid}.json"),
    }
    record.update(overrides)
    return record


def error_json(code: int, status: int = 400, message: str = "") -> dict[str, Any]:
    """Twilio's error body: {"code", "message", "more_info", "status"}."""
    return {
        "code": code,
        "message": message or f"Twilio error {code}",
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def add_error(
    rsps, method: str, path: str, status: int, code: int | None = None, message: str = ""
) -> None:
    """Answer `method` on the account resource `path` with Twilio's error body."""
    rsps.add(
        method, account_url(path), json=error_json(code or status, status, message), status=status
    )


@dataclass
class PagedList:
    """What `add_paged_list` registered: `requests` holds the query parameters of every
    request it answered (errors included), in order."""

    path: str
    requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def pages_served(self) -> int:
        """Requests answered, error answers included (a retried page counts twice)."""
        return len(self.requests)


def add_paged_list(
    rsps,
    path: str,
    key: str,
    pages: list[list[dict[str, Any]]],
    *,
    errors: dict[int, list[tuple[int, dict[str, Any]]]] | None = None,
) -> PagedList:
    """Serve `pages` (lists of records under `key`) from the account resource `path`.

    Page 0 answers the first request; its `next_page_uri` carries the caller's filters
    plus `Page` and `PageToken`, as Twilio's does, and the SDK follows it. `errors` maps a
    page index to (status, body) answers served, in order, before that page succeeds; to
    fail for good, give more errors than the caller will retry.
    """
    pending = {index: list(answers) for index, answers in (errors or {}).items()}
    served = PagedList(path)

    def answer(request):
        params = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
        served.requests.append(params)
        index = int(params.get("Page", 0))
        if pending.get(index):
            status, body = pending[index].pop(0)
            return status, {}, json.dumps(body)
        return 200, {}, json.dumps(_page_body(path, key, pages, index, params))

    rsps.add_callback("GET", account_url(path), callback=answer, content_type="application/json")
    return served


def _page_body(path: str, key: str, pages, index: int, params: dict[str, str]) -> dict:
    records = pages[index] if index < len(pages) else []
    size = int(params.get("PageSize", 50))
    filters = {k: v for k, v in params.items() if k not in {"Page", "PageToken"}}

    def uri(page: int) -> str:
        query = {**filters, "Page": page}
        if page:
            query["PageToken"] = f"PA{page:032x}"
        return f"{account_path(path)}?{urlencode(query)}"

    return {
        key: records,
        "end": index * size + max(len(records) - 1, 0),
        "first_page_uri": uri(0),
        "next_page_uri": uri(index + 1) if index + 1 < len(pages) else None,
        "page": index,
        "page_size": size,
        "previous_page_uri": uri(index - 1) if index else None,
        "start": index * size,
        "uri": uri(index),
    }


def split_pages(records: list[dict[str, Any]], size: int = 1000) -> list[list[dict]]:
    """Cut records into pages of `size`, as Twilio would list them."""
    return [records[i : i + size] for i in range(0, len(records), size)] or [[]]
