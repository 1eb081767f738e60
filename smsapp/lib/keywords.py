"""Twilio's messaging keywords (opt-out, opt-in, help), read from an inbound text the way
Twilio reads them: the whole message, in any case, with surrounding whitespace and
trailing punctuation ignored. "Stop." and " STOP! " are keywords; "stop please" and
"please stop" are ordinary messages.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum


class Keyword(StrEnum):
    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"
    HELP = "help"


# Twilio's default keywords (https://help.twilio.com/articles/223134027).
WORDS: dict[str, Keyword] = {
    **dict.fromkeys(
        ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"),
        Keyword.OPT_OUT,
    ),
    **dict.fromkeys(("START", "UNSTOP", "YES"), Keyword.OPT_IN),
    **dict.fromkeys(("HELP", "INFO"), Keyword.HELP),
}

# What Twilio's Advanced Opt-Out sends as `OptOutType` when it handled a keyword (custom
# keywords included, such as "ARRET"): its word wins over our reading of the body.
OPT_OUT_TYPES = {"STOP": Keyword.OPT_OUT, "START": Keyword.OPT_IN, "HELP": Keyword.HELP}


def _trailing_punctuation_or_space(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def word_of(body: str) -> str:
    """The message as Twilio compares it with its keywords: upper case, trimmed, without
    trailing punctuation ("Stop!!" -> "STOP")."""
    text = body.strip()
    end = len(text)
    while end and _trailing_punctuation_or_space(text[end - 1]):
        end -= 1
    return text[:end].upper()


def keyword_of(body: str, *, opt_out_type: str = "") -> Keyword | None:
    """The keyword an inbound message is, or None for an ordinary message. Twilio's own
    `OptOutType` (sent when it handled the keyword itself) is believed first."""
    if opt_out_type.strip().upper() in OPT_OUT_TYPES:
        return OPT_OUT_TYPES[opt_out_type.strip().upper()]
    return WORDS.get(word_of(body))
