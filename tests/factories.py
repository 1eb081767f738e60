"""factory-boy factories for the mirror's models."""

from datetime import UTC, datetime, timedelta

import factory

from smsapp.models import (
    AutoReplyRule,
    CanvasPatient,
    Media,
    Message,
    PatientNumber,
    Phone,
    StatusEvent,
)

BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class PhoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Phone

    sid = factory.Sequence(lambda n: f"PN{n:032x}")
    phone_number = factory.Sequence(lambda n: f"+1415555{n:04d}")
    friendly_name = factory.Sequence(lambda n: f"Front desk {n}")
    sms = True
    mms = True
    voice = True
    status = "in-use"
    sms_method = "POST"


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    sid = factory.Sequence(lambda n: f"SM{n:032x}")
    account_sid = "AC" + "0" * 32
    direction = Message.Direction.OUTBOUND_API
    from_number = "+14155550100"
    to_number = "+14155550199"
    body = factory.Sequence(lambda n: f"Message number {n}")
    status = Message.Status.DELIVERED
    num_segments = 1
    date_created = factory.Sequence(lambda n: BASE_TIME + timedelta(minutes=n))
    date_sent = factory.LazyAttribute(lambda m: m.date_created + timedelta(seconds=2))
    date_updated = factory.LazyAttribute(lambda m: m.date_created + timedelta(seconds=5))


class MediaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Media

    sid = factory.Sequence(lambda n: f"ME{n:032x}")
    message = factory.SubFactory(MessageFactory, num_media=1)
    content_type = "image/jpeg"
    uri = factory.LazyAttribute(
        lambda m: (
            f"/2010-04-01/Accounts/{m.message.account_sid}/Messages/{m.message.sid}"
            f"/Media/{m.sid}.json"
        )
    )


class StatusEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StatusEvent

    message = factory.SubFactory(MessageFactory)
    status = "sent"
    payload = factory.LazyAttribute(
        lambda e: {"MessageSid": e.message.sid, "MessageStatus": e.status}
    )


class AutoReplyRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AutoReplyRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    match_kind = AutoReplyRule.MatchKind.CONTAINS
    pattern = "help"
    reply_text = "Call us at +1 415 555 0100."
    priority = 50


def in_directory(patient_id: str, *numbers: str, name: str = "Ann Smith", opted_out=()):
    """A Canvas patient in the app's directory with these mobile numbers, as the plugin's
    push stores them."""
    patient, _ = CanvasPatient.objects.update_or_create(
        patient_id=patient_id, defaults={"name": name}
    )
    for rank, number in enumerate(numbers):
        PatientNumber.objects.update_or_create(
            patient=patient,
            number=number,
            defaults={"rank": rank, "opted_out": number in opted_out},
        )
    return patient
