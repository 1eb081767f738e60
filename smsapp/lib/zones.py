"""The time zone a patient most likely lives in, from their number: what "Send later"
means by 9:00."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from phonenumbers import timezone as number_zones


def zone_of(number: str) -> tuple[str, bool]:
    """The number's time zone when it maps to exactly one (most countries, and US area
    codes within one zone), else the clinic's (TIME_ZONE). The flag says which."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return settings.TIME_ZONE, False
    zones = [z for z in number_zones.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    if len(zones) == 1:
        return zones[0], True
    return settings.TIME_ZONE, False
