"""Webhooks arriving at the same moment: statuses still only move forward, every callback
is stored, a retried inbound message is stored and answered once, and SQLite never says
"database is locked". Real threads, each with its own database connection, so these run
in transaction=True tests against a database every thread can see (tests/settings.py)."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from smsapp.lib.write_lock import write_lock
from smsapp.models import Message, StatusEvent
from tests.factories import AutoReplyRuleFactory, MessageFactory
from tests.webhook_signing import post_signed

STATUS = reverse("smsapp:outbound_api_status")
INBOUND = reverse("smsapp:inbound_treatment")
FORWARD = ["queued", "sending", "sent", "delivered", "read"]

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
)
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")


def _together(count: int, request: Callable[[int], object]) -> tuple[list, list[str]]:
    """Run request(i) in `count` threads released at the same instant; return the
    responses and any errors (exceptions or non-200 answers) as text."""
    barrier = threading.Barrier(count)
    responses: list = [None] * count
    errors: list[str] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            responses[i] = request(i)
            if responses[i].status_code != 200:
                errors.append(f"{responses[i].status_code}: {responses[i].content[:200]!r}")
        except Exception as exc:  # noqa: BLE001 - every failure is reported by the test
            errors.append(repr(exc))
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return responses, errors


def _status_callbacks(count: int, statuses: list[str]) -> tuple[Message, list[str]]:
    message = MessageFactory(status="accepted")

    def post(i: int):
        params = {"MessageSid": message.sid, "MessageStatus": statuses[i % len(statuses)]}
        return post_signed(Client(), STATUS, params)

    _, errors = _together(count, post)
    message.refresh_from_db()
    return message, errors


def _duplicate_inbound(count: int) -> tuple[list, list[str]]:
    # Another transaction=True test may have flushed migration 0002's default rules.
    AutoReplyRuleFactory(match_kind="any", pattern="", priority=1, reply_text="Thanks!")
    params = {
        "MessageSid": "SM" + "d" * 32,
        "From": "+14155550199",
        "To": "+14155550100",
        "Body": "hello",
        "NumMedia": "1",
        "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/SM1/Media/"
        + "ME"
        + "1" * 32,
    }
    return _together(count, lambda i: post_signed(Client(), INBOUND, params))


def _replies(responses) -> int:
    return sum(b"<Message" in r.content for r in responses)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_callbacks_end_in_the_most_advanced_status_on_postgresql():
    message, errors = _status_callbacks(50, FORWARD)
    assert errors == []
    assert message.status == "read"
    assert StatusEvent.objects.filter(message_id=message.sid).count() == 50


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_final_status_wins_among_fifty_concurrent_callbacks_on_postgresql():
    message, errors = _status_callbacks(50, [*FORWARD * 9, "undelivered", *FORWARD])
    assert errors == []
    assert message.status == "undelivered"
    assert StatusEvent.objects.filter(message_id=message.sid).count() == 50


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_inbound_deliveries_on_postgresql():
    responses, errors = _duplicate_inbound(20)
    assert errors == []
    assert Message.objects.filter(sid="SM" + "d" * 32).count() == 1
    assert _replies(responses) == 1


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_callbacks_on_sqlite_are_never_locked_out():
    message, errors = _status_callbacks(8, ["queued", "sent", "delivered", "sending"])
    assert errors == []  # no "database is locked", no 500
    assert message.status == "delivered"
    assert StatusEvent.objects.filter(message_id=message.sid).count() == 8


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_inbound_deliveries_on_sqlite():
    responses, errors = _duplicate_inbound(8)
    assert errors == []
    assert Message.objects.filter(sid="SM" + "d" * 32).count() == 1
    assert _replies(responses) == 1


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_the_sqlite_write_lock_lets_one_writer_in_at_a_time():
    entered = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def holder() -> None:
        with write_lock():
            order.append("first in")
            entered.set()
            release.wait(timeout=10)
            order.append("first out")

    def waiter() -> None:
        entered.wait(timeout=10)
        with write_lock():
            order.append("second in")

    threads = [threading.Thread(target=holder), threading.Thread(target=waiter)]
    for thread in threads:
        thread.start()
    entered.wait(timeout=10)
    threads[1].join(timeout=0.3)  # the second writer is still queued...
    assert order == ["first in"]
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["first in", "first out", "second in"]


@on_sqlite
@pytest.mark.django_db
def test_the_write_lock_stands_aside_inside_an_outer_transaction():
    # The test's own transaction may hold SQLite's lock; waiting for the file lock here
    # could deadlock, so the lock is not taken (another thread could still take it).
    taken = threading.Event()

    def other_writer() -> None:
        with write_lock():
            taken.set()

    with write_lock():
        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(timeout=10)
        assert taken.is_set()
