"""The patient directory as Canvas described it, staff's links of numbers to patients, and
the texts on their way into charts: all read-only here (the plugin and the page change
them; a link is made or undone from a conversation, where it is audited)."""

from django.contrib import admin

from smsapp.admin.base import ReadOnlyAdmin
from smsapp.models import CanvasPatient, ChartRecord, NumberLink, PatientNumber


class PatientNumberInline(admin.TabularInline):
    model = PatientNumber
    fields = ["number", "opted_out", "rank"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CanvasPatient)
class CanvasPatientAdmin(ReadOnlyAdmin):
    list_display = ["name", "patient_id", "time_zone", "active", "as_of"]
    list_filter = ["active"]
    search_fields = ["name", "patient_id", "=numbers__number"]
    inlines = [PatientNumberInline]


@admin.register(NumberLink)
class NumberLinkAdmin(ReadOnlyAdmin):
    list_display = ["number", "patient", "linked_by", "linked_at"]
    list_select_related = ["patient", "linked_by"]
    search_fields = ["number", "patient__patient_id", "patient__name"]


@admin.register(ChartRecord)
class ChartRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "message_sid",
        "number",
        "patient_id",
        "state",
        "attempts",
        "next_attempt_at",
        "error",
    ]
    list_filter = ["state"]
    search_fields = ["=message_sid", "=number", "=patient_id"]
