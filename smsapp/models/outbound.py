"""Texts the app sends on staff's behalf outside a request: scheduled sends, and sends
whose outcome is unknown until the app has looked them up on Twilio."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _username(user) -> str | None:
    return user.get_username() if user else None


class ScheduledMessage(models.Model):
    """A text to send at `send_at`, exactly once (smsapp.services.scheduled).

    Its state only moves pending → sending (one worker's conditional UPDATE claims it)
    → sent, failed or unknown; pending → cancelled. A send whose outcome is unknown is
    never tried again: its SendAttempt finds out what Twilio did."""

    class State(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        UNKNOWN = "unknown", "outcome unknown"
        FAILED = "failed"
        CANCELLED = "cancelled"

    # Not an integer: ids appear in URLs (DELETE scheduled/<id>).
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    from_number = models.CharField("from", max_length=20)
    to_number = models.CharField("to", max_length=20)
    body = models.TextField(blank=True)
    media_urls = models.JSONField(default=list, blank=True)
    callback_url = models.CharField(max_length=1024, blank=True)
    send_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="Tries to reach Twilio.")
    message_sid = models.CharField("message SID", max_length=34, blank=True)
    error = models.TextField(
        blank=True, help_text="Why it was not sent, or the last retry's reason."
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(
        default=timezone.now, help_text="When its state last changed."
    )

    class Meta:
        ordering = ["send_at"]
        indexes = [
            # scheduled/<our_number> (services.scheduled.pending): pending, soonest first.
            models.Index(fields=["from_number", "state", "send_at"], name="scheduled_pending"),
            # services.scheduled.recover_stuck: claimed long ago and never finished.
            models.Index(fields=["state", "updated_at"], name="scheduled_state_updated"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.from_number} → {self.to_number} at {self.send_at:%Y-%m-%d %H:%M} ({self.state})"
        )

    def to_dict(self) -> dict[str, Any]:
        """An item of scheduled/<our_number>."""
        return {
            "id": str(self.id),
            "from": self.from_number,
            "to": self.to_number,
            "text": self.body,
            "media": self.media_urls,
            "sendAt": _iso(self.send_at),
            "createdBy": _username(self.created_by),
            "state": self.state,
        }


class SendAttempt(models.Model):
    """A send whose outcome is unknown (Twilio did not answer after the request left):
    what was attempted, so a job can look for it on Twilio and mirror it
    (smsapp.services.lookup). It is never sent again by the app."""

    class State(models.TextChoices):
        CHECKING = "checking"
        FOUND = "found"
        NOT_SENT = "not_sent", "not sent"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    from_number = models.CharField("from", max_length=20)
    to_number = models.CharField("to", max_length=20)
    body = models.TextField(blank=True)
    media_urls = models.JSONField(default=list, blank=True)
    attempted_at = models.DateTimeField(help_text="Just before the request left.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scheduled = models.OneToOneField(
        ScheduledMessage,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="unknown_attempt",
    )
    # Indexed for services.lookup.resolve_from_mirror (the ones still checking).
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.CHECKING, db_index=True
    )
    message_sid = models.CharField("message SID", max_length=34, blank=True)
    checks = models.PositiveIntegerField(default=0, help_text="Lookups on Twilio so far.")
    error = models.TextField(blank=True, help_text="Why the last lookup failed.")
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-attempted_at"]

    def __str__(self) -> str:
        when = f"{self.attempted_at:%Y-%m-%d %H:%M}"
        return f"{self.from_number} → {self.to_number} at {when} ({self.state})"

    SENTENCES = {
        State.CHECKING: (
            "Twilio did not answer in time, so this text may have been sent. Looking it up on "
            "Twilio; the log will show it shortly. Do not send it again yet."
        ),
        State.FOUND: "Twilio did send it; it is in the log now.",
        State.NOT_SENT: ("Twilio has no such message: it was not sent. You may send it again."),
    }

    def to_dict(self) -> dict[str, Any]:
        """send_attempt/<id>, and the unknown-outcome answer of sms_send."""
        return {
            "id": str(self.id),
            "state": self.state,
            "sid": self.message_sid or None,
            "from": self.from_number,
            "to": self.to_number,
            "attemptedAt": _iso(self.attempted_at),
            "information": self.SENTENCES[self.state],
        }
