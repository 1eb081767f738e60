"""Message templates as the page's picker offers them, with what is known filled in."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.conf import settings

from smsapp.models import MessageTemplate


def for_picker(*, our_number: str = "") -> list[dict[str, Any]]:
    """Every template, its `text` filled with the clinic's name (CLINIC_NAME) and, when
    given, the number it will be sent from. {first_name} stays for staff to fill in
    (the app does not know patients' names yet)."""
    values = {"clinic_name": settings.CLINIC_NAME, "our_number": _for_people(our_number)}
    return [template.to_dict(values) for template in MessageTemplate.objects.all()]


def _for_people(number: str) -> str:
    """+14155550100 as +1 415-555-0100, the way a patient reads a number in a text."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
