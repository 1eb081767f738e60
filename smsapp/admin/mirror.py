"""The mirror of the Twilio account, read-only (Twilio is the source of truth), its sync
runs, and the inbox's conversations derived from it."""

from django.contrib import admin
from django.db.models import Q, QuerySet

from smsapp.admin.base import MirrorAdmin, ReadOnlyAdmin
from smsapp.models import Conversation, Media, Message, Phone, StatusEvent, SyncRun


@admin.register(Phone)
class PhoneAdmin(MirrorAdmin):
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


class ClinicNumberFilter(admin.SimpleListFilter):
    """Messages sent from or to one of the clinic's numbers. Listing every distinct
    from/to value instead would offer every patient's number and scan the whole table on
    each page load."""

    title = "clinic number"
    parameter_name = "number"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return [(phone.phone_number, str(phone)) for phone in Phone.objects.all()]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        number = self.value()
        if not number:
            return queryset
        return queryset.filter(Q(from_number=number) | Q(to_number=number))


@admin.register(Message)
class MessageAdmin(MirrorAdmin):
    list_display = ["sid", "date_created", "direction", "from_number", "to_number", "status"]
    list_filter = ["direction", "status", ClinicNumberFilter]
    search_fields = ["=sid", "from_number", "to_number", "body"]
    date_hierarchy = "date_created"
    readonly_fields = ["sid", "account_sid", "messaging_service_sid"]
    inlines = [MediaInline, StatusEventInline]
    show_full_result_count = False  # a COUNT(*) over a large mirror on every page is slow

    def has_delete_permission(self, request, obj=None) -> bool:
        """Deleting here would keep the message on Twilio (the next sync brings it back)
        and its cached pictures in storage; the page's Delete does both properly."""
        return False


@admin.register(StatusEvent)
class StatusEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "message_sid", "status", "error_code"]
    list_filter = ["status"]
    search_fields = ["=message__sid"]  # shows the search box; see get_search_results
    date_hierarchy = "received_at"
    readonly_fields = ["message_sid", "status", "error_code", "error_message", "payload"]
    fields = readonly_fields
    show_full_result_count = False

    @admin.display(description="message SID", ordering="message")
    def message_sid(self, event: StatusEvent) -> str:
        return event.message_id  # the SID itself; the message may not be mirrored yet

    def get_search_results(self, request, queryset: QuerySet, search_term: str):
        """An exact match on the message_sid column: it finds events of messages that
        are not mirrored, and uses the column's index (SIDs are case-sensitive; the
        admin's "=" would compare case-insensitively and scan every event)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(message_id=term), False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(MirrorAdmin):
    """When the mirror was last brought up to date, and why a run failed."""

    list_display = ["started_at", "state", "finished_at", "full", "since", "pages", "error"]
    list_filter = ["state", "full"]
    date_hierarchy = "started_at"
    show_full_result_count = False


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    """What the inbox lists, derived from the messages (smsapp.services.inbox)."""

    list_display = [
        "counterpart",
        "our_number",
        "last_at",
        "unread",
        "needs_reply",
        "last_read_by",
        "last_read_at",
    ]
    list_filter = ["needs_reply", "our_number"]
    list_select_related = ["last_read_by"]
    search_fields = ["=counterpart", "=our_number"]
    show_full_result_count = False
