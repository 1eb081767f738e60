"""Fault test: Twilio hangs (accepts connections and never answers) while staff work and
Twilio's own webhooks keep arriving. Against a live server with real threads, real
sockets and the app's real Twilio client:

- every signed status callback (and inbound text) is answered at once and stored: no
  webhook waits on Twilio;
- every staff request that needs Twilio ends within the deadline with a 503 sentence,
  instead of holding a server thread for four timeouts (43.5 s measured before).

TWILIO_DEADLINE is made small here so the test is short; the rule is the same at 15 s."""

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
import requests
from django.test import Client

from smsapp.models import Message, StatusEvent
from smsapp.roles import ADMINISTRATORS
from tests import twilio_payloads as tw
from tests.conftest import user_in_role
from tests.factories import MediaFactory, MessageFactory, PhoneFactory
from tests.webhook_signing import FORM, signature

pytestmark = pytest.mark.django_db(transaction=True)  # the live server's threads see the data

API = "/plugin-io/api/twilio_sms_mms/"
DEADLINE = 1.0
# What a request adds to its wait for Twilio on a busy 2-core machine: Django, the
# database, the thread being scheduled. Twice the deadline would mean a retry slipped by.
OVERHEAD = 1.0
WEBHOOK_ANSWER = 2.0  # Twilio gives up on a webhook after 15 s; ours must never wait on it


class HangingTwilio:
    """A TCP server standing in for api.twilio.com: it accepts every connection, lets the
    request in, and never answers (until the test ends, or 60 s)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.server.settimeout(0.1)
        deadline = time.monotonic() + 60
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                self.connections.append(self.server.accept()[0])
            except TimeoutError:
                continue

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for connection in [*self.connections, self.server]:
            connection.close()


@pytest.fixture
def hanging_twilio(settings):
    """The app's Twilio client pointed at a Twilio that hangs, through the same transport
    the offline sandbox uses (it sends api.twilio.com's requests elsewhere)."""
    twilio = HangingTwilio()
    settings.TWILIO_SANDBOX = True
    settings.SANDBOX_BASE_URL = twilio.url
    settings.TWILIO_DEADLINE = DEADLINE
    settings.TWILIO_TIMEOUT = 10  # each attempt is cut to what is left of the deadline
    settings.TWILIO_MAX_RETRIES = 3
    settings.TWILIO_RETRY_BACKOFF = 0.05
    yield twilio
    twilio.close()


@pytest.fixture
def staff_session(live_server):
    client = Client()
    client.force_login(user_in_role(ADMINISTRATORS, "frontdesk"))
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    return session


def _staff_requests(live_server) -> list[tuple[str, str, dict | None]]:
    """Eight requests staff make that each need Twilio."""
    phone = PhoneFactory(sid=tw.phone_sid(1), phone_number="+14155550100")
    mirrored = [MessageFactory(from_number=phone.phone_number) for _ in range(2)]
    mms = MessageFactory(num_media=1)
    item = MediaFactory(message=mms)  # not downloaded yet
    return [
        ("GET", f"message/{tw.message_sid(92)}", None),  # POST sync is a job: it answers 202
        ("DELETE", f"message_delete/{mirrored[0].sid}", None),
        ("DELETE", f"message_delete/{mirrored[1].sid}", None),
        ("GET", f"message/{tw.message_sid(90)}", None),  # not mirrored: fetched
        ("GET", f"message/{tw.message_sid(91)}", None),
        ("POST", f"inbound_webhook/{phone.sid}", {"url": "https://example.org/sms"}),
        ("POST", f"inbound_webhook/{phone.sid}/this_app", {}),
        ("GET", f"medias/{mms.sid}/{item.sid}", None),
    ]


def _timed(send) -> tuple[float, requests.Response]:
    started = time.monotonic()
    response = send()
    return time.monotonic() - started, response


def test_a_hanging_twilio_holds_no_webhook_and_no_staff_request_past_the_deadline(
    live_server, hanging_twilio, staff_session, settings
):
    staff = _staff_requests(live_server)
    sent = MessageFactory(status="queued")
    statuses = ["sent", "delivered"]

    def staff_request(method: str, route: str, body) -> tuple[float, requests.Response]:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        return _timed(
            lambda: staff_session.request(
                method, f"{live_server.url}{API}{route}", data=data, headers=headers, timeout=30
            )
        )

    def webhook(path: str, params: dict) -> tuple[float, requests.Response]:
        headers = {
            "Content-Type": FORM,
            "X-Twilio-Signature": signature(settings.PUBLIC_BASE_URL + path, params),
        }
        return _timed(
            lambda: requests.post(
                live_server.url + path, data=urlencode(params), headers=headers, timeout=30
            )
        )

    def status_callback(i: int):
        params = {"MessageSid": sent.sid, "MessageStatus": statuses[i % 2], "Seq": str(i)}
        return webhook(f"{API}outbound_api_status", params)

    def inbound_mms(i: int):
        sid = tw.message_sid(200 + i)
        params = {
            "MessageSid": sid, "From": "+14155550199", "To": "+14155550100", "Body": "hello",
            "NumMedia": "1", "MediaContentType0": "image/jpeg",
            "MediaUrl0": tw.account_url(f"Messages/{sid}/Media/{tw.media_sid(200 + i)}"),
        }  # fmt: skip
        return webhook(f"{API}inbound_treatment", params)

    with ThreadPoolExecutor(max_workers=8) as staff_pool:
        staff_answers = [staff_pool.submit(staff_request, *request) for request in staff]
        while len(hanging_twilio.connections) < 4:  # staff requests are waiting on Twilio
            time.sleep(0.01)
        with ThreadPoolExecutor(max_workers=10) as twilio_pool:
            callbacks = list(twilio_pool.map(status_callback, range(50)))
            inbound = list(twilio_pool.map(inbound_mms, range(5)))
        staff_results = [answer.result() for answer in staff_answers]

    for elapsed, response in callbacks + inbound:
        assert response.status_code == 200, response.text
        assert elapsed < WEBHOOK_ANSWER, f"a webhook waited {elapsed:.1f}s"
    assert StatusEvent.objects.filter(message_id=sent.sid).count() == 50
    assert Message.objects.filter(body="hello").count() == 5
    for (method, route, _), (elapsed, response) in zip(staff, staff_results, strict=True):
        assert response.status_code == 503, (route, response.status_code, response.text)
        sentence = response.json()["information"]
        assert "Twilio did not answer" in sentence or "stops waiting" in sentence, sentence
        assert elapsed < DEADLINE + OVERHEAD, f"{method} {route} took {elapsed:.1f}s"
