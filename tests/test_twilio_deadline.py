"""A Twilio that hangs must not hang the app: every call to Twilio, retries included, ends
within TWILIO_DEADLINE, and after BREAKER_TIMEOUTS timeouts in a row the circuit breaker
makes calls fail at once, with a 503 sentence, for BREAKER_OPEN_SECONDS.

Twilio is mocked with `responses`; a fake clock stands in for the waiting, so these tests
take no time. tests/test_twilio_hanging.py shows the same with a Twilio that really
hangs, behind a live server."""

import pytest
import requests

from smsapp import twilio_gateway as gw
from smsapp.twilio_gateway import calls
from tests import twilio_payloads as tw

SID = tw.message_sid(1)
MESSAGE = tw.account_url(f"Messages/{SID}.json")


class Clock:
    """time.monotonic and time.sleep for the gateway: waiting moves it on, instantly."""

    def __init__(self, monkeypatch) -> None:
        self.now = 1000.0
        monkeypatch.setattr(calls.time, "monotonic", lambda: self.now)
        monkeypatch.setattr(calls.time, "sleep", self.wait)

    def wait(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def hanging(mocked_twilio, clock):
    """Twilio accepting the connection and never answering: each attempt takes its whole
    timeout, then fails. Records each attempt's timeout."""
    timeouts: list[float] = []

    def never_answer(request):
        timeouts.append(request.req_kwargs["timeout"])
        clock.wait(request.req_kwargs["timeout"])
        raise requests.ReadTimeout("read timed out")

    for method in ("GET", "POST", "DELETE"):
        mocked_twilio.add_callback(method, MESSAGE, callback=never_answer)
    return timeouts


def test_retries_stop_at_the_deadline_and_each_attempt_waits_only_for_what_is_left(
    hanging, clock, settings
):
    """Before: four attempts of TWILIO_TIMEOUT each (43.5 s measured for a delete)."""
    settings.TWILIO_TIMEOUT = 10
    settings.TWILIO_DEADLINE = 15
    settings.TWILIO_MAX_RETRIES = 3
    settings.TWILIO_RETRY_BACKOFF = 0.5
    started = clock.now

    with pytest.raises(gw.TwilioError) as caught:
        gw.delete_message(SID)

    assert hanging == [10, 4.5]  # the second attempt gets what the first and its pause left
    assert clock.now - started == 15
    assert (caught.value.http_status, caught.value.transient) == (503, True)
    assert "did not answer" in caught.value.message


def test_no_retry_starts_that_could_not_finish_within_the_deadline(hanging, clock, settings):
    settings.TWILIO_TIMEOUT = 10
    settings.TWILIO_DEADLINE = 10.2
    settings.TWILIO_RETRY_BACKOFF = 0

    with pytest.raises(gw.TwilioError):
        gw.fetch_message(SID)

    assert hanging == [10]  # 0.2 s left: too little for another attempt


def test_a_deadline_longer_than_the_timeouts_keeps_every_retry(mocked_twilio, clock, settings):
    settings.TWILIO_MAX_RETRIES = 2
    settings.TWILIO_DEADLINE = 100
    tw.add_error(mocked_twilio, "GET", f"Messages/{SID}.json", 503)

    with pytest.raises(gw.TwilioError):
        gw.fetch_message(SID)

    assert len(mocked_twilio.calls) == 3


def test_after_three_timeouts_in_a_row_calls_fail_at_once(hanging, clock, settings):
    settings.TWILIO_MAX_RETRIES = 0
    for _ in range(calls.BREAKER_TIMEOUTS):
        with pytest.raises(gw.TwilioError):
            gw.fetch_message(SID)
    started = clock.now

    with pytest.raises(gw.TwilioError) as caught:
        gw.delete_message(SID)

    assert len(hanging) == calls.BREAKER_TIMEOUTS  # this call never reached Twilio
    assert clock.now == started
    assert caught.value.http_status == 503
    assert caught.value.message == calls.BREAKER_OPEN
    assert "stops waiting for it for 30 seconds" in caught.value.message


def test_an_open_breaker_also_ends_the_retries_of_calls_already_running(hanging, clock, settings):
    settings.TWILIO_MAX_RETRIES = 5
    settings.TWILIO_DEADLINE = 1000

    with pytest.raises(gw.TwilioError) as caught:
        gw.fetch_message(SID)

    assert len(hanging) == calls.BREAKER_TIMEOUTS
    assert caught.value.message == calls.BREAKER_OPEN


def test_after_the_pause_one_trial_call_goes_through_and_an_answer_closes_the_breaker(
    mocked_twilio, clock, settings
):
    settings.TWILIO_MAX_RETRIES = 0
    mocked_twilio.get(MESSAGE, body=requests.ReadTimeout("read timed out"))
    for _ in range(calls.BREAKER_TIMEOUTS):
        with pytest.raises(gw.TwilioError):
            gw.fetch_message(SID)
    mocked_twilio.replace("GET", MESSAGE, json=tw.message_json(1))

    clock.wait(calls.BREAKER_OPEN_SECONDS - 1)
    with pytest.raises(gw.TwilioError, match="stops waiting"):
        gw.fetch_message(SID)
    clock.wait(1)

    assert gw.fetch_message(SID)["sid"] == SID  # the trial
    assert gw.fetch_message(SID)["sid"] == SID  # and calls flow again
    assert len(mocked_twilio.calls) == calls.BREAKER_TIMEOUTS + 2


def test_a_trial_that_times_out_opens_the_breaker_again(hanging, clock, settings):
    settings.TWILIO_MAX_RETRIES = 0
    for _ in range(calls.BREAKER_TIMEOUTS):
        with pytest.raises(gw.TwilioError):
            gw.fetch_message(SID)
    clock.wait(calls.BREAKER_OPEN_SECONDS)

    with pytest.raises(gw.TwilioError, match="did not answer"):
        gw.fetch_message(SID)  # the trial
    with pytest.raises(gw.TwilioError, match="stops waiting"):
        gw.fetch_message(SID)

    assert len(hanging) == calls.BREAKER_TIMEOUTS + 1


def test_any_answer_from_twilio_resets_the_count(mocked_twilio, clock, settings):
    """Errors Twilio answers with (a 404 here) show it is there: only timeouts in a row
    open the breaker."""
    settings.TWILIO_MAX_RETRIES = 0
    timeout = {"body": requests.ReadTimeout("read timed out")}
    for answer in [timeout, timeout, {"status": 404, "json": tw.error_json(20404, 404)},
                   timeout, timeout, {"json": tw.message_json(1)}]:  # fmt: skip
        mocked_twilio.get(MESSAGE, **answer)

    outcomes = []
    for _ in range(6):
        try:
            outcomes.append(gw.fetch_message(SID)["sid"])
        except gw.TwilioError as error:
            outcomes.append(error.http_status)

    assert outcomes == [503, 503, 404, 503, 503, SID]
