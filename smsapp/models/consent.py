"""Whether a patient may be texted: their consent now, and every change to it.

A patient who texted STOP must not be texted (TCPA; carriers and Twilio enforce it with
error 21610). Each change is a ConsentEvent (the keyword message, Twilio's refusal, the
Canvas chart, or staff with a note); the state it leads to is kept on Consent rows, which
every send reads (smsapp.services.consent).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.db import models
from django.db.models import Q

ALL_NUMBERS = ""  # Consent.our_number of the clinic-wide state (CONSENT_SCOPE=account)


def _pretty(number: str) -> str:
    """+14155550100 as "+1 415 555 0100", as the page writes numbers; anything else
    unchanged."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    spaced = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return spaced.replace("-", " ")


class ConsentEvent(models.Model):
    """One change of a patient's consent, never edited or deleted: the history."""

    class Source(models.TextChoices):
        KEYWORD = "keyword", "the patient's text"
        TWILIO = "twilio_21610", "Twilio 21610"
        CANVAS = "canvas", "the Canvas chart"
        STAFF = "staff", "staff, with a note"

    at = models.DateTimeField(help_text="When it changed (the keyword's arrival).")
    patient_number = models.CharField(max_length=20, help_text="E.164, such as +14155550123.")
    our_number = models.CharField(
        max_length=20, blank=True, help_text="The clinic's number it concerns; empty: all of them."
    )
    opted_out = models.BooleanField(help_text="Opted out (true) or back in (false).")
    source = models.CharField(max_length=16, choices=Source.choices)
    keyword = models.CharField(max_length=32, blank=True, help_text="The word, as read.")
    message_sid = models.CharField(
        "message SID", max_length=34, blank=True, help_text="The keyword message, or the send."
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            # One event per message: a keyword text seen twice (a retried webhook, a sync),
            # or two status callbacks reporting one send's 21610.
            models.UniqueConstraint(
                fields=["source", "message_sid"],
                condition=~Q(message_sid=""),
                name="consentevent_once_per_message",
            ),
        ]
        indexes = [
            # The admin's history of one number, newest first.
            models.Index(fields=["patient_number", "-at"], name="consentevent_patient"),
        ]

    def __str__(self) -> str:
        change = "opted out" if self.opted_out else "opted in"
        return f"{self.patient_number} {change} at {self.at:%Y-%m-%d %H:%M} ({self.source})"

    def how(self) -> str:
        """How it happened, as the end of a sentence ("by texting STOP to …")."""
        ours = _pretty(self.our_number)
        match self.source:
            case self.Source.KEYWORD:
                word = self.keyword or ("STOP" if self.opted_out else "START")
                return f"by texting {word} to {ours}" if ours else f"by texting {word}"
            case self.Source.TWILIO:
                return f"as Twilio reported when it refused a text from {ours} (error 21610)"
            case self.Source.CANVAS:
                return "as recorded in their Canvas chart"
        who = self.recorded_by.get_username() if self.recorded_by else "staff"
        return f"as recorded by {who}: “{self.note}”" if self.note else f"as recorded by {who}"

    def when(self) -> str:
        """The time in the clinic's zone, for sentences: "on Tue 3 Nov 2026 at 14:05"."""
        local = self.at.astimezone(ZoneInfo(settings.TIME_ZONE))
        return f"on {local:%a} {local.day} {local:%b %Y at %H:%M}"


class Consent(models.Model):
    """A patient number's consent now: for one of the clinic's numbers (CONSENT_SCOPE=number)
    or for all of them (`our_number` empty, CONSENT_SCOPE=account). Every event updates
    both, so changing the scope loses nothing. A number without a row may be texted.

    A send reads (and on PostgreSQL locks) the row of its scope; smsapp.services.consent
    says why."""

    patient_number = models.CharField(max_length=20)
    our_number = models.CharField(
        max_length=20, blank=True, help_text="Empty: every number of the clinic."
    )
    opted_out = models.BooleanField(default=False)
    event = models.ForeignKey(
        ConsentEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["patient_number", "our_number"]
        verbose_name_plural = "consent"
        constraints = [
            # Also the index of every lookup: one patient (or a page of them) in one scope.
            models.UniqueConstraint(
                fields=["patient_number", "our_number"], name="consent_one_per_scope"
            ),
        ]

    def __str__(self) -> str:
        state = "opted out" if self.opted_out else "may be texted"
        return f"{self.patient_number} ({self.our_number or 'all numbers'}): {state}"

    def information(self, *, refused: bool = False) -> str:
        """When and how the patient opted out, and how they can opt back in; `refused`:
        as the answer to a send that was not made."""
        if not self.opted_out:
            return "This patient may be texted: no opt-out is recorded."
        event = self.event
        when_how = f" {event.when()} {event.how()}" if event else ""
        start = "Not sent: this patient" if refused else "This patient"
        if event and event.source == ConsentEvent.Source.CANVAS:
            return f"{start} opted out of texts{when_how}. Clear it there to text them again."
        return f"{start} opted out of texts{when_how}. They can text START to opt back in."

    def to_dict(self) -> dict[str, Any]:
        """consent/<number>: the state, the sentence, and the event behind it."""
        event = self.event
        return {
            "number": self.patient_number,
            "scope": "account" if self.our_number == ALL_NUMBERS else "number",
            "optedOut": self.opted_out,
            "information": self.information(),
            "since": event.at.isoformat() if event and self.opted_out else None,
            "source": event.source if event and self.opted_out else None,
        }
