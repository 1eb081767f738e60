"""Twilio's REST answers and a real image, for the browser tests' HTTP mock."""

import struct
import zlib
from datetime import UTC, datetime
from email.utils import format_datetime

ACCOUNT = "AC" + "0" * 32
TWILIO = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}"


def twilio_date(value: datetime | None = None) -> str:
    return format_datetime(value or datetime.now(UTC))


def twilio_message(
    sid: str,
    *,
    from_: str,
    to: str,
    body: str,
    status: str = "queued",
    direction: str = "outbound-api",
    error_code: int | None = None,
    error_message: str | None = None,
    num_media: int = 0,
) -> dict:
    """A Message resource as Twilio's REST API answers it."""
    return {
        "sid": sid,
        "account_sid": ACCOUNT,
        "messaging_service_sid": None,
        "api_version": "2010-04-01",
        "body": body,
        "direction": direction,
        "from": from_,
        "to": to,
        "status": status,
        "num_media": str(num_media),
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "error_code": error_code,
        "error_message": error_message,
        "date_created": twilio_date(),
        "date_sent": None,
        "date_updated": twilio_date(),
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media.json"},
    }


def twilio_phone(phone, *, sms_url: str, sms_method: str) -> dict:
    """An IncomingPhoneNumber resource for one of our mirrored Phone rows, as updated."""
    return {
        "sid": phone.sid,
        "account_sid": ACCOUNT,
        "phone_number": phone.phone_number,
        "friendly_name": phone.friendly_name,
        "capabilities": phone.capabilities,
        "status": phone.status,
        "sms_url": sms_url,
        "sms_method": sms_method,
        "status_callback": phone.status_callback,
        "date_created": twilio_date(),
        "date_updated": twilio_date(),
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers/{phone.sid}.json",
    }


def twilio_error(code: int, message: str, status: int = 400) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def png(width: int = 48, height: int = 32, rgb: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A real (tiny, single-colour) PNG, so the browser can decode what the API serves."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def screenshots_at_two_widths(page, folder, name: str) -> None:
    """The page as it is, at the pane's width and a desktop's; never scrolling sideways."""
    for width in (420, 1280):
        page.set_viewport_size({"width": width, "height": 1000})
        page.screenshot(path=folder / f"{name}-{width}.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.set_viewport_size({"width": 420, "height": 1000})
