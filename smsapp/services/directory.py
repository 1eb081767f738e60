"""The patient directory: who each number belongs to in Canvas (docs/canvas.md).

Entries arrive three ways, all through `apply`: the plugin pushes a patient's entry on
every change in their chart (smsapp.web.canvas), `manage.py sync_canvas_directory` reads
them all (`sync`), and each launch from a chart reads that patient's (`refresh_patient`).
An entry older than the one held is ignored, so a late retry cannot undo a newer change.

What an entry changes beyond the directory: a number the chart flags as opted out is
refused like a STOP (a consent event from the source "canvas"); a number newly linked to a
patient has its texts recorded in their chart (smsapp.services.chart); the inbox's lists
look again, since they show names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, transaction

from smsapp import canvas_gateway
from smsapp.lib import canvas_contract as contract
from smsapp.lib.errors import Forbidden, InvalidInput, NotFound
from smsapp.lib.write_lock import write_lock
from smsapp.lib.zones import zone_of
from smsapp.models import CanvasPatient, Consent, ConsentEvent, NumberLink, PatientNumber
from smsapp.models.consent import ALL_NUMBERS
from smsapp.services import audit, chart, consent, inbox

log = logging.getLogger(__name__)


# --- entries in -------------------------------------------------------------------------------


def apply(as_of: datetime, entries: Iterable[contract.Entry]) -> tuple[int, int]:
    """Store the entries Canvas described at `as_of`; (applied, ignored as older)."""
    entries = list(entries)
    try:
        return _apply(as_of, entries)
    except IntegrityError:  # a push and a launch stored the same new patient at once
        return _apply(as_of, entries)  # the second try finds and locks their row


def _apply(as_of: datetime, entries: list[contract.Entry]) -> tuple[int, int]:
    applied = ignored = 0
    touched: set[str] = set()
    with write_lock(), transaction.atomic():
        for entry in entries:
            numbers = _apply_one(as_of, entry)
            if numbers is None:
                ignored += 1
            else:
                applied += 1
                touched |= numbers
        if touched:
            _numbers_changed(sorted(touched))
    return applied, ignored


def _apply_one(as_of: datetime, entry: contract.Entry) -> set[str] | None:
    """One entry; the numbers whose owners, flags or patient's name changed, or None when
    it is older."""
    patient = CanvasPatient.objects.select_for_update().filter(patient_id=entry.patient_id).first()
    if patient is not None and patient.as_of is not None and patient.as_of > as_of:
        return None
    if patient is None:
        patient = CanvasPatient(patient_id=entry.patient_id)
    renamed = (patient.name, patient.active) != (entry.name, entry.active)
    patient.name, patient.time_zone = entry.name, entry.time_zone
    patient.active, patient.as_of = entry.active, as_of
    patient.save()
    before = {row.number: row.opted_out for row in patient.numbers.all()}
    after = {mobile.number: mobile.opted_out for mobile in entry.mobiles}
    patient.numbers.exclude(number__in=list(after)).delete()
    for rank, mobile in enumerate(entry.mobiles):
        PatientNumber.objects.update_or_create(
            patient=patient,
            number=mobile.number,
            defaults={"opted_out": mobile.opted_out, "rank": rank},
        )
    if renamed:  # every list that shows the patient looks again
        return before.keys() | after.keys()
    return {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}


def _numbers_changed(numbers: list[str]) -> None:
    """After the directory changed for `numbers` (in its transaction)."""
    _follow_chart_opt_outs(numbers)
    chart.backfill(numbers)
    inbox.patient_changed(*numbers)


def _follow_chart_opt_outs(numbers: list[str]) -> None:
    """A number some active chart flags as opted out may not be texted (source "canvas");
    once no chart flags it, an opt-out that came from the chart is lifted. An opt-out of
    the patient's own (STOP) or staff's stays: Canvas cannot text START for them."""
    flagged = set(
        PatientNumber.objects.filter(
            number__in=numbers, opted_out=True, patient__active=True
        ).values_list("number", flat=True)
    )
    states = {
        row.patient_number: row
        for row in Consent.objects.select_related("event").filter(
            patient_number__in=numbers, our_number=ALL_NUMBERS
        )
    }
    for number in numbers:
        state = states.get(number)
        opted_out = state is not None and state.opted_out
        from_chart = opted_out and state.event and state.event.source == ConsentEvent.Source.CANVAS
        flag = number in flagged
        if flag != opted_out and (flag or from_chart):
            consent.record(
                patient_number=number,
                our_number="",
                opted_out=flag,
                source=ConsentEvent.Source.CANVAS,
            )


# --- reading the plugin ---------------------------------------------------------------------


def sync(*, limit: int = 200, on_page: Callable[[int, int], None] | None = None) -> int:
    """Read the whole directory from the plugin, page by page (`GET directory?after=`);
    how many entries were applied. Raises CanvasError or ContractError."""
    after, total = "", 0
    while True:
        params = {"limit": str(limit), **({"after": after} if after else {})}
        as_of, entries, following = contract.read_directory(
            canvas_gateway.call("directory", params=params)
        )
        applied, _ = apply(as_of, entries)
        total += applied
        if on_page:
            on_page(len(entries), total)
        if not following or following == after:
            return total
        after = following


def refresh_patient(patient_id: str) -> None:
    """At a launch from a chart: the patient's entry read from the plugin, so the page
    knows their numbers; without Canvas configured (or when it does not answer) what the
    directory holds, and at least the patient's id."""
    if canvas_gateway.is_configured():
        try:
            as_of, entries, _ = contract.read_directory(
                canvas_gateway.call("directory", params={"patient": patient_id})
            )
            apply(as_of, [e for e in entries if e.patient_id == patient_id])
        except (canvas_gateway.CanvasError, contract.ContractError) as error:
            log.warning("Could not read patient %s from Canvas: %s", patient_id, error)
    CanvasPatient.objects.get_or_create(patient_id=patient_id)


# --- what the page shows --------------------------------------------------------------------


def numbers_of(patient_id: str) -> list[str]:
    """The patient's numbers: the chart's mobiles in its order, then those staff linked."""
    chart_numbers = PatientNumber.objects.filter(
        patient__patient_id=patient_id, patient__active=True
    ).values_list("number", flat=True)
    linked = NumberLink.objects.filter(patient__patient_id=patient_id).values_list(
        "number", flat=True
    )
    return list(dict.fromkeys([*chart_numbers, *linked.order_by("number")]))


def textable_number(patient_id: str) -> str:
    """The number the page's To starts with: the chart's first mobile not opted out."""
    row = PatientNumber.objects.filter(
        patient__patient_id=patient_id, patient__active=True, opted_out=False
    ).values_list("number", flat=True)
    return row.first() or ""


def chart_patient(patient_id: str) -> dict[str, str]:
    """The chart's patient as the page shows them: {id, name} (name "" when unknown)."""
    found = CanvasPatient.objects.filter(patient_id=patient_id).first()
    return found.to_dict() if found else {"id": patient_id, "name": ""}


def time_zone_of(number: str) -> tuple[str, bool]:
    """The patient's time zone: their chart's when the number is linked to a patient whose
    chart has one, else what the number tells (smsapp.lib.zones.zone_of). The flag says
    whether it is the patient's (not the clinic's)."""
    linked = NumberLink.objects.patients_of([number])[number].linked
    if linked and linked.time_zone:
        try:
            ZoneInfo(linked.time_zone)
            return linked.time_zone, True
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return zone_of(number)


def describe(numbers: list[str]) -> dict[str, dict]:
    """For each number, as the inbox shows it: `name` and `patientId` of the patient it is
    linked to (null for none), `patients`, every chart that lists it (several when it is
    shared: staff choose one), as {id, name}, and `staffLink`, whether staff made the
    link (only that one can be undone here)."""
    owners = NumberLink.objects.patients_of(list(dict.fromkeys(numbers)))
    return {
        number: {
            "name": owner.linked.name if owner.linked else None,
            "patientId": owner.linked.patient_id if owner.linked else None,
            "patients": [p.to_dict() for p in owner.patients],
            "staffLink": owner.by_staff,
        }
        for number, owner in owners.items()
    }


def mark_patients(items: list[dict]) -> list[dict]:
    """Set `name`, `patientId`, `patients` and `staffLink` on a page of
    conversations/<our_number>'s items."""
    described = describe([item["counterpart"] for item in items])
    for item in items:
        item.update(described[item["counterpart"]])
    return items


# --- staff's links ---------------------------------------------------------------------------


def link(*, number: str, patient_id: str, chart_patient_id: str, user, actor: audit.Actor) -> dict:
    """Link `number` to the patient `patient_id`: the patient of the chart the page was
    opened from (`chart_patient_id`, "" for a page signed in on its own), or one of the
    patients whose charts list the number. Its texts go to their chart."""
    allowed = {p.patient_id for p in NumberLink.objects.patients_of([number])[number].patients}
    if chart_patient_id:
        allowed.add(chart_patient_id)
    if patient_id not in allowed:
        raise Forbidden(
            "A number can be linked to the patient whose chart opened this page, or to one "
            "of the patients whose charts list it."
        )
    with write_lock(), transaction.atomic():
        patient = CanvasPatient.objects.filter(patient_id=patient_id).first()
        if patient is None:
            raise NotFound(f"Patient {patient_id} is not in the directory yet.")
        NumberLink.objects.update_or_create(
            number=number, defaults={"patient": patient, "linked_by": user}
        )
        audit.record(audit.Action.NUMBER_LINKED, target=number, actor=actor, patient=patient_id)
        _numbers_changed([number])
    return describe([number])[number]


def unlink(*, number: str, actor: audit.Actor) -> dict:
    """Undo staff's link of `number`: its texts not yet in a chart stay out of it."""
    with write_lock(), transaction.atomic():
        found = NumberLink.objects.select_related("patient").filter(number=number).first()
        if found is None:
            raise InvalidInput({"number": f"{number} is not linked by staff; nothing to undo."})
        found.delete()
        audit.record(
            audit.Action.NUMBER_UNLINKED,
            target=number,
            actor=actor,
            patient=found.patient.patient_id,
        )
        _numbers_changed([number])
    return describe([number])[number]
