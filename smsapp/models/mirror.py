"""The local mirror of the Twilio account, and the rules that belong to its records."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from django.db import connections, models, router
from django.urls import reverse
from django.utils import timezone

from smsapp.twilio_gateway.constants import API_VERSION


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _rfc2822(value: datetime | None) -> str | None:
    """Twilio's own date format, e.g. "Thu, 30 Jul 2015 20:12:31 +0000"."""
    return format_datetime(value.astimezone(UTC)) if value else None


class Phone(models.Model):
    """One of the account's Twilio numbers (an IncomingPhoneNumber)."""

    sid = models.CharField("SID", max_length=34, unique=True)
    phone_number = models.CharField(max_length=20, help_text="E.164, e.g. +15551234567")
    friendly_name = models.CharField(max_length=255, blank=True)
    sms = models.BooleanField("SMS", default=False)
    mms = models.BooleanField("MMS", default=False)
    voice = models.BooleanField(default=False)
    fax = models.BooleanField(default=False)
    status = models.CharField(max_length=32, blank=True)
    sms_url = models.CharField("SMS webhook URL", max_length=1024, blank=True)
    sms_method = models.CharField("SMS webhook method", max_length=4, default="POST")
    status_callback = models.CharField(max_length=1024, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["phone_number"]

    def __str__(self) -> str:
        return (
            f"{self.phone_number} ({self.friendly_name})"
            if self.friendly_name
            else self.phone_number
        )

    @property
    def capabilities(self) -> dict[str, bool]:
        return {"fax": self.fax, "mms": self.mms, "sms": self.sms, "voice": self.voice}

    def to_dict(self, *, our_webhook: str) -> dict[str, Any]:
        """phone_list's item: the original plugin's keys, plus `pointsHere` (the number's
        SMS webhook is this app's inbound webhook, so its messages reach the mirror)."""
        return {
            "sid": self.sid,
            "phoneNumber": self.phone_number,
            "label": self.friendly_name,
            "capabilities": self.capabilities,
            "statusCallback": self.status_callback,
            "status": self.status,
            "inboundWebhook": {"url": self.sms_url, "method": self.sms_method},
            "pointsHere": bool(our_webhook) and self.sms_url == our_webhook,
        }


class MessageManager(models.Manager):
    def advance_status(
        self, *, sid: str, status: str, error_code: int | None = None, error_message: str = ""
    ) -> bool:
        """Move message `sid` to `status` if that is a step forward; True if it moved.

        One conditional UPDATE, so concurrent callbacks for the same message cannot undo
        each other: the database re-checks the WHERE clause on the row it locks, where a
        read-modify-write in Python would let a late `sent` overwrite `delivered`.

        It is `Message.objects.filter(sid=sid, status__in=statuses_before(status))
        .update(...)` written as SQL, because every status callback runs it and building
        the query cost more than running it (bench/README.md). A manager method, not a
        queryset one, since a queryset's filters would not apply to it
        (`Message.objects.db_manager(alias)` picks the database).
        """
        before = Message.statuses_before(status)
        if not before:
            return False
        connection = connections[self._db or router.db_for_write(Message)]
        table = connection.ops.quote_name(Message._meta.db_table)
        now = Message._meta.get_field("date_updated").get_db_prep_save(timezone.now(), connection)
        placeholders = ", ".join(["%s"] * len(before))
        # Only the table name and placeholders are formatted in; every value is a parameter.
        sql = (
            f"UPDATE {table} SET status = %s, error_code = %s, error_message = %s, "  # noqa: S608
            f"date_updated = %s WHERE sid = %s AND status IN ({placeholders})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [status, error_code, error_message, now, sid, *before])
            return cursor.rowcount > 0


class Message(models.Model):
    """One SMS or MMS, as Twilio knows it."""

    class Direction(models.TextChoices):
        INBOUND = "inbound"
        OUTBOUND_API = "outbound-api"
        OUTBOUND_CALL = "outbound-call"
        OUTBOUND_REPLY = "outbound-reply"

    class Status(models.TextChoices):
        ACCEPTED = "accepted"
        SCHEDULED = "scheduled"
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        FAILED = "failed"
        UNDELIVERED = "undelivered"
        CANCELED = "canceled"
        PARTIALLY_DELIVERED = "partially_delivered"
        RECEIVING = "receiving"
        RECEIVED = "received"

    # Status ordering (DESIGN.md): a status only moves to a higher rank. Twilio does not
    # promise callbacks in order, so a late `sent` must never overwrite `delivered`.
    # partially_delivered (a group send) sits between sent and delivered. Inbound
    # messages have their own chain (receiving < received): neither moves to the other's.
    STATUS_RANK = {
        "": 0,  # a row mirrored before Twilio gave it a status
        Status.ACCEPTED: 1,
        Status.SCHEDULED: 1,
        Status.QUEUED: 1,
        Status.SENDING: 2,
        Status.SENT: 3,
        Status.PARTIALLY_DELIVERED: 4,
        Status.DELIVERED: 5,
        Status.READ: 6,
        Status.RECEIVING: 1,
        Status.RECEIVED: 2,
    }
    # Final: nothing moves a message out of these, and they override every other status.
    # Between two different finals the first one stored wins (Twilio does not send two
    # for one message; if it ever did, the earlier is the one staff already saw).
    FINAL_STATUSES = frozenset({Status.FAILED, Status.UNDELIVERED, Status.CANCELED})
    INBOUND_STATUSES = frozenset({Status.RECEIVING, Status.RECEIVED})

    sid = models.CharField("SID", max_length=34, unique=True)
    account_sid = models.CharField(max_length=34, blank=True)
    messaging_service_sid = models.CharField(max_length=34, blank=True)
    direction = models.CharField(max_length=16, choices=Direction.choices)
    from_number = models.CharField("from", max_length=64)
    to_number = models.CharField("to", max_length=64)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=24, choices=Status.choices)
    error_code = models.IntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    num_media = models.PositiveIntegerField(default=0)
    num_segments = models.PositiveIntegerField(default=1)
    price = models.CharField(
        max_length=16, blank=True, help_text="As Twilio gives it, e.g. -0.00790"
    )
    price_unit = models.CharField(max_length=8, blank=True)
    date_created = models.DateTimeField()
    date_sent = models.DateTimeField(null=True, blank=True)
    date_updated = models.DateTimeField(null=True, blank=True)

    objects = MessageManager()

    class Meta:
        ordering = ["-date_created", "-id"]
        permissions = [("send_message", "Can send texts")]
        indexes = [
            # message_list/<number>/from and the page's Log ("sent from this number"),
            # newest first; -id breaks ties between messages created in the same second.
            models.Index(
                fields=["from_number", "-date_created", "-id"], name="message_from_newest"
            ),
            # message_list/<number>/to ("received by this number"), newest first.
            models.Index(fields=["to_number", "-date_created", "-id"], name="message_to_newest"),
            # conversation/<number>/<counterpart> (services.messages.conversation_page): one
            # range scan per direction (A→B, then B→A), merged newest first.
            models.Index(
                fields=["from_number", "to_number", "-date_created", "-id"],
                name="message_pair_newest",
            ),
            # sync_twilio's incremental start: the newest mirrored date_sent.
            models.Index(fields=["-date_sent"], name="message_date_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.sid} {self.from_number} → {self.to_number} ({self.status})"

    @property
    def patient_number(self) -> str:
        """The other side of the message: whom we sent it to, or who sent it to us."""
        return self.from_number if self.direction == self.Direction.INBOUND else self.to_number

    # The columns a list item needs. Lists read them with .values(): a model instance per
    # row would cost more than the indexed query itself.
    SUMMARY_FIELDS = (
        "id", "sid", "date_created", "date_sent", "status", "num_media", "from_number",
        "to_number", "direction", "body", "error_code", "error_message",
    )  # fmt: skip
    SUMMARY_BODY_CHARS = 160  # one SMS segment: enough for a log line, small for 200 rows

    @classmethod
    def summary(cls, row: dict[str, Any], *, whole_body: bool = False) -> dict[str, Any]:
        """message_list's item, from a row of SUMMARY_FIELDS: the original's {sid, sent,
        status, mediaCount}, plus what a log line needs (the body's first 160 characters;
        `whole_body` for a thread, which shows it all). `sent` is null while Twilio has
        not sent the message (queued)."""
        return {
            "sid": row["sid"],
            "sent": _iso(row["date_sent"]),
            "status": row["status"],
            "mediaCount": row["num_media"],
            "from": row["from_number"],
            "to": row["to_number"],
            "direction": row["direction"],
            "body": row["body"] if whole_body else row["body"][: cls.SUMMARY_BODY_CHARS],
            "created": _iso(row["date_created"]),
            "errorCode": row["error_code"],
            "errorMessage": row["error_message"] or None,
        }

    def to_dict(self, media: list[Media]) -> dict[str, Any]:
        """message/<sid>: Twilio's own field names and value types (counts as strings,
        empty values as null, dates in RFC 2822), plus ISO 8601 dates and our media
        routes."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "messaging_service_sid": self.messaging_service_sid or None,
            "api_version": API_VERSION,
            "body": self.body,
            "direction": self.direction,
            "from": self.from_number,
            "to": self.to_number,
            "status": self.status,
            "price": self.price or None,
            "price_unit": self.price_unit or None,
            "error_code": self.error_code,
            "error_message": self.error_message or None,
            "num_media": str(self.num_media),
            "num_segments": str(self.num_segments),
            "date_created": _rfc2822(self.date_created),
            "date_sent": _rfc2822(self.date_sent),
            "date_updated": _rfc2822(self.date_updated),
            "uri": f"{uri}.json",
            "subresource_uris": {
                "media": f"{uri}/Media.json",
                "feedback": f"{uri}/Feedback.json",
            },
            "created": _iso(self.date_created),
            "sent": _iso(self.date_sent),
            "updated": _iso(self.date_updated),
            "media": [item.to_dict() for item in media],
        }

    @classmethod
    def is_known_status(cls, status: str) -> bool:
        return status in cls.STATUS_RANK or status in cls.FINAL_STATUSES

    @classmethod
    def statuses_before(cls, status: str) -> list[str]:
        """The statuses a message may move from to reach `status` (none for an unknown
        word: a message is never moved to a status we cannot place)."""
        if status in cls.FINAL_STATUSES:
            return list(cls.STATUS_RANK)
        if status not in cls.STATUS_RANK:
            return []
        rank, inbound = cls.STATUS_RANK[status], status in cls.INBOUND_STATUSES
        return [
            s
            for s, r in cls.STATUS_RANK.items()
            if r < rank and (s == "" or (s in cls.INBOUND_STATUSES) == inbound)
        ]

    @classmethod
    def may_move(cls, current: str, new: str) -> bool:
        """The ordering rule as a predicate, for readers and tests; the database applies
        the same rule through statuses_before() in advance_status()."""
        return current in cls.statuses_before(new)


class Media(models.Model):
    """One attachment of an MMS. `file` holds the bytes once fetched (Django's storage)."""

    sid = models.CharField("SID", max_length=34, unique=True)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="media")
    content_type = models.CharField(max_length=128, blank=True)
    uri = models.CharField("Twilio URI", max_length=512, blank=True)
    file = models.FileField(upload_to="mms/%Y/%m/", blank=True)
    date_created = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "media"
        ordering = ["date_created", "id"]

    def __str__(self) -> str:
        return f"{self.sid} ({self.content_type or 'unknown type'})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "contentType": self.content_type,
            "url": reverse("smsapp:media_item", args=[self.message.sid, self.sid]),
        }


class StatusEvent(models.Model):
    """Every status callback Twilio sent, kept so the delivery history is never lost.

    `message` points at Message.sid without a database constraint: Twilio may call back
    for a message the mirror has not seen yet, and the event must still be stored.
    """

    message = models.ForeignKey(
        Message,
        to_field="sid",
        db_column="message_sid",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="status_events",
    )
    status = models.CharField(max_length=24)
    error_code = models.IntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.message_id}: {self.status}"


class SyncRun(models.Model):
    """One run of sync_twilio (the command, the page's button or the periodic
    reconciliation). An incremental run starts from the last *finished* run, so pages a
    failed run never read, and messages older than ones webhooks stored since, are still
    read (see smsapp.services.sync.incremental_start).

    At most one run is queued or running at a time, across every process: `active` is
    True only then (claim_run sets it), and unique (NULLs are not compared), so a second
    such run cannot even be created (smsapp.services.sync.claim_run)."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"

    started_at = models.DateTimeField(default=timezone.now, help_text="When it was asked for.")
    finished_at = models.DateTimeField(null=True, blank=True, help_text="Empty if it failed.")
    full = models.BooleanField(default=False)
    since = models.DateField(null=True, blank=True, help_text="Messages sent on or after.")
    pages = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    active = models.BooleanField(null=True, default=None, unique=True, editable=False)
    # Moves on with every page written: a run that stopped moving has lost its process.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at"]
        permissions = [("sync_twilio", "Can bring the mirror up to date from Twilio")]

    def __str__(self) -> str:
        return f"sync of {self.started_at:%Y-%m-%d %H:%M} ({self.state})"

    def to_dict(self) -> dict[str, Any]:
        """sync/<id>: its state, the counts so far and the error sentence."""
        return {
            "id": self.pk,
            "state": self.state,
            "url": reverse("smsapp:sync_run", args=[self.pk]),
            "full": self.full,
            "since": self.since.isoformat() if self.since else None,
            "startedAt": _iso(self.started_at),
            "finishedAt": _iso(self.finished_at),
            "pages": self.pages,
            **{kind: self.counts.get(kind) for kind in ("phones", "messages", "media")},
            "error": self.error or None,
        }
