"""The admin back office as a superuser sees it: every page loads, in a number of queries
that does not grow with the mirror, and search and filters find the right rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from smsapp.models import (
    AutoReplyRule,
    Consent,
    ConsentEvent,
    Conversation,
    Message,
    MessageTemplate,
    Phone,
    ScheduledMessage,
    SendAttempt,
    StatusEvent,
    SyncRun,
)
from smsapp.services import consent, inbox
from tests.factories import (
    AutoReplyRuleFactory,
    MediaFactory,
    MessageFactory,
    PhoneFactory,
    StatusEventFactory,
)

pytestmark = pytest.mark.django_db

MODELS = [
    Phone, Message, StatusEvent, AutoReplyRule, SyncRun, MessageTemplate, ScheduledMessage,
    SendAttempt, Consent, ConsentEvent, Conversation,
]  # fmt: skip


def url(model, view: str, *args) -> str:
    return reverse(f"admin:smsapp_{model._meta.model_name}_{view}", args=args)


def mirror(rows: int) -> None:
    """`rows` of each model: messages (each to another patient, so in a conversation of
    its own) with two media and two status events each."""
    for _ in range(rows):
        message = MessageFactory(num_media=2, to_number=f"+1650555{Message.objects.count():04d}")
        inbox.record_new([inbox.message_row(message)])
        MediaFactory.create_batch(2, message=message)
        StatusEventFactory(message=message, status="sent")
        StatusEventFactory(message=message, status="delivered")
        PhoneFactory()
        AutoReplyRuleFactory()
        SyncRun.objects.create(pages=3, counts={"messages": {"created": 2500}})
        numbers = {"from_number": message.from_number, "to_number": message.to_number}
        MessageTemplate.objects.create(name=f"Template {message.pk}", body="See you {first_name}")
        ScheduledMessage.objects.create(**numbers, body="Later", send_at=timezone.now())
        SendAttempt.objects.create(**numbers, body="Maybe", attempted_at=timezone.now())
        patient = f"+1415666{message.pk % 10000:04d}"
        consent.record(patient_number=patient, our_number=message.from_number,
                       opted_out=True, source="keyword")  # fmt: skip
        consent.record_by_staff(patient_number=patient, opted_out=False, note="Form", user=None)


def queries(client, address: str) -> int:
    client.get(address)  # warm per-process caches (content types, the session's user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(address)
    assert response.status_code == 200, address
    return len(captured)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelists_load_in_a_bounded_number_of_queries(
    admin_client, model, django_assert_max_num_queries
):
    mirror(1)
    few = queries(admin_client, url(model, "changelist"))
    mirror(29)

    with django_assert_max_num_queries(12):
        response = admin_client.get(url(model, "changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == model.objects.count()
    assert queries(admin_client, url(model, "changelist")) == few  # not one per row


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_change_pages_load_in_a_bounded_number_of_queries(
    admin_client, model, django_assert_max_num_queries
):
    mirror(1)
    first = model.objects.order_by("id").first()
    few = queries(admin_client, url(model, "change", first.pk))
    mirror(29)
    message = Message.objects.order_by("id").first()
    MediaFactory.create_batch(5, message=message)
    StatusEventFactory.create_batch(5, message=message)

    with django_assert_max_num_queries(15):
        response = admin_client.get(url(model, "change", first.pk))

    assert response.status_code == 200
    assert queries(admin_client, url(model, "change", first.pk)) == few  # not one per inline


def test_a_message_page_shows_its_media_and_status_history(admin_client):
    message = MessageFactory(num_media=1)
    picture = MediaFactory(message=message, content_type="image/png")
    StatusEventFactory(message=message, status="sent")
    StatusEventFactory(message=message, status="delivered")

    page = admin_client.get(url(Message, "change", message.pk)).content.decode()

    assert picture.sid in page and "image/png" in page
    assert page.count("delivered") >= 2  # the message's status and its event


def test_add_pages_load_where_adding_is_allowed(admin_client):
    assert admin_client.get(url(AutoReplyRule, "add")).status_code == 200
    assert admin_client.get(url(StatusEvent, "add")).status_code == 403
    assert admin_client.get(url(Message, "add")).status_code == 403
    assert admin_client.get(url(Phone, "add")).status_code == 403
    assert admin_client.get(url(SyncRun, "add")).status_code == 403


def test_auto_reply_rules_are_editable(admin_client):
    rule = AutoReplyRuleFactory(pattern="help", reply_text="Call us.")

    response = admin_client.post(
        url(AutoReplyRule, "change", rule.pk),
        {
            "name": rule.name,
            "match_kind": "exact",
            "pattern": "HOURS",
            "reply_text": "We open at 8.",
            "media_url": "",
            "priority": 5,
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.match_kind, rule.pattern, rule.reply_text, rule.priority) == (
        "exact",
        "HOURS",
        "We open at 8.",
        5,
    )


def test_the_mirror_is_read_only(admin_client):
    """Twilio is the source of truth: an edit here would be overwritten by the next sync,
    or worse, kept and shown as if Twilio had sent it."""
    message = MessageFactory(body="Original")
    phone = PhoneFactory(friendly_name="Front desk")
    event = StatusEventFactory(message=message)

    for obj in (message, phone, event):
        page = admin_client.get(url(type(obj), "change", obj.pk))
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
    admin_client.post(url(Message, "change", message.pk), {"body": "Edited"})

    message.refresh_from_db()
    assert message.body == "Original"


def results(client, model, **params) -> set[str]:
    response = client.get(url(model, "changelist"), params)
    assert response.status_code == 200
    return {str(getattr(row, "sid", None) or row.pk) for row in response.context["cl"].result_list}


def test_message_search_by_sid_number_and_body(admin_client):
    a = MessageFactory(from_number="+14155550100", to_number="+16505550123", body="Flu shot Friday")
    b = MessageFactory(from_number="+16505550123", to_number="+14155550100", body="Thanks!")
    c = MessageFactory(from_number="+14155550100", to_number="+12125550199", body="Lab results")

    assert results(admin_client, Message, q=b.sid) == {b.sid}
    assert results(admin_client, Message, q=b.sid[:10]) == set()  # SIDs match exactly
    assert results(admin_client, Message, q="+16505550123") == {a.sid, b.sid}
    assert results(admin_client, Message, q="flu shot") == {a.sid}
    assert results(admin_client, Message, q="results") == {c.sid}


def test_message_filters(admin_client):
    clinic = PhoneFactory(phone_number="+14155550100")
    inbound = MessageFactory(
        direction="inbound",
        status="received",
        from_number="+16505550123",
        to_number=clinic.phone_number,
    )
    failed = MessageFactory(status="failed", from_number=clinic.phone_number)
    other = MessageFactory(from_number="+14155550999", to_number="+16505550123")

    assert results(admin_client, Message, direction__exact="inbound") == {inbound.sid}
    assert results(admin_client, Message, status__exact="failed") == {failed.sid}
    assert results(admin_client, Message, number=clinic.phone_number) == {inbound.sid, failed.sid}
    page = admin_client.get(url(Message, "changelist")).content.decode()
    assert str(clinic) in page  # the clinic's numbers are offered, not every patient's
    assert other.to_number not in page.split('id="changelist-filter"')[-1]


def test_status_events_are_found_by_message_sid_even_when_the_message_is_not_mirrored(
    admin_client,
):
    mirrored = StatusEventFactory(status="delivered")
    orphan_sid = "SM" + "e" * 32
    orphan = StatusEvent.objects.create(
        message_id=orphan_sid, status="sent", payload={"MessageSid": orphan_sid}
    )

    assert results(admin_client, StatusEvent, q=orphan_sid) == {str(orphan.pk)}
    assert results(admin_client, StatusEvent, q=mirrored.message_id) == {str(mirrored.pk)}
    assert results(admin_client, StatusEvent, status__exact="sent") == {str(orphan.pk)}
    page = admin_client.get(url(StatusEvent, "change", orphan.pk))
    assert page.status_code == 200 and orphan_sid in page.content.decode()


def test_messages_cannot_be_deleted_here_since_twilio_and_the_cache_would_keep_them(
    admin_client,
):
    message = MessageFactory()

    response = admin_client.post(url(Message, "delete", message.pk), {"post": "yes"})

    assert response.status_code == 403
    assert Message.objects.filter(pk=message.pk).exists()
