"""Patients' consent: who may be texted now, and the history of each number; staff
record a change given on paper or by phone, always with a note."""

import re
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from smsapp.lib import validation
from smsapp.lib.errors import InvalidInput
from smsapp.models import Consent, ConsentEvent, Phone
from smsapp.services import audit, consent


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
