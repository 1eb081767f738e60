"""The migration that builds conversations from the messages already mirrored: the same
newest message and "needs a reply" as the live rules, and history's unread (the inbound
texts after the last staff-sent one)."""

import importlib
import random
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection

from smsapp.models import Conversation, InboxCounter, Message
from smsapp.services import inbox
from tests.factories import BASE_TIME, MessageFactory

pytestmark = pytest.mark.django_db

US = "+14155550100"
OTHER_LINE = "+14155550111"


def _build_history() -> None:
    """Run the data migration's build on this database (found by its name, whatever
    number the migrations end up with)."""
    [path] = Path(__file__).parents[1].glob("smsapp/migrations/*_build_conversations.py")
    migration = importlib.import_module(f"smsapp.migrations.{path.stem}")
    migration.build(None, SimpleNamespace(connection=connection))


def _message(patient, direction, minute, body="Hello there", ours=US):
    inbound = direction == "inbound"
    return MessageFactory(
        direction=direction,
        from_number=patient if inbound else ours,
        to_number=ours if inbound else patient,
        body=body,
        status="received" if inbound else "delivered",
        date_created=BASE_TIME + timedelta(minutes=minute),
    )


def _conversation(patient, ours=US) -> Conversation:
    return Conversation.objects.get(our_number=ours, counterpart=patient)


def test_history_counts_the_texts_after_the_last_staff_reply_as_unread():
    p = "+14155550101"
    _message(p, "inbound", 1)
    _message(p, "outbound-api", 2)
    _message(p, "inbound", 3)
    _message(p, "inbound", 4)
    reply = _message(p, "outbound-reply", 5, body="Say hello!")

    _build_history()

    c = _conversation(p)
    assert (c.last_sid, c.last_direction, c.unread, c.needs_reply) == (
        reply.sid, "outbound-reply", 2, True
    )  # fmt: skip
    assert c.seen_key == c.staff_key
    assert c.version == 1


def test_history_without_a_staff_text_is_all_unread_and_waiting():
    p = "+14155550102"
    for minute in range(3):
        _message(p, "inbound", minute)

    _build_history()

    assert (_conversation(p).unread, _conversation(p).needs_reply) == (3, True)


def test_history_answered_or_ending_in_an_opt_out_needs_no_reply():
    answered, stopped, ours_only = "+14155550103", "+14155550104", "+14155550105"
    _message(answered, "inbound", 1)
    _message(answered, "outbound-api", 2)
    _message(stopped, "inbound", 1, body="When?")
    _message(stopped, "inbound", 2, body=" Stop! ")  # read as Twilio reads it
    _message(ours_only, "outbound-api", 1)

    _build_history()

    assert [_conversation(p).needs_reply for p in (answered, stopped, ours_only)] == [
        False, False, False
    ]  # fmt: skip
    assert (_conversation(answered).unread, _conversation(ours_only).unread) == (0, 0)
    assert _conversation(stopped).unread == 2


def test_history_counters_count_conversations_per_number():
    _message("+14155550106", "inbound", 1)
    _message("+14155550107", "inbound", 1)
    _message("+14155550107", "outbound-api", 2)
    _message("+14155550108", "inbound", 1, ours=OTHER_LINE)

    _build_history()

    counters = {
        c.our_number: (c.unread, c.needs_reply, c.version) for c in InboxCounter.objects.all()
    }
    assert counters == {US: (1, 1, 1), OTHER_LINE: (1, 1, 1)}


def test_history_agrees_with_the_live_rules_on_what_is_newest_and_waiting():
    rng = random.Random(11)
    directions = ["inbound"] * 5 + ["outbound-api"] * 3 + ["outbound-reply"]
    bodies = ["Hi", "When?", "STOP", "Stop.", "ok thanks"]
    for _ in range(300):
        patient = f"+1415666{rng.randrange(25):04d}"
        _message(
            patient, rng.choice(directions), rng.randrange(60), body=rng.choice(bodies),
            ours=rng.choice([US, OTHER_LINE]),
        )  # fmt: skip
        # Many share a minute: the id decides, in history and live alike.

    _build_history()
    history = _snapshot()
    Conversation.objects.all().delete()
    InboxCounter.objects.all().delete()
    rows = list(Message.objects.values(*inbox.MESSAGE_FIELDS))
    rng.shuffle(rows)  # a sync reads newest first; webhooks arrive as they come
    for start in range(0, len(rows), 70):
        inbox.record_new(rows[start : start + 70])

    assert _snapshot() == history
    assert sum(c.needs_reply for c in InboxCounter.objects.all()) == sum(
        1 for c in history.values() if c[-1]
    )


def _snapshot() -> dict:
    return {
        (c.our_number, c.counterpart): (
            c.last_sid, c.last_body, c.last_status, c.last_at, c.patient_key, c.staff_key,
            c.patient_asks, c.needs_reply,
        )
        for c in Conversation.objects.all()
    }  # fmt: skip
