"""Placeholders in message templates: `{first_name}`, `{clinic_name}`, `{our_number}`.

A template may use only these; a text about to be sent may contain none of them any
more, so a patient never receives "Hi {first_name}".
"""

from __future__ import annotations

import re

PLACEHOLDERS = ("first_name", "clinic_name", "our_number")

_ANY = re.compile(r"\{([^{}\s]*)\}")


def unknown_placeholders(text: str) -> list[str]:
    """`{name}`s in `text` that are not PLACEHOLDERS, in order of appearance."""
    return [f"{{{name}}}" for name in _ANY.findall(text) if name not in PLACEHOLDERS]


def unfilled_placeholders(text: str) -> list[str]:
    """PLACEHOLDERS still present in `text`, in order of appearance, each once."""
    found = [f"{{{name}}}" for name in _ANY.findall(text) if name in PLACEHOLDERS]
    return list(dict.fromkeys(found))


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with each placeholder that has a non-empty value replaced by it; the
    others are left in place (unfilled_placeholders names them)."""
    for name, value in values.items():
        if name in PLACEHOLDERS and value:
            text = text.replace(f"{{{name}}}", value)
    return text


def listed(names: list[str]) -> str:
    """["{a}", "{b}", "{c}"] as "{a}, {b} and {c}"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
