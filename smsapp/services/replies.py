"""Which auto-reply, if any, answers an inbound text (Twilio sends it from our TwiML).

The rules choose by the text and the office hours (AutoReplyRule.objects.reply_for);
here the patient's side is checked too: no reply to a patient who opted out, and an
after-hours rule answers one patient at most once every 12 hours.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from smsapp.lib import hours
from smsapp.lib.write_lock import write_lock
from smsapp.models import AfterHoursReply, AutoReplyRule, Message
from smsapp.services import consent


def reply_to(
    message: Message, *, opt_out_type: str = "", now: datetime | None = None
) -> AutoReplyRule | None:
    """The rule that answers `message` now, or None (no reply)."""
    now = now or timezone.now()
    rule = AutoReplyRule.objects.reply_for(
        message.body, opt_out_type=opt_out_type, office_open=hours.office_is_open(now)
    )
    if rule is None or consent.is_opted_out(
        our_number=message.to_number, patient_number=message.from_number
    ):
        return None
    if not rule.only_outside_office_hours:
        return rule
    # It already told this patient the office is closed: no other rule speaks instead.
    with write_lock():
        claimed = AfterHoursReply.claim(
            rule=rule,
            our_number=message.to_number,
            patient_number=message.from_number,
            now=now,
        )
    return rule if claimed else None
