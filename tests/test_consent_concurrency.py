"""A STOP and a send at the same moment, on PostgreSQL: once the STOP has committed no send
gets through, even one that was already checking (smsapp.services.consent.send_permitted:
a FOR SHARE lock on the patient's Consent row from the check through the Twilio call,
against the STOP's FOR UPDATE). Real threads, each with its own connection.

SQLite does not hold its single write lock across a call to Twilio (the docstring of
send_permitted says why), so these run on PostgreSQL only."""

import json
import threading
import time

import pytest
from django.db import connection, transaction

from smsapp.lib.errors import OptedOut
from smsapp.services import consent, messages
from smsapp.services.mirror import receive_message
from tests import twilio_payloads as tw
from tests.factories import PhoneFactory

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

OURS = "+14155550100"
PATIENT = "+14155550199"
HOLD = 0.5  # seconds one side keeps its transaction open while the other tries


def _in_thread(target) -> tuple[threading.Thread, dict]:
    """Run target() in a thread with its own connection; its result or error lands in
    the dict."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = target()
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            outcome["error"] = exc
        finally:
            outcome["finished_at"] = time.monotonic()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _stop_message(n: int = 1):
    return receive_message(sid=f"SM{n:032x}", from_number=PATIENT, to_number=OURS, body="STOP")


def _send():
    return messages.send(from_=OURS, to=PATIENT, text="Your results are ready")


@pytest.mark.parametrize("texted_before", [False, True])
def test_a_send_checking_while_a_stop_commits_is_refused_and_never_reaches_twilio(
    mocked_twilio, texted_before
):
    PhoneFactory(phone_number=OURS)
    if texted_before:  # the patient's Consent row exists already
        consent.record(patient_number=PATIENT, our_number=OURS, opted_out=False,
                       source="staff", note="Consent form")  # fmt: skip
    mocked_twilio.post(tw.account_url("Messages.json"), json=tw.message_json(1), status=201)
    stop_written = threading.Event()

    def stop_and_hold():
        with transaction.atomic():
            _stop_message()  # the inbound webhook's own write path
            stop_written.set()
            time.sleep(HOLD)  # the send arrives now and must wait for this commit
        return time.monotonic()

    stopper, stopped = _in_thread(stop_and_hold)
    assert stop_written.wait(10)
    sender, sent = _in_thread(_send)
    stopper.join(30)
    sender.join(30)

    assert "error" not in stopped, stopped
    assert isinstance(sent.get("error"), OptedOut), sent
    assert sent["finished_at"] >= stopped["result"]  # it waited for the STOP's commit
    assert len(mocked_twilio.calls) == 0


def test_a_stop_waits_for_a_send_already_past_its_check(mocked_twilio):
    PhoneFactory(phone_number=OURS)
    twilio_called, release = threading.Event(), threading.Event()

    def slow_twilio(request):
        twilio_called.set()
        release.wait(10)  # Twilio takes its time; the send's lock is held meanwhile
        return 201, {}, json.dumps(tw.message_json(1, from_=OURS, to=PATIENT, status="queued"))

    mocked_twilio.add_callback("POST", tw.account_url("Messages.json"), callback=slow_twilio)
    sender, sent = _in_thread(_send)
    assert twilio_called.wait(10)
    stopper, stopped = _in_thread(_stop_message)

    time.sleep(HOLD)
    assert stopper.is_alive(), "the STOP must wait for the send that was already checked"
    released_at = time.monotonic()
    release.set()
    sender.join(30)
    stopper.join(30)

    assert "error" not in sent and sent["result"].sid == tw.message_sid(1)
    assert "error" not in stopped
    assert stopped["finished_at"] >= released_at
    assert consent.is_opted_out(our_number=OURS, patient_number=PATIENT)
    with pytest.raises(OptedOut):
        _send()
    assert len(mocked_twilio.calls) == 1
