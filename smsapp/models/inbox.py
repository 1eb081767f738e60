"""The inbox: one Conversation per pair (our number, counterpart), and per-number counters.

The inbox reads only these tables, never the messages: a conversation holds what its row in
the list needs (the newest message, the unread count, "needs a reply", who read it last),
and InboxCounter holds what the unread badge needs. smsapp.services.inbox keeps both
current in the same transaction as every write to the pair's messages; the rules for what
a message does to its conversation are here, as plain methods tests call directly.

Every "newer" in here compares (date_created, Message.id), the order every message list
and thread of the app is read in, so the conversation's newest message is the thread's
last bubble.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from smsapp.lib.keywords import Keyword, keyword_of
from smsapp.models.mirror import Message

Key = tuple[datetime, int]  # (date_created, Message.id)


def asks_for_no_reply(body: str) -> bool:
    """Whether an inbound text needs no answer from staff: an opt-out keyword, read as
    Twilio reads it (smsapp.lib.keywords), which Twilio answers itself and after which
    the patient may not be texted."""
    return keyword_of(body) == Keyword.OPT_OUT


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _key(at: datetime | None, message_id: int | None) -> Key | None:
    return None if at is None or message_id is None else (at, message_id)


def _newer(key: Key, than: Key | None) -> bool:
    return than is None or key > than


def _at_and_id(message: dict[str, Any] | None) -> tuple[datetime | None, int | None]:
    return (message["date_created"], message["id"]) if message else (None, None)


class Conversation(models.Model):
    """Everything staff said to and heard from one number through one of ours.
    `version` counts its changes (1 once stored)."""

    our_number = models.CharField(max_length=64)
    counterpart = models.CharField(max_length=64)
    # The newest message, as the list shows it.
    last_message_id = models.BigIntegerField(help_text="Message.id: breaks ties in time.")
    last_sid = models.CharField("newest message SID", max_length=34)
    last_direction = models.CharField(max_length=16, choices=Message.Direction.choices)
    last_body = models.CharField(max_length=Message.SUMMARY_BODY_CHARS, blank=True)
    last_status = models.CharField(max_length=24, blank=True)
    last_media = models.PositiveIntegerField(default=0)
    last_at = models.DateTimeField("newest activity", help_text="The newest message's creation.")
    # "Needs a reply": the newest inbound message, and the newest staff-sent one.
    patient_at = models.DateTimeField(null=True, blank=True)
    patient_message_id = models.BigIntegerField(null=True, blank=True)
    patient_asks = models.BooleanField(
        default=False, help_text="The newest inbound text is not an opt-out keyword."
    )
    staff_at = models.DateTimeField(null=True, blank=True)
    staff_message_id = models.BigIntegerField(null=True, blank=True)
    needs_reply = models.BooleanField(default=False)
    # Read: unread counts inbound texts mirrored since staff last read it; `seen` is the
    # newest message the page had shown them then.
    unread = models.PositiveIntegerField(default=0)
    seen_at = models.DateTimeField(null=True, blank=True)
    seen_message_id = models.BigIntegerField(null=True, blank=True)
    last_read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_read_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["our_number", "-last_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["our_number", "counterpart"], name="conversation_unique_pair"
            ),
        ]
        # conversations/<our_number> (smsapp.services.inbox.conversation_page): one index
        # range per filter, newest activity first, keyset-paged on (last_at, id).
        indexes = [
            models.Index(fields=["our_number", "-last_at", "-id"], name="conversation_newest"),
            models.Index(
                fields=["our_number", "-last_at", "-id"],
                condition=Q(unread__gt=0),
                name="conversation_unread",
            ),
            models.Index(
                fields=["our_number", "-last_at", "-id"],
                condition=Q(needs_reply=True),
                name="conversation_needs_reply",
            ),
            # A status callback changes only the conversation whose newest message it is.
            models.Index(fields=["last_sid"], name="conversation_last_sid"),
            # A session limited to one patient: that patient's conversations on any number.
            models.Index(fields=["counterpart"], name="conversation_counterpart"),
        ]

    def __str__(self) -> str:
        return f"{self.our_number} ↔ {self.counterpart}"

    # --- the rules: what a message does to its conversation ------------------------------

    @staticmethod
    def pair_of(direction: str, from_number: str, to_number: str) -> tuple[str, str]:
        """(our number, counterpart) of a message: inbound texts come to us."""
        if direction == Message.Direction.INBOUND:
            return to_number, from_number
        return from_number, to_number

    @classmethod
    def started_by(cls, message: dict[str, Any]) -> Conversation:
        """A conversation not stored yet whose newest message is `message`, with nothing
        else taken from it: take() counts it."""
        our_number, counterpart = cls.pair_of(
            message["direction"], message["from_number"], message["to_number"]
        )
        conversation = cls(our_number=our_number, counterpart=counterpart)
        conversation.show_last(message)
        return conversation

    @property
    def last_key(self) -> Key:
        return (self.last_at, self.last_message_id)

    @property
    def patient_key(self) -> Key | None:
        return _key(self.patient_at, self.patient_message_id)

    @property
    def staff_key(self) -> Key | None:
        return _key(self.staff_at, self.staff_message_id)

    @property
    def seen_key(self) -> Key | None:
        return _key(self.seen_at, self.seen_message_id)

    def show_last(self, message: dict[str, Any]) -> None:
        """Make `message` the newest message the list shows."""
        self.last_message_id = message["id"]
        self.last_sid = message["sid"]
        self.last_direction = message["direction"]
        self.last_body = message["body"][: Message.SUMMARY_BODY_CHARS]
        self.last_status = message["status"]
        self.last_media = message["num_media"]
        self.last_at = message["date_created"]

    def take(self, message: dict[str, Any]) -> None:
        """Fold in a message of this pair that was just mirrored (its first time here).

        An inbound text is unread, and asks for a reply unless it is an opt-out keyword;
        a staff-sent text (outbound-api: sends and scheduled sends) answers every inbound
        text before it. Auto-replies (outbound-reply) answer nothing. Messages may arrive
        in any order (a sync reads newest first): only a newer one replaces what is kept.
        """
        key = (message["date_created"], message["id"])
        if key > self.last_key:
            self.show_last(message)
        inbound = message["direction"] == Message.Direction.INBOUND
        if inbound:
            self.unread += 1
        if inbound and _newer(key, self.patient_key):
            self.keep_patient(message)
        elif message["direction"] == Message.Direction.OUTBOUND_API and _newer(key, self.staff_key):
            self.keep_staff(message)
        self.needs_reply = self.answer_due()

    def keep_patient(self, message: dict[str, Any] | None) -> None:
        """`message` is the newest inbound text (None: there is none)."""
        self.patient_at, self.patient_message_id = _at_and_id(message)
        self.patient_asks = message is not None and not asks_for_no_reply(message["body"])

    def keep_staff(self, message: dict[str, Any] | None) -> None:
        """`message` is the newest staff-sent text (None: there is none)."""
        self.staff_at, self.staff_message_id = _at_and_id(message)

    def answer_due(self) -> bool:
        """The newest inbound text asks for a reply and no staff-sent text came after it."""
        patient, staff = self.patient_key, self.staff_key
        return self.patient_asks and patient is not None and (staff is None or staff < patient)

    def counted_unread(self, key: Key) -> bool:
        """Whether an inbound message with this key is among the unread: newer than what
        the page showed when staff last read the conversation."""
        return _newer(key, self.seen_key)

    # --- the shapes ---------------------------------------------------------------------

    # The columns a list item needs, read with .values() as message lists do.
    ITEM_FIELDS = (
        "id", "counterpart", "last_sid", "last_direction", "last_body", "last_status",
        "last_media", "last_at", "unread", "needs_reply", "last_read_at",
        "last_read_by__username",
    )  # fmt: skip

    @staticmethod
    def item(row: dict[str, Any]) -> dict[str, Any]:
        """conversations/<our_number>'s item. `name`, `patientId`, `patients` and
        `staffLink` are set by smsapp.services.directory.mark_patients, `optedOut` by
        consent.mark_opted_out."""
        direction = row["last_direction"]
        read_by = row["last_read_by__username"]
        return {
            "counterpart": row["counterpart"],
            "name": None,
            "patientId": None,
            "patients": [],
            "staffLink": False,
            "unread": row["unread"],
            "needsReply": row["needs_reply"],
            "optedOut": False,
            "lastMessage": {
                "sid": row["last_sid"],
                "direction": "inbound" if direction == Message.Direction.INBOUND else "outbound",
                "autoReply": direction == Message.Direction.OUTBOUND_REPLY,
                "body": row["last_body"],
                "mediaCount": row["last_media"],
                "status": row["last_status"],
                "sent": _iso(row["last_at"]),
            },
            "lastRead": (
                {"by": read_by, "at": _iso(row["last_read_at"])} if row["last_read_at"] else None
            ),
        }


class InboxCounter(models.Model):
    """Per number of ours: how many of its conversations have unread texts and how many
    need a reply, kept current with every change to them (smsapp.services.inbox), so the
    unread badge reads one row per number instead of counting conversations. `version`
    moves with every change to any of the number's conversations: the list's ETag, and
    what the page's poll watches."""

    our_number = models.CharField(max_length=64, unique=True)
    # Plain integers: the upsert that adds a change's deltas proposes them as a new row
    # first, and a delta may be negative (smsapp.services.inbox._bump_counters).
    unread = models.IntegerField(default=0, help_text="Conversations with unread texts.")
    needs_reply = models.IntegerField(default=0, help_text="Conversations needing a reply.")
    version = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["our_number"]

    def __str__(self) -> str:
        return f"{self.our_number}: {self.unread} unread, {self.needs_reply} to answer"
