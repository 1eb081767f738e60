"""The inbox under concurrent writes: inbound texts to one conversation at the same
instant, first texts from many patients at once, and a read racing an inbound text.
Real threads with their own connections, through the real signed webhook and API, so
these run in transaction=True tests (tests/settings.py: a database every thread sees)."""

import json
import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from smsapp.models import Conversation, InboxCounter, Message
from smsapp.roles import AGENTS
from tests.conftest import user_in_role
from tests.test_webhook_concurrency import on_postgresql, on_sqlite
from tests.webhook_signing import post_signed

INBOUND = reverse("smsapp:inbound_treatment")
US = "+14155550100"
PATIENT = "+14155550199"


def _together(count: int, call: Callable[[int], object]) -> list[str]:
    """call(i) in `count` threads released at the same instant; the errors as text."""
    barrier = threading.Barrier(count)
    errors: list[str] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            response = call(i)
            if response.status_code != 200:
                errors.append(f"{response.status_code}: {response.content[:200]!r}")
        except Exception as exc:  # noqa: BLE001 - every failure is reported by the test
            errors.append(repr(exc))
        finally:
            connection.close()  # this thread's own

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def _text(n: int, frm: str = PATIENT):
    params = {"MessageSid": f"SM{n:032x}", "From": frm, "To": US, "Body": f"Question {n}"}
    return post_signed(Client(), INBOUND, params)


def _counters() -> tuple[int, int]:
    row = InboxCounter.objects.get(our_number=US)
    return row.unread, row.needs_reply


def _concurrent_texts_to_one_conversation(count: int) -> None:
    errors = _together(count, _text)

    assert errors == []
    conversation = Conversation.objects.get(our_number=US, counterpart=PATIENT)
    assert conversation.unread == count
    newest = Message.objects.order_by("-date_created", "-id").first()
    assert conversation.last_sid == newest.sid
    assert _counters() == (1, 1)


def _first_texts_from_many_patients(count: int) -> None:
    errors = _together(count, lambda i: _text(1000 + i, frm=f"+1415666{i:04d}"))

    assert errors == []
    assert Conversation.objects.filter(unread=1, needs_reply=True).count() == count
    assert _counters() == (count, count)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_fifty_texts_to_one_conversation_at_once_count_fifty_unread_on_postgresql():
    _concurrent_texts_to_one_conversation(50)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_fifty_patients_texting_at_once_start_fifty_conversations_on_postgresql():
    _first_texts_from_many_patients(50)


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_eight_texts_to_one_conversation_at_once_on_sqlite():
    _concurrent_texts_to_one_conversation(8)


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_eight_patients_texting_at_once_on_sqlite():
    _first_texts_from_many_patients(8)


def _read_racing_texts(rounds: int) -> None:
    """Each round: the page shows the conversation up to its newest text and marks it read
    while the patient's next text arrives. Whichever commits first, that text stays
    unread, and the number's counter agrees."""
    user = user_in_role(AGENTS, "racer")
    url = reverse("smsapp:conversation_read", args=[US, PATIENT])
    _text(0)
    for r in range(1, rounds + 1):
        shown = Conversation.objects.get().last_sid
        reader = Client()
        reader.force_login(user)

        def call(i, shown=shown, reader=reader, r=r):
            if i == 0:
                body = json.dumps({"upto": shown})
                return reader.post(url, data=body, content_type="application/json")
            return _text(r)

        assert _together(2, call) == []
        conversation = Conversation.objects.get()
        assert conversation.unread == 1, f"round {r}"
        assert _counters() == (1, 1), f"round {r}"


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_read_racing_an_inbound_text_never_loses_its_count_on_postgresql():
    _read_racing_texts(25)


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_a_read_racing_an_inbound_text_never_loses_its_count_on_sqlite():
    _read_racing_texts(5)
