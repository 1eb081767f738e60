"""Keyset paging, newest first: a page of rows and an opaque cursor to the next one.

Keyset paging costs the same on page 1 and page 1,000, where OFFSET would read and throw
away every row before the page. The cursor names the last row served by its
(date_created, id), the order every list of messages is read in (the inbox: (last_at, id),
its conversations' newest activity).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q, QuerySet

from smsapp.lib.errors import InvalidInput

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def encode_cursor(date_created: datetime, pk: int) -> str:
    """An opaque bookmark just past the row (date_created, pk) in newest-first order."""
    raw = f"{date_created.astimezone(UTC).isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    problem = InvalidInput(
        {
            "before": "This page cursor is not one the API gave out; start again from the "
            "first page (leave out `before`)."
        }
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        when, pk = datetime.fromisoformat(stamp), int(ident)
        if when.tzinfo is None or pk < 1:
            raise problem
        when = when.astimezone(UTC)  # 0001-01-01 at +14:00 has no UTC: OverflowError
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise problem from None
    return when, pk


def older_than(
    queryset: QuerySet, before: tuple[datetime, int] | None, field: str = "date_created"
) -> QuerySet:
    """Rows strictly after the cursor in (`field` DESC, id DESC) order, newest first.

    `field <= d` is a range bound the index can seek to; the OR that breaks ties only
    filters the few rows sharing that instant. (A bare `field < d OR (= d AND id < i)`
    makes some planners scan from the newest row down to the cursor.)
    """
    if before is not None:
        when, pk = before
        queryset = queryset.filter(**{f"{field}__lte": when}).filter(
            Q(**{f"{field}__lt": when}) | Q(id__lt=pk)
        )
    return queryset.order_by(f"-{field}", "-id")


def paged(
    rows: list[dict[str, Any]], limit: int, field: str = "date_created"
) -> tuple[list[dict[str, Any]], str | None]:
    """`rows` holds up to limit + 1 rows: the page, and the next page's cursor when there
    is one more."""
    if len(rows) > limit:
        last = rows[limit - 1]
        return rows[:limit], encode_cursor(last[field], last["id"])
    return rows, None


def page_size(value: str | None) -> int:
    """The `limit` query parameter, checked."""
    if value is None or value == "":
        return DEFAULT_PAGE_SIZE
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise InvalidInput(
            {
                "limit": f"limit must be a whole number from 1 to {MAX_PAGE_SIZE} "
                f"(default {DEFAULT_PAGE_SIZE})."
            }
        )
    return int(value)
