"""What the app keeps about Canvas: the launch tokens that have opened the page, the
patient directory (patients, their mobile numbers, staff's links of other numbers to
them), and the texts on their way into charts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import models
from django.db.models import Value
from django.utils import timezone

from smsapp.lib.launch import LAUNCH_LEEWAY

# Canvas staff become Django users named after their Canvas staff id, so an administrator
# can find (and switch off) them in the admin, and a text they sent names them in the chart.
CANVAS_USERNAME_PREFIX = "canvas-"


class LaunchTokenUseQuerySet(models.QuerySet):
    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete the rows of tokens past their expiry (and the leeway): the signature
        check refuses those tokens by itself. Returns how many were deleted."""
        stale = (now or timezone.now()) - timedelta(seconds=LAUNCH_LEEWAY + 60)
        return self.filter(expires_at__lt=stale).delete()[0]


class LaunchTokenUse(models.Model):
    """A Canvas launch token that has opened the page: its `jti` may not open it again.

    Kept until the token's own expiry has passed; a periodic job then removes it
    (smsapp.tasks.purge_launch_tokens)."""

    jti = models.CharField("token id", max_length=64, unique=True)
    staff_id = models.CharField(max_length=64)
    patient_id = models.CharField(max_length=64)
    used_at = models.DateTimeField()
    # Indexed for purge_expired.
    expires_at = models.DateTimeField(db_index=True)

    objects = LaunchTokenUseQuerySet.as_manager()

    class Meta:
        ordering = ["-used_at"]

    def __str__(self) -> str:
        return f"{self.jti} (staff {self.staff_id}, patient {self.patient_id})"


# --- the patient directory (docs/canvas.md) --------------------------------------------------


class CanvasPatient(models.Model):
    """A Canvas patient as the plugin last described them: pushed on every change in the
    chart (POST canvas/directory), read in full by `manage.py sync_canvas_directory`, and
    fetched at each launch from their chart."""

    patient_id = models.CharField("Canvas patient id", max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    active = models.BooleanField(default=True)
    as_of = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When Canvas described them so (an older entry is ignored).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "patient_id"]

    def __str__(self) -> str:
        return f"{self.name or 'unnamed patient'} ({self.patient_id})"

    def to_dict(self) -> dict[str, str]:
        return {"id": self.patient_id, "name": self.name}


class PatientNumber(models.Model):
    """A mobile number in a patient's chart, and whether the chart says they opted out."""

    patient = models.ForeignKey(CanvasPatient, on_delete=models.CASCADE, related_name="numbers")
    # Indexed: every listing looks its counterparts up here.
    number = models.CharField(max_length=20, db_index=True)
    opted_out = models.BooleanField(default=False)
    rank = models.PositiveSmallIntegerField(default=0, help_text="Its order in the chart.")

    class Meta:
        ordering = ["patient", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "number"], name="patient_number_once")
        ]

    def __str__(self) -> str:
        return f"{self.number} of {self.patient.patient_id}"


class Owners(NamedTuple):
    """Whose a number is: `patients`, the charts that list it (and the patient staff
    linked it to); `linked`, the one it is linked to: staff's choice, else the only chart
    that lists it (a number several charts share, a parent's phone, links to none until
    staff choose); `by_staff`, whether staff chose it."""

    patients: list[CanvasPatient]
    linked: CanvasPatient | None
    by_staff: bool


class NumberLinkQuerySet(models.QuerySet):
    def patients_of(self, numbers: list[str]) -> dict[str, Owners]:
        """The Owners of each of `numbers`: one query (the charts' numbers and staff's
        links, with their patients, as one UNION), since every inbox page asks."""
        fields = (
            "number",
            "patient_id",
            "patient__patient_id",
            "patient__name",
            "patient__time_zone",
        )
        charts = PatientNumber.objects.filter(number__in=numbers, patient__active=True)
        links = self.filter(number__in=numbers)
        rows = (  # no ORDER BY on either side: a UNION refuses them
            charts.order_by()
            .annotate(staff=Value(False))
            .values_list(*fields, "staff")
            .union(
                links.order_by().annotate(staff=Value(True)).values_list(*fields, "staff"), all=True
            )
        )
        found: dict[str, list[CanvasPatient]] = {number: [] for number in numbers}
        chosen: dict[str, CanvasPatient] = {}
        for number, pk, patient_id, name, time_zone, staff in rows:
            patient = CanvasPatient(pk=pk, patient_id=patient_id, name=name, time_zone=time_zone)
            if staff:
                chosen[number] = patient
            else:
                found[number].append(patient)
        answer = {}
        for number, patients in found.items():
            patients.sort(key=lambda p: (p.name, p.patient_id))
            linked = chosen.get(number) or (patients[0] if len(patients) == 1 else None)
            if linked and linked.pk not in {p.pk for p in patients}:
                patients.append(linked)  # a number no chart lists
            answer[number] = Owners(patients, linked, number in chosen)
        return answer

    def patient_id_of(self, number: str) -> str:
        """The id of the patient `number` is linked to, or ""."""
        linked = self.patients_of([number])[number].linked
        return linked.patient_id if linked else ""


class NumberLink(models.Model):
    """Staff's choice of the patient a number belongs to: a number no chart has (the
    patient texted from another phone) or one several charts share. Removing it undoes it."""

    number = models.CharField(max_length=20, unique=True)
    patient = models.ForeignKey(CanvasPatient, on_delete=models.CASCADE, related_name="links")
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    linked_at = models.DateTimeField(default=timezone.now)

    objects = NumberLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-linked_at"]

    def __str__(self) -> str:
        return f"{self.number} → {self.patient.patient_id}"


class ChartRecord(models.Model):
    """A text of a linked patient to be created in their chart (the plugin's POST record),
    once per message SID: retried with growing pauses until the plugin accepts it."""

    class State(models.TextChoices):
        PENDING = "pending"
        RECORDED = "recorded"
        SKIPPED = "skipped", "skipped (no longer linked, or never sent)"

    message_sid = models.CharField("message SID", max_length=34, unique=True)
    # Indexed: a number linked again takes its skipped texts up again (services.chart).
    number = models.CharField("patient's number", max_length=20, db_index=True)
    patient_id = models.CharField(
        "Canvas patient id", max_length=64, blank=True, help_text="The chart it went to."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When a worker may take it next: due now, after a pause, or when a taker's lease ends.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    error = models.TextField(blank=True, help_text="Why the last attempt failed.")
    created_at = models.DateTimeField(auto_now_add=True)
    recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="chart_record_due",
                condition=models.Q(state="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_sid} → chart of {self.patient_id} ({self.state})"
