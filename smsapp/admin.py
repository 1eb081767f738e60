"""The back office: the mirror read-only where Twilio is the source of truth, the
auto-reply rules and message templates editable (each change in the audit trail),
scheduled sends and unknown-outcome sends to look at (the page and the jobs change them),
patients' consent and its history (staff add a change with a note), and the audit trail,
read-only for everyone. Background jobs, with a failed one's error, are
django-tasks-db's own admin ("Task results")."""

import re
from contextlib import suppress
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from smsapp.lib import validation
from smsapp.lib.errors import InvalidInput
from smsapp.models import (
    AuditEvent,
    AutoReplyRule,
    Consent,
    ConsentEvent,
    Media,
    Message,
    MessageTemplate,
    Phone,
    ScheduledMessage,
    SendAttempt,
    StatusEvent,
    SyncRun,
)
from smsapp.services import audit, consent

Action = AuditEvent.Action


class MirrorAdmin(admin.ModelAdmin):
    """Twilio is the source of truth for the mirror: an edit here would be overwritten by
    the next sync_twilio, or kept and shown as if Twilio had said it. Rows can be viewed
    and deleted (a later sync reads them again), except messages: see MessageAdmin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


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


class AuditedAdmin(admin.ModelAdmin):
    """Every add, change (the form's or the list's) and delete in the audit trail, in the
    transaction of the write (target: the row's id). `audit_actions`: the created,
    changed and deleted actions."""

    audit_actions: tuple[str, str, str]

    def save_model(self, request, obj, form, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if not change or form.has_changed():
                action = self.audit_actions[1 if change else 0]
                audit.record(action, target=str(obj.pk), request=request)

    def delete_model(self, request, obj) -> None:
        pk = obj.pk
        with transaction.atomic():
            super().delete_model(request, obj)
            audit.record(self.audit_actions[2], target=str(pk), request=request)

    def delete_queryset(self, request, queryset: QuerySet) -> None:
        """The list's "delete selected": one entry per row."""
        with transaction.atomic():
            pks = list(queryset.values_list("pk", flat=True))
            super().delete_queryset(request, queryset)
            for pk in pks:
                audit.record(self.audit_actions[2], target=str(pk), request=request)


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


@admin.register(SyncRun)
class SyncRunAdmin(MirrorAdmin):
    """When the mirror was last brought up to date, and why a run failed."""

    list_display = ["started_at", "state", "finished_at", "full", "since", "pages", "error"]
    list_filter = ["state", "full"]
    date_hierarchy = "started_at"
    show_full_result_count = False


@admin.register(MessageTemplate)
class MessageTemplateAdmin(AuditedAdmin):
    """Quick replies; saving one with a placeholder the app cannot fill is refused
    (MessageTemplate.clean)."""

    list_display = ["name", "body", "updated_at"]
    search_fields = ["name", "body"]
    audit_actions = (Action.TEMPLATE_CREATED, Action.TEMPLATE_CHANGED, Action.TEMPLATE_DELETED)


class ReadOnlyAdmin(MirrorAdmin):
    """Records the page and the jobs change (their state is what exactly-once rests on):
    shown, never added, edited or deleted here."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


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


# --- consent ------------------------------------------------------------------------------


class ByPatientNumber:
    """Consent records, found by a patient's number however it is typed ("+1 (415)
    555-0199", "4155550199": its digits, anywhere in the stored E.164), and the numbers
    of ours they concern."""

    search_fields = ["patient_number"]  # shows the search box; see get_search_results

    def get_search_results(self, request, queryset: QuerySet, search_term: str):
        digits = re.sub(r"\D", "", search_term)
        if not digits:
            return queryset, False
        return queryset.filter(patient_number__contains=digits), False

    @admin.display(description="for texts from", ordering="our_number")
    def for_numbers(self, record: Consent | ConsentEvent) -> str:
        return record.our_number or "all numbers"


class ConsentEventForm(forms.ModelForm):
    """Staff recording consent given on paper or by phone (or withdrawn): always with a
    note saying how."""

    opted_out = forms.TypedChoiceField(
        label="Change",
        choices=[
            (False, "Opted in: the patient agreed to receive texts"),
            (True, "Opted out: do not text this patient"),
        ],
        coerce=lambda value: value == "True",
        widget=forms.RadioSelect,
    )
    our_number = forms.ChoiceField(
        label="For texts from",
        required=False,
        help_text="With CONSENT_SCOPE=account (the default) a change applies to every number.",
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="How the patient gave or withdrew consent, e.g. “Signed the SMS consent form "
        "at the front desk, 3 Dec”. A patient who texted STOP stays blocked by Twilio until "
        "they text START, whatever is recorded here.",
    )

    class Meta:
        model = ConsentEvent
        fields = ["patient_number", "our_number", "opted_out", "note"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "our_number" in self.fields:  # adding; an event itself is only shown
            self.fields["our_number"].choices = [("", "All of the clinic's numbers")] + [
                (phone.phone_number, str(phone)) for phone in Phone.objects.all()
            ]

    def clean_patient_number(self) -> str:
        try:
            return validation.e164(
                self.cleaned_data["patient_number"], field="patient_number", label="The number"
            )
        except InvalidInput as problem:
            raise forms.ValidationError(problem.information) from None


@admin.register(ConsentEvent)
class ConsentEventAdmin(ByPatientNumber, admin.ModelAdmin):
    """The history: every change of every patient's consent, never edited or deleted.
    "Add" records staff's change, with a note (smsapp.services.consent.record_by_staff)."""

    form = ConsentEventForm
    list_display = ["at", "patient_number", "for_numbers", "change", "source", "recorded_by"]
    list_filter = ["opted_out", "source"]
    list_select_related = ["recorded_by"]
    date_hierarchy = "at"
    show_full_result_count = False

    @admin.display(description="change", ordering="opted_out")
    def change(self, event: ConsentEvent) -> str:
        return "Opted out" if event.opted_out else "Opted in"

    def get_fields(self, request, obj=None) -> list[str]:
        if obj is None:
            return ConsentEventForm.Meta.fields
        return ["at", "patient_number", "our_number", "opted_out", "source", "keyword",
                "message_sid", "recorded_by", "note"]  # fmt: skip

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return self.get_fields(request, obj) if obj is not None else []

    def save_model(self, request, obj: ConsentEvent, form, change: bool) -> None:
        event = consent.record_by_staff(
            patient_number=obj.patient_number,
            our_number=obj.our_number,
            opted_out=obj.opted_out,
            note=obj.note,
            user=request.user,
            actor=audit.Actor.of(request),
        )
        obj.pk, obj.at, obj.source = event.pk, event.at, event.source

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Consent)
class ConsentAdmin(ByPatientNumber, admin.ModelAdmin):
    """Who may be texted now: one row per patient number and scope (CONSENT_SCOPE picks
    which one sends read), with the number's history. Changed only by events."""

    list_display = ["patient_number", "for_numbers", "state", "since", "how"]
    list_filter = ["opted_out"]
    list_select_related = ["event__recorded_by"]
    fields = ["patient_number", "for_numbers", "state", "since", "how", "history"]
    readonly_fields = fields
    show_full_result_count = False

    def get_queryset(self, request) -> QuerySet:
        # Rows without an event exist only for sends to lock (services.consent).
        return super().get_queryset(request).filter(event__isnull=False)

    @admin.display(description="state", ordering="opted_out")
    def state(self, row: Consent) -> str:
        return "Opted out" if row.opted_out else "May be texted"

    @admin.display(description="since", ordering="event__at")
    def since(self, row: Consent):
        return row.event.at if row.event else None

    @admin.display(description="how")
    def how(self, row: Consent) -> str:
        return row.event.how() if row.event else ""

    @admin.display(description="history of this number")
    def history(self, row: Consent) -> str:
        events = ConsentEvent.objects.filter(patient_number=row.patient_number).select_related(
            "recorded_by"
        )[:50]
        record = (
            reverse("admin:smsapp_consentevent_add")
            + "?"
            + urlencode({"patient_number": row.patient_number})
        )
        rows = format_html_join(
            "",
            "<li>{}: {} {}</li>",
            (
                (
                    date_format(timezone.localtime(e.at), "DATETIME_FORMAT"),
                    "opted out" if e.opted_out else "opted in",
                    e.how(),
                )
                for e in events
            ),
        )
        return format_html(
            '<ul>{}</ul><a href="{}">Record consent or an opt-out…</a>', rows, record
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- the audit trail ----------------------------------------------------------------------


class ActorFilter(admin.SimpleListFilter):
    """Jobs, Twilio, the Canvas plugin, no one signed in, or one user: from the users
    table, not a DISTINCT over every audit event on each page load."""

    title = "actor"
    parameter_name = "actor"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        users = get_user_model().objects.order_by("username").values_list("username", flat=True)
        return [(name, name) for name in (*AuditEvent.MACHINES, *users)]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        return queryset.filter(actor=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Who did what: read-only for everyone, superusers included (the database refuses
    changes anyway). Seen by superusers only, like its export (/audit/export.csv)."""

    list_display = ["at", "actor", "action", "target", "patient", "ip", "request_id"]
    list_filter = [ActorFilter, "action", ("at", admin.DateFieldListFilter)]
    search_fields = ["=target"]  # shows the search box; see get_search_results
    search_help_text = "A message SID, a patient's number, an id, or a Canvas patient id."
    show_full_result_count = False

    def get_search_results(self, request, queryset: QuerySet, search_term: str):
        """An exact match on target or patient, which their indexes answer; a phone
        number may be typed as people write it."""
        term = search_term.strip()
        if not term:
            return queryset, False
        with suppress(InvalidInput):  # else a SID, an id, a Canvas patient id
            term = validation.e164(term, field="q", label="The number", strict=False)
        return queryset.filter(Q(target=term) | Q(patient=term)), False
