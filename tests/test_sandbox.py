"""The offline sandbox end to end: the app's real gateway and twilio SDK talk over real HTTP
on loopback to the stand-in served by a live server, which posts signed callbacks and
inbound messages back to the app's real webhooks. A message's status steps are jobs:
`run_jobs()` works them, as the worker `make run` starts does."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from smsapp import twilio_gateway
from smsapp.models import Media, Message, Phone, StatusEvent
from twilio_sandbox import credentials, engine
from twilio_sandbox.models import SandboxMessage, SandboxNumber

pytestmark = pytest.mark.django_db(transaction=True)

DESK = "+15005550006"  # the seeded MMS-capable number
NURSE = "+15005550007"  # SMS only
PATIENT = "+14155550123"


@pytest.fixture
def default_auto_replies():
    """The flush after every transactional test drops what data migrations created; put
    the original plugin's auto-replies back the way migration 0002 does."""
    migration = importlib.import_module("smsapp.migrations.0002_default_auto_replies")
    migration.create_defaults(django_apps, None)


@pytest.fixture
def sandbox(live_server, settings, default_auto_replies):
    settings.TWILIO_SANDBOX = True
    settings.TWILIO_ACCOUNT_SID = credentials.ACCOUNT_SID
    settings.TWILIO_API_KEY = credentials.API_KEY
    settings.TWILIO_API_SECRET = credentials.api_secret(settings.SECRET_KEY)
    settings.TWILIO_AUTH_TOKEN = credentials.auth_token(settings.SECRET_KEY)
    settings.SANDBOX_BASE_URL = live_server.url
    settings.PUBLIC_BASE_URL = live_server.url
    settings.SANDBOX_STEP_SECONDS = 0  # each step's job is due at once: run_jobs() does all
    return live_server


@pytest.fixture
def synced(sandbox):
    call_command("sync_twilio", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return sandbox


def api(name: str, *args: str) -> str:
    return reverse(f"smsapp:{name}", args=args)


def send(client, to: str = PATIENT, text: str = "Your results are ready.", **extra):
    desk = Phone.objects.get(phone_number=DESK)
    body = {"numberFrom": DESK, "numberFromSid": desk.sid, "numberTo": to, "text": text, **extra}
    return client.post(api("sms_send"), body, content_type="application/json")


def test_sync_twilio_mirrors_the_seeded_account_and_a_rerun_changes_nothing(sandbox, capsys):
    call_command("sync_twilio")
    first = capsys.readouterr().out
    assert "phones:   3 created" in first
    assert "messages: 4 created" in first
    assert "media:    1 created" in first
    assert Phone.objects.get(phone_number=NURSE).mms is False
    assert Phone.objects.get(phone_number="+15005550008").sms is False

    call_command("sync_twilio", "--full")
    second = capsys.readouterr().out
    assert "phones:   0 created, 0 updated, 3 unchanged" in second
    assert "messages: 0 created, 0 updated, 4 unchanged" in second


def test_list_pages_follow_next_page_uri_with_filters(sandbox):
    engine.ensure_seeded()
    pages = list(twilio_gateway.iter_message_pages(page_size=3))
    assert [len(page) for page in pages] == [3, 1]
    sids = [record["sid"] for page in pages for record in page]
    assert sids == list(SandboxMessage.objects.order_by("-id").values_list("sid", flat=True))

    to_desk = [r for page in twilio_gateway.iter_message_pages(to=DESK) for r in page]
    assert {r["direction"] for r in to_desk} == {"inbound"}
    assert len(to_desk) == 2


def test_wrong_credentials_are_refused_like_twilio(sandbox, settings):
    settings.TWILIO_API_SECRET = "not-the-secret"
    with pytest.raises(twilio_gateway.TwilioError) as refused:
        list(twilio_gateway.list_phone_numbers())
    assert refused.value.code == 20003
    assert refused.value.http_status == 503


def test_a_sent_message_is_delivered_through_signed_status_callbacks(
    synced, staff_client, run_jobs
):
    response = send(staff_client)

    assert response.status_code == 200, response.content
    sid = response.json()["sid"]
    assert response.json()["status"] == "queued"
    run_jobs()
    message = Message.objects.get(sid=sid)
    assert message.status == "delivered"
    events = StatusEvent.objects.filter(message_id=sid).order_by("id")
    assert [e.status for e in events] == ["sent", "delivered"]
    assert SandboxMessage.objects.get(sid=sid).status == "delivered"


def test_each_status_step_is_a_job_due_a_step_after_the_last(
    synced, staff_client, run_jobs, settings
):
    settings.SANDBOX_STEP_SECONDS = 60
    sid = send(staff_client).json()["sid"]
    steps = DBTaskResult.objects.filter(task_path="twilio_sandbox.engine.status_step")

    step = steps.get()
    assert step.args_kwargs["args"] == [sid, "sent"]
    assert 55 < (step.run_after - timezone.now()).total_seconds() <= 60
    run_jobs()  # not due yet: nothing moves
    assert SandboxMessage.objects.get(sid=sid).status == "queued"

    steps.update(run_after=timezone.now())
    run_jobs()

    assert Message.objects.get(sid=sid).status == "sent"
    assert steps.filter(status="READY").get().args_kwargs["args"] == [sid, "delivered"]


def test_a_number_reserved_to_fail_ends_undelivered_with_the_reason(synced, staff_client, run_jobs):
    response = send(staff_client, to=engine.UNDELIVERABLE)

    assert response.status_code == 200, response.content
    run_jobs()
    message = Message.objects.get(sid=response.json()["sid"])
    assert message.status == "undelivered"
    assert message.error_code == 30003


def test_an_opted_out_recipient_is_refused_with_twilios_code(synced, staff_client):
    response = send(staff_client, to=engine.OPTED_OUT)

    assert response.status_code == 409
    assert "opted out" in response.json()["fields"]["numberTo"]
    assert not SandboxMessage.objects.filter(to_number=engine.OPTED_OUT).exists()


def test_an_mms_carries_its_media_to_the_stand_in(synced, staff_client):
    response = send(staff_client, text="Your x-ray", mediaUrls=["https://example.org/xray.jpg"])

    assert response.status_code == 200, response.content
    stored = SandboxMessage.objects.get(sid=response.json()["sid"])
    assert stored.media.get().content_type == "image/png"


def test_a_simulated_inbound_mms_is_stored_and_answered_with_the_auto_reply(
    synced, staff_client, run_jobs
):
    response = staff_client.post(
        reverse("twilio_sandbox_simulate:simulate_inbound"),
        {"from": "+14155550177", "to": DESK, "body": "Hello, it's me", "media": 1},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    inbound = Message.objects.get(sid=response.json()["inbound"])
    assert inbound.direction == "inbound"
    assert inbound.body == "Hello, it's me"
    media = Media.objects.get(message=inbound)
    [reply_sid] = response.json()["replies"]
    reply = Message.objects.get(sid=reply_sid)
    assert reply.direction == "outbound-reply"
    assert reply.to_number == "+14155550177"
    assert reply.body == "Hello! ♥️"
    # The TwiML's action: the stand-in reports the reply's delivery like a send's; and a
    # job fetched the patient's picture into storage, once the webhook had answered.
    run_jobs()
    reply.refresh_from_db()
    assert reply.status == "delivered"
    conversation = staff_client.get(api("conversation", DESK, "+14155550177")).json()
    assert [m["sid"] for m in conversation] == [inbound.sid, reply_sid]

    media.refresh_from_db()
    assert media.file.name.endswith(".png")
    picture = staff_client.get(api("media_item", inbound.sid, media.sid))
    assert picture.status_code == 200
    assert picture["Content-Type"] == "image/png"
    assert (
        b"".join(picture.streaming_content if picture.streaming else [picture.content])[:8]
        == b"\x89PNG\r\n\x1a\n"
    )


def test_simulating_needs_a_body_or_a_picture(synced, staff_client):
    response = staff_client.post(
        reverse("twilio_sandbox_simulate:simulate_inbound"),
        {"from": "+14155550177", "to": DESK, "body": ""},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "body" in response.json()["fields"]


def test_the_sandbox_inbound_command_reaches_the_app(synced, capsys):
    call_command("sandbox_inbound", "what are your hours?", "--from", "+14155550188")

    output = capsys.readouterr().out
    assert "+14155550188 texted +15005550006" in output
    reply = Message.objects.get(direction="outbound-reply", to_number="+14155550188")
    assert reply.body == "Say hello! 👻"


def test_delete_removes_the_message_from_the_stand_in_and_the_mirror(
    synced, staff_client, run_jobs
):
    sid = send(staff_client).json()["sid"]
    run_jobs()

    response = staff_client.delete(api("message_delete", sid))

    assert response.status_code == 200
    assert response.json() == {"sid": sid, "deleted": True}
    assert not SandboxMessage.objects.filter(sid=sid).exists()
    assert not Message.objects.filter(sid=sid).exists()


def test_deleting_a_message_still_in_flight_is_a_conflict(synced, staff_client):
    sid = send(staff_client).json()["sid"]  # no worker ran its steps: still queued

    response = staff_client.delete(api("message_delete", sid))

    assert response.status_code == 409
    assert "wait" in response.json()["information"]
    assert Message.objects.filter(sid=sid).exists()


def test_webhook_configuration_reaches_the_stand_in(synced, staff_client):
    nurse = Phone.objects.get(phone_number=NURSE)

    response = staff_client.post(
        api("inbound_webhook", nurse.sid),
        {"url": "https://example.org/sms", "method": "GET"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    number = SandboxNumber.objects.get(sid=nurse.sid)
    assert (number.sms_url, number.sms_method) == ("https://example.org/sms", "GET")

    response = staff_client.post(
        api("inbound_webhook_this_app", nurse.sid), {}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    number.refresh_from_db()
    assert number.sms_url == synced.url + api("inbound_treatment")
    assert number.sms_method == "POST"


def test_the_stand_in_is_not_served_when_the_sandbox_is_off(sandbox, client, settings):
    settings.TWILIO_SANDBOX = False
    url = f"/sandbox/twilio/2010-04-01/Accounts/{credentials.ACCOUNT_SID}/Messages.json"

    assert client.get(url).status_code == 404


def test_the_stand_in_never_calls_a_url_outside_this_app(synced, staff_client):
    nurse = Phone.objects.get(phone_number=NURSE)
    staff_client.post(
        api("inbound_webhook", nurse.sid),
        {"url": "https://example.org/sms", "method": "POST"},
        content_type="application/json",
    )

    response = staff_client.post(
        reverse("twilio_sandbox_simulate:simulate_inbound"),
        {"from": "+14155550177", "to": NURSE, "body": "hi"},
        content_type="application/json",
    )

    assert response.status_code == 502
    assert "only calls this app" in response.json()["information"]


def test_a_callback_url_outside_this_app_is_not_called_but_delivery_goes_on(
    synced, staff_client, run_jobs
):
    response = send(staff_client, callbackUrl="https://example.org/status")

    assert response.status_code == 200, response.content
    run_jobs()
    assert SandboxMessage.objects.get(sid=response.json()["sid"]).status == "delivered"
    assert not StatusEvent.objects.exists()


@pytest.mark.parametrize("media", ["1e400", "-1", '"two"', "11", "1.5"])
def test_an_impossible_picture_count_is_a_400(synced, staff_client, media):
    raw = f'{{"from": "+14155550177", "to": "{DESK}", "body": "x", "media": {media}}}'

    response = staff_client.post(
        reverse("twilio_sandbox_simulate:simulate_inbound"), raw, content_type="application/json"
    )

    assert response.status_code == 400
    assert "media" in response.json()["fields"]
