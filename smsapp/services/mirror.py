"""Every write to the local mirror of the Twilio account, in one place: the messages sync
reads, the ones the API sends or fetches, the ones webhooks deliver, and status callbacks.

Sync, the JSON API and the webhooks all write through these functions, so the rules hold
whoever writes: a message is stored once per SID, a status only moves forward
(Message.statuses_before), media rows are never duplicated, and the inbox's conversations
change in the same transaction as their messages (smsapp.services.inbox).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, connections, models, router, transaction
from django.db.models import Count
from django.utils import timezone

from smsapp.lib.write_lock import write_lock
from smsapp.models import Media, Message, StatusEvent
from smsapp.services import chart, consent, inbox


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    def add(self, other: Counts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.removed += other.removed

    def __str__(self) -> str:
        text = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        return f"{text}, {self.removed} removed" if self.removed else text


# --- records read from Twilio (sync, fetch, send) -----------------------------------------

_STATUS_FIELDS = ("status", "error_code", "error_message")


def _status_is_behind(record: dict[str, Any], current: dict[str, Any]) -> bool:
    """Twilio's list was read before a status callback we already stored (a page of 1,000
    takes a while): its older status must not undo the newer one."""
    return record["status"] != current["status"] and Message.may_move(
        record["status"], current["status"]
    )


def upsert_messages(records: list[dict[str, Any]]) -> Counts:
    """Create or update one page of message records: the new ones in one INSERT, the
    changed ones in one upsert, then their conversations (smsapp.services.inbox).

    Only the fields Twilio gives (the record's keys) are compared and written, so columns
    the app keeps for itself on Message are never overwritten by a sync."""
    counts = Counts()
    if not records:
        return counts
    fields = [name for name in records[0] if name != "sid"]
    sids = [r["sid"] for r in records]
    existing = {
        row[0]: row[1:] for row in Message.objects.filter(sid__in=sids).values_list("sid", *fields)
    }
    new, changed = [], []
    for record in records:
        row = existing.get(record["sid"])
        if row is None:
            new.append(record)
            continue
        current = dict(zip(fields, row, strict=True))
        if _status_is_behind(record, current):
            record = {**record, **{name: current[name] for name in _STATUS_FIELDS}}
        if all(current[name] == record[name] for name in fields):
            counts.unchanged += 1
        else:
            changed.append(record)
    ids = _insert_rows(new, fields)
    # Stored meanwhile by a webhook (PostgreSQL lets the two race): updated, not created,
    # so its conversation counts it once.
    changed += [r for r in new if r["sid"] not in ids]
    if changed:
        _upsert_rows(changed, fields)
    counts.created, counts.updated = len(ids), len(changed)
    stored = [{**r, "id": ids[r["sid"]]} for r in new if r["sid"] in ids]
    inbox.record_new(stored)
    chart.queue(stored)
    inbox.refresh_newest(changed)
    return counts


_INSERT_CHUNK = 500  # rows per INSERT: well under both databases' limits on parameters


def _insert_rows(records: list[dict[str, Any]], fields: list[str]) -> dict[str, int]:
    """INSERT ... ON CONFLICT (sid) DO NOTHING RETURNING sid, id: the records' SIDs that
    were stored now, with their ids. A SID another transaction stored first is left out,
    which is how the caller tells a new message from one it only thought new."""
    ids: dict[str, int] = {}
    for start in range(0, len(records), _INSERT_CHUNK):
        sql, rows = _row_statement(records[start : start + _INSERT_CHUNK], fields)
        values = ", ".join([f"({', '.join(['%s'] * len(rows[0]))})"] * len(rows))
        with connection.cursor() as cursor:
            cursor.execute(
                f"{sql} VALUES {values} ON CONFLICT (sid) DO NOTHING RETURNING sid, id",
                [value for row in rows for value in row],
            )
            ids.update(cursor.fetchall())
    return ids


def _upsert_rows(records: list[dict[str, Any]], fields: list[str]) -> None:
    """INSERT ... ON CONFLICT (sid) DO UPDATE for the records, in one executemany (the
    syntax is the same on SQLite and PostgreSQL).

    It is what bulk_create(update_conflicts=True) does, without building a model instance
    and running every field's prepare hooks per message, which dominated a sync's time
    (bench/README.md). Columns the records do not carry get their model default on insert
    and are left alone on update."""
    sql, rows = _row_statement(records, fields)
    quote = connection.ops.quote_name
    columns = [quote(Message._meta.get_field(name).column) for name in fields]
    sql += (
        f" VALUES ({', '.join(['%s'] * len(rows[0]))}) ON CONFLICT ({quote('sid')}) DO UPDATE SET "
        + ", ".join(f"{column} = EXCLUDED.{column}" for column in columns)
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _row_statement(
    records: list[dict[str, Any]], fields: list[str]
) -> tuple[str, list[tuple[Any, ...]]]:
    """`INSERT INTO message (columns)` and the records as rows of values for it: the SID
    and `fields` from the records, every other column its model default."""
    meta = Message._meta
    names = ["sid", *fields]
    written = [meta.get_field(name) for name in names]
    others = [f for f in meta.concrete_fields if f.name not in names and not f.primary_key]
    datetimes = [isinstance(f, models.DateTimeField) for f in written]
    adapt = connection.ops.adapt_datetimefield_value
    defaults = tuple(f.get_db_prep_save(_default(f), connection) for f in others)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in written + others)
    rows = [
        tuple(
            adapt(record[name]) if is_datetime else record[name]
            for name, is_datetime in zip(names, datetimes, strict=True)
        )
        + defaults
        for record in records
    ]
    return f"INSERT INTO {quote(meta.db_table)} ({columns})", rows  # noqa: S608 - names from _meta


def _default(field: models.Field) -> Any:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return timezone.now()
    return field.get_default()


def media_to_fetch(records: list[dict[str, Any]]) -> list[str]:
    """SIDs of the messages in `records` that carry more media than are mirrored."""
    expected = {r["sid"]: r["num_media"] for r in records if r["num_media"]}
    if not expected:
        return []
    mirrored = dict(
        Media.objects.filter(message__sid__in=expected)
        .values_list("message__sid")
        .annotate(count=Count("id"))
    )
    return [sid for sid, count in expected.items() if mirrored.get(sid, 0) < count]


def save_media(media: dict[str, list[dict[str, Any]]]) -> Counts:
    """Store media records (message SID -> its media records) for mirrored messages."""
    counts = Counts()
    if not any(media.values()):  # a send's own record, say: nothing to look up
        return counts
    message_ids = dict(Message.objects.filter(sid__in=media).values_list("sid", "id"))
    media_sids = [r["sid"] for records in media.values() for r in records]
    known = set(Media.objects.filter(sid__in=media_sids).values_list("sid", flat=True))
    new = [
        Media(message_id=message_ids[message_sid], **record)
        for message_sid, records in media.items()
        if message_sid in message_ids
        for record in records
        if record["sid"] not in known
    ]
    Media.objects.bulk_create(new, ignore_conflicts=True)
    counts.created = len(new)
    counts.unchanged = len(media_sids) - len(new)
    return counts


def mirror_message(record: dict[str, Any], *, media: Iterable[dict[str, Any]] = ()) -> Message:
    """Store one message record from Twilio (and its media metadata) in one transaction,
    as a sync would. Status callbacks that arrived before the row existed were kept as
    StatusEvents; they are applied now, in order."""
    sid = record["sid"]
    with transaction.atomic():
        upsert_messages([record])
        for event in StatusEvent.objects.filter(message_id=sid):
            if Message.objects.advance_status(
                sid=sid,
                status=event.status,
                error_code=event.error_code,
                error_message=event.error_message,
            ):
                inbox.status_changed(sid=sid, status=event.status)
        save_media({sid: list(media)})
    return Message.objects.get(sid=sid)


# --- webhooks: inbound messages and status callbacks ---------------------------------------


@dataclass(frozen=True)
class InboundMedia:
    sid: str
    uri: str  # the path of Twilio's MediaUrl, as our Media rows keep it
    content_type: str


def receive_message(
    *,
    sid: str,
    from_number: str,
    to_number: str,
    body: str = "",
    account_sid: str = "",
    messaging_service_sid: str = "",
    num_segments: int = 1,
    media: Sequence[InboundMedia] = (),
    opt_out_type: str = "",
) -> Message | None:
    """Store an inbound message and its media rows in one transaction, with its
    conversation and the consent change of an opt-out or opt-in keyword
    (smsapp.services.consent; `opt_out_type` is Twilio's word for a keyword it handled).
    Returns the new Message, or None when this MessageSid was already stored (a retried
    delivery).

    Twilio retries an inbound webhook that timed out or failed, so the same MessageSid
    can arrive twice, even at the same moment. The unique constraint on Message.sid
    decides which delivery is first; the others learn they are duplicates from the
    IntegrityError, so a patient never gets the same auto-reply twice."""
    # Whole seconds, as Twilio writes its dates: otherwise the auto-reply (mirrored later
    # with Twilio's date of the same second) would sort before the text it answers.
    now = timezone.now().replace(microsecond=0)
    try:
        with write_lock(), transaction.atomic():
            message = Message.objects.create(
                sid=sid,
                account_sid=account_sid,
                messaging_service_sid=messaging_service_sid,
                direction=Message.Direction.INBOUND,
                from_number=from_number,
                to_number=to_number,
                body=body,
                status=Message.Status.RECEIVED,
                num_media=len(media),
                num_segments=num_segments,
                date_created=now,
                date_sent=now,
                date_updated=now,
            )
            # ignore_conflicts: a media SID sync_twilio already mirrored is not an error.
            Media.objects.bulk_create(
                [
                    Media(
                        sid=m.sid,
                        message=message,
                        content_type=m.content_type,
                        uri=m.uri,
                        date_created=now,
                    )
                    for m in media
                ],
                ignore_conflicts=True,
            )
            row = inbox.message_row(message)
            inbox.record_new([row])
            chart.queue([row])
            consent.record_keyword(message, opt_out_type=opt_out_type)
    except IntegrityError:
        if Message.objects.filter(sid=sid).exists():
            return None
        raise
    return message


def record_status_callback(
    *,
    message_sid: str,
    status: str,
    error_code: int | None = None,
    error_message: str = "",
    payload: dict[str, Any] | None = None,
    from_number: str = "",
    to_number: str = "",
) -> bool:
    """Store the callback as a StatusEvent and advance the message if `status` is a step
    forward (and its conversation, if it is the newest message there). Returns whether
    the message moved. A send that failed with Twilio's 21610 (a Messaging Service reports
    it here) records the patient's opt-out too.

    Retries and out-of-order callbacks are stored too (the history is the point) and the
    conditional UPDATE makes them harmless. A message not mirrored yet moves nothing; its
    events wait for it under its SID (mirror_message applies them).
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
        if error_code == consent.TWILIO_OPTED_OUT and from_number and to_number:
            consent.record_twilio_refusal(
                our_number=from_number, patient_number=to_number, message_sid=message_sid
            )
        moved = Message.objects.db_manager(using).advance_status(
            sid=message_sid, status=status, error_code=error_code, error_message=error_message
        )
        if moved:
            inbox.status_changed(sid=message_sid, status=status, using=using)
        return moved


def _insert_event(using: str, **values: Any) -> None:
    """StatusEvent.objects.create(**values) written as SQL: every status callback runs it,
    and the ORM's save machinery cost more than the write (bench/README.md). Each value
    goes through its field's get_db_prep_save, so it is stored exactly as the ORM would
    store it."""
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
