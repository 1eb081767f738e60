"""The account's phone numbers: the list staff send from, and where each sends its
inbound messages."""

from __future__ import annotations

from contextlib import suppress

from django.db import IntegrityError, transaction
from django.utils import timezone

from smsapp import twilio_gateway
from smsapp.lib.errors import NotFound
from smsapp.lib.validation import is_sid
from smsapp.models import Phone, SyncRun
from smsapp.services import audit, sync


def phone_list() -> list[Phone]:
    """The mirrored numbers. On a fresh install (no number, no sync ever) they are read
    from Twilio first, so an API client sees them before anyone synced, and a sync of the
    messages is queued. Twilio's refusal is raised; an account with no numbers is read
    once, since its sync run is then on record."""
    phones = list(Phone.objects.all())
    if phones or SyncRun.objects.exists() or not twilio_gateway.is_configured():
        return phones
    with suppress(IntegrityError):  # another request mirrored them at the same moment
        sync.sync_phones()
    with suppress(sync.SyncAlreadyRunning):
        sync.start_sync()
    return list(Phone.objects.all())


def set_inbound_webhook(
    *, phone_sid: str, url: str, method: str, actor: audit.Actor = audit.SYSTEM
) -> Phone:
    """Point a number's inbound SMS webhook at `url` on Twilio, then mirror what Twilio
    answered (its normalised URL and method) and record who changed it (target: the
    number's SID). Twilio refusing changes and records nothing."""
    phone = Phone.objects.filter(sid=phone_sid).first() if is_sid(phone_sid, ("PN",)) else None
    if phone is None:
        raise NotFound(
            f"There is no phone number with SID {phone_sid[:40]!r} in this account; "
            "run sync_twilio if it was added recently."
        )
    record = twilio_gateway.update_sms_webhook(phone.sid, url=url, method=method)
    for name, value in record.items():
        setattr(phone, name, value)
    phone.synced_at = timezone.now()
    with transaction.atomic():
        phone.save()
        audit.record(audit.Action.WEBHOOK_CHANGED, target=phone.sid, actor=actor)
    return phone
