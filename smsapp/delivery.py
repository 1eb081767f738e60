"""Delivery status callbacks: keep every one, move the message's status only forward."""

from __future__ import annotations

from typing import Any

from django.db import connections, router, transaction
from django.utils import timezone

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
    using = router.db_for_write(StatusEvent)
    with write_lock(using), transaction.atomic(using=using):
        _insert_event(
            using,
            message=message_sid,
            status=status,
            error_code=error_code,
            error_message=error_message,
            payload=payload or {},
            received_at=timezone.now(),
        )
        return Message.objects.db_manager(using).advance_status(
            sid=message_sid, status=status, error_code=error_code, error_message=error_message
        )


def _insert_event(using: str, **values: Any) -> None:
    """StatusEvent.objects.create(**values) written as SQL: the ORM's save machinery was a
    third of a status callback's CPU time (bench/webhook_load.py). Each value goes through
    its field's get_db_prep_save, so it is stored exactly as the ORM would store it."""
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = [StatusEvent._meta.get_field(name) for name in values]
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    params = [
        f.get_db_prep_save(v, connection) for f, v in zip(fields, values.values(), strict=True)
    ]
    table = quote(StatusEvent._meta.db_table)
    # Only names from the model and placeholders are formatted in; values are parameters.
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
