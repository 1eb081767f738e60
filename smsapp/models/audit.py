"""The audit trail: who sent, read, deleted and changed what (HIPAA's audit controls).

AuditEvent rows are written by smsapp.services.audit.record only, in the same transaction
as the action they record, and never changed: triggers the migration created
(0013_audit_trail, on SQLite and PostgreSQL) refuse every UPDATE, and every DELETE of a
row younger than the retention AuditRetention holds (the purge job sets it from
AUDIT_RETENTION_DAYS before it deletes). A later migration that makes SQLite rebuild the
table (an AlterField of a column; not a new Action, choices live in Python) drops its
triggers with it and must create them again.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class AuditEvent(models.Model):
    """One action on patients' data or the app's set-up. Never a message body, never a
    token: `target` names what was acted on (a message SID, a scheduled text's or send
    attempt's id, a patient's number, a phone SID, a rule's or template's id)."""

    class Action(models.TextChoices):
        MESSAGE_SENT = "message_sent", "message sent"
        # Twilio did not answer a send: it may have gone out (target: the SendAttempt id).
        # "message sent" follows, by `system`, once the lookup finds it.
        MESSAGE_SEND_UNKNOWN = "message_send_unknown", "send attempted, outcome unknown"
        MESSAGE_SCHEDULED = "message_scheduled", "message scheduled"
        SCHEDULED_CANCELLED = "scheduled_cancelled", "scheduled message cancelled"
        MESSAGE_DELETED = "message_deleted", "message deleted"
        CONVERSATION_OPENED = "conversation_opened", "conversation read (opened)"
        MEDIA_VIEWED = "media_viewed", "media viewed"
        CONVERSATION_MARKED_READ = "conversation_marked_read", "conversation marked read"
        WEBHOOK_CHANGED = "webhook_changed", "number's webhook changed"
        RULE_CREATED = "rule_created", "auto-reply rule created"
        RULE_CHANGED = "rule_changed", "auto-reply rule changed"
        RULE_DELETED = "rule_deleted", "auto-reply rule deleted"
        TEMPLATE_CREATED = "template_created", "template created"
        TEMPLATE_CHANGED = "template_changed", "template changed"
        TEMPLATE_DELETED = "template_deleted", "template deleted"
        CONSENT_RECORDED = "consent_recorded", "consent recorded by staff"
        # target: the number; patient: the Canvas patient it was linked to (or unlinked from).
        NUMBER_LINKED = "number_linked", "number linked to a patient"
        NUMBER_UNLINKED = "number_unlinked", "number unlinked from a patient"
        # target: the launch token's id (accepted) or why it was refused ("expired", ...).
        LAUNCH_ACCEPTED = "launch_accepted", "embed launch accepted"
        LAUNCH_REFUSED = "launch_refused", "embed launch refused"
        EXPORT_DOWNLOADED = "export_downloaded", "audit export downloaded"
        SIGNED_IN = "signed_in", "signed in"
        SIGNED_OUT = "signed_out", "signed out"
        SIGN_IN_FAILED = "sign_in_failed", "sign-in failed"  # target: the name typed

    # Actors that are not a user (a user is their username at the time).
    SYSTEM = "system"  # background jobs
    TWILIO = "twilio"  # Twilio's webhooks
    CANVAS_PLUGIN = "canvas-plugin"  # the Canvas plugin, e.g. a launch no one could sign
    ANONYMOUS = "anonymous"  # a request from no one signed in (a failed sign-in)
    MACHINES = (SYSTEM, TWILIO, CANVAS_PLUGIN, ANONYMOUS)

    at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=Action.choices)
    target = models.CharField(max_length=200, blank=True)
    patient = models.CharField(
        max_length=64, blank=True, help_text="The patient's Canvas id, when known."
    )
    ip = models.GenericIPAddressField("IP", null=True, blank=True)
    request_id = models.CharField("request id", max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The admin's list (newest first, the date filter), the export's date range in
            # order, and the retention purge (services.audit).
            models.Index(fields=["at", "id"], name="audit_at"),
            # The admin's search by target or by patient (AuditEventAdmin).
            models.Index(fields=["target"], name="audit_target"),
            models.Index(fields=["patient"], name="audit_patient"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target}"


class AuditRetention(models.Model):
    """One row: how many days an AuditEvent must be kept. The delete trigger reads it at
    run time, so a changed AUDIT_RETENTION_DAYS counts from the next purge on; with no
    row, no audit event can be deleted."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    days = models.PositiveIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="audit_retention_one_row")]

    def __str__(self) -> str:
        return f"audit events kept {self.days} days"
