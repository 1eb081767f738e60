"""What the app sends: auto-reply rules and templates staff edit (each change in the
audit trail), and scheduled texts and sends whose outcome was unknown, to look at."""

from django.contrib import admin
from django.db import models

from smsapp.admin.base import AuditedAdmin, ReadOnlyAdmin
from smsapp.models import AuditEvent, AutoReplyRule, MessageTemplate, ScheduledMessage, SendAttempt

Action = AuditEvent.Action


@admin.register(AutoReplyRule)
class AutoReplyRuleAdmin(AuditedAdmin):
    list_display = [
        "name", "priority", "match_kind", "pattern", "reply_text", "only_outside_office_hours",
        "is_active",
    ]  # fmt: skip
    list_editable = ["priority", "is_active"]
    list_filter = ["is_active", "match_kind", "only_outside_office_hours"]
    search_fields = ["name", "pattern", "reply_text"]
    # A reply's picture is fetched by Twilio over the internet: https unless typed otherwise.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    audit_actions = (Action.RULE_CREATED, Action.RULE_CHANGED, Action.RULE_DELETED)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(AuditedAdmin):
    """Quick replies; saving one with a placeholder the app cannot fill is refused
    (MessageTemplate.clean)."""

    list_display = ["name", "body", "updated_at"]
    search_fields = ["name", "body"]
    audit_actions = (Action.TEMPLATE_CREATED, Action.TEMPLATE_CHANGED, Action.TEMPLATE_DELETED)


@admin.register(ScheduledMessage)
class ScheduledMessageAdmin(ReadOnlyAdmin):
    list_display = [
        "send_at",
        "state",
        "from_number",
        "to_number",
        "created_by",
        "attempts",
        "error",
    ]
    list_filter = ["state"]
    list_select_related = ["created_by"]
    search_fields = ["=to_number", "=from_number", "=message_sid"]
    date_hierarchy = "send_at"
    show_full_result_count = False


@admin.register(SendAttempt)
class SendAttemptAdmin(ReadOnlyAdmin):
    list_display = ["attempted_at", "state", "from_number", "to_number", "message_sid", "checks"]
    list_filter = ["state"]
    search_fields = ["=to_number", "=message_sid"]
