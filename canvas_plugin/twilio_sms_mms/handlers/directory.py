"""The patient directory the SMS app keeps (docs/canvas.md, "The patient directory"):
one entry per patient, with their display name, time zone and texting numbers, built
from the chart. The push handler (directory_push.py) and the `GET directory` route
(api.py) both send entries made here.

Runs in Canvas's plugin sandbox: only the imports it allows, no names starting with "_".
"""

import re
from base64 import urlsafe_b64decode, urlsafe_b64encode

from canvas_sdk.v1.data.common import ContactPointState, ContactPointSystem, ContactPointUse
from canvas_sdk.v1.data.patient import Patient

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
DEFAULT_PAGE = 200
LARGEST_PAGE = 500


def e164(value: str) -> str:
    """The number in E.164, or "" if it cannot be read as one.

    Canvas charts usually hold US numbers in national form ("(415) 555-0123"), so ten
    digits are read as +1; anything else must already carry its country code."""
    digits = re.sub(r"\D", "", value or "")
    if (value or "").strip().startswith("+"):
        candidate = "+" + digits
    elif len(digits) == 10:
        candidate = "+1" + digits
    elif len(digits) == 11 and digits.startswith("1"):
        candidate = "+" + digits
    else:
        return ""
    return candidate if E164.match(candidate) else ""


def mobiles_of(contact_points) -> list[dict]:
    """The active mobile phone numbers among a patient's contact points that read as
    E.164, by rank, each once (the first, by rank, says whether it opted out)."""
    ranked = sorted(contact_points, key=lambda point: (point.rank, str(point.id)))
    mobiles: dict[str, dict] = {}
    for point in ranked:
        if (
            point.system != ContactPointSystem.PHONE
            or point.use != ContactPointUse.MOBILE
            or point.state != ContactPointState.ACTIVE
        ):
            continue
        number = e164(point.value)
        if number and number not in mobiles:
            mobiles[number] = {"number": number, "optedOut": bool(point.opted_out)}
    return list(mobiles.values())


def entry_of(patient: Patient) -> dict:
    """The patient's directory entry. Reads `patient.telecom`: prefetch it for a list."""
    first_name = patient.nickname or patient.first_name
    return {
        "patientId": patient.id,
        "name": " ".join(" ".join((first_name, patient.last_name)).split()),
        "timeZone": patient.last_known_timezone or "",
        "active": bool(patient.active),
        "mobiles": mobiles_of(patient.telecom.all()) if patient.active else [],
    }


def patient_entries(patient_id: str) -> list[dict]:
    """The entry of one patient, in a list; empty for an unknown patient."""
    patient = Patient.objects.filter(id=patient_id).prefetch_related("telecom").first()
    return [entry_of(patient)] if patient else []


def cursor_of(dbid: int) -> str:
    """The opaque `next` cursor after the patient with this database id."""
    return urlsafe_b64encode(f"after:{dbid}".encode()).decode().rstrip("=")


def position_of(cursor: str) -> int:
    """The database id a cursor names. Raises ValueError for one this plugin did not make."""
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        text = urlsafe_b64decode(padded.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a cursor") from None
    prefix, colon, digits = text.partition(":")
    if prefix != "after" or not colon or not digits.isdigit():
        raise ValueError("not a cursor")
    return int(digits)


def page(*, after: int, limit: int) -> tuple[list[dict], str | None]:
    """Up to `limit` entries of patients after database id `after`, in database id order
    (stable while patients are added), and the cursor of the next page or None."""
    patients = list(
        Patient.objects.filter(dbid__gt=after)
        .order_by("dbid")
        .prefetch_related("telecom")[: limit + 1]
    )
    following = cursor_of(patients[limit - 1].dbid) if len(patients) > limit else None
    return [entry_of(patient) for patient in patients[:limit]], following
