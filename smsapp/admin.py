"""The back office: the mirror read-only where Twilio is the source of truth, the
auto-reply rules editable."""

from django.contrib import admin

from smsapp.models import AutoReplyRule, Media, Message, Phone, StatusEvent


@admin.register(Phone)
class PhoneAdmin(admin.ModelAdmin):
    list_display = ["phone_number", "friendly_name", "sms", "mms", "voice", "status", "sms_url"]
    list_filter = ["sms", "mms", "voice", "status"]
    search_fields = ["sid", "phone_number", "friendly_name"]
    readonly_fields = ["sid", "synced_at"]


class MediaInline(admin.TabularInline):
    model = Media
    fields = ["sid", "content_type", "uri", "file"]
    readonly_fields = ["sid", "content_type", "uri", "file"]
    extra = 0
    can_delete = False


class StatusEventInline(admin.TabularInline):
    model = StatusEvent
    fields = ["received_at", "status", "error_code", "error_message"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["sid", "date_created", "direction", "from_number", "to_number", "status"]
    list_filter = ["direction", "status", "from_number", "to_number"]
    search_fields = ["=sid", "from_number", "to_number", "body"]
    date_hierarchy = "date_created"
    readonly_fields = ["sid", "account_sid", "messaging_service_sid"]
    inlines = [MediaInline, StatusEventInline]
    show_full_result_count = False  # a COUNT(*) over a large mirror on every page is slow


@admin.register(StatusEvent)
class StatusEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "message_sid", "status", "error_code"]
    list_filter = ["status"]
    search_fields = ["=message__sid"]
    date_hierarchy = "received_at"
    readonly_fields = ["message_sid", "status", "error_code", "error_message", "payload"]
    fields = readonly_fields
    show_full_result_count = False

    @admin.display(description="message SID", ordering="message")
    def message_sid(self, event: StatusEvent) -> str:
        return event.message_id  # the SID itself; the message may not be mirrored yet

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AutoReplyRule)
class AutoReplyRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "priority", "match_kind", "pattern", "reply_text", "is_active"]
    list_editable = ["priority", "is_active"]
    list_filter = ["is_active", "match_kind"]
    search_fields = ["name", "pattern", "reply_text"]
