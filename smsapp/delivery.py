"""Delivery status callbacks: keep every one, move the message's status only forward."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from smsapp.models import Message, StatusEvent
from smsapp.write_lock import write_lock


def record_status_callback(
    *,
    message_sid: str,
    status: str,
    error_code: int | None = None,
    error_message: str = "",
    payload: dict[str, Any] | None = None,
) -> bool:
    """Store the callback as a StatusEvent and advance the message if `status` is a step
    forward (Message.statuses_before). Returns whether the message moved.

    Retries and out-of-order callbacks are stored too (the history is the point) and the
    conditional UPDATE makes them harmless. A message not mirrored yet moves nothing; its
    events wait for it under its SID and sync_twilio brings its current status.
    """
    with write_lock(), transaction.atomic():
        StatusEvent.objects.create(
            message_id=message_sid,
            status=status,
            error_code=error_code,
            error_message=error_message,
            payload=payload or {},
        )
        return Message.objects.advance_status(
            sid=message_sid, status=status, error_code=error_code, error_message=error_message
        )
