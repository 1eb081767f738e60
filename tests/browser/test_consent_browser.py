"""Consent and quiet hours on the page, in a real browser: the Send tab warns as soon as an
opted-out number is typed and keeps Send off; the inbox's thread shows a banner with the
reason and switches its reply box off (consent.js); a manual send inside the patient's
quiet hours asks first, in the Send tab and in the thread (quiet.js). Screenshots at two
widths."""

import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from smsapp.models import Message, ScheduledMessage
from smsapp.services import consent, inbox
from tests.browser.helpers import TWILIO, twilio_error, twilio_message
from tests.browser.helpers import screenshots_at_two_widths as _screenshots
from tests.factories import MessageFactory, PhoneFactory

OURS = "+14155550100"
PATIENT = "+14155550199"  # San Francisco
OTHER = "+14155550188"
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def phone():
    return PhoneFactory(sid="PN" + "a" * 32, phone_number=OURS, friendly_name="Front desk")


@pytest.fixture
def stopped(phone):
    """The patient texted STOP to the front desk."""
    MessageFactory(from_number=OURS, to_number=PATIENT, body="Your lab results are in.")
    MessageFactory(direction=Message.Direction.INBOUND, from_number=PATIENT, to_number=OURS,
                   body="STOP", status=Message.Status.RECEIVED)  # fmt: skip
    return consent.record(patient_number=PATIENT, our_number=OURS, opted_out=True,
                          source="keyword", keyword="STOP")  # fmt: skip


def _twilio_accepts(twilio, sid: str, body: str) -> None:
    answer = twilio_message(sid, from_=OURS, to=PATIENT, body=body)
    twilio.post(f"{TWILIO}/Messages.json", json=answer, status=201)


def _posts(twilio) -> int:
    return sum(
        c.request.method == "POST" and c.request.url.startswith(TWILIO) for c in twilio.calls
    )


def test_the_send_tab_warns_as_soon_as_an_opted_out_number_is_typed(
    app, twilio, stopped, screenshots
):
    page = app.open()
    page.click("#tab-send")
    page.fill("#send-text", "Your lab results are in.")

    page.locator("#send-to").press_sequentially(PATIENT)  # no blur: while typing

    banner = page.locator("#send-to-consent")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Opted out of texts")
    expect(banner).to_contain_text("by texting STOP to +1 415 555 0100")
    expect(banner).to_contain_text("They can text START to opt back in.")
    expect(page.locator("#send-submit")).to_be_disabled()
    expect(page.locator("#send-submit-hint")).to_contain_text("this patient opted out")
    _screenshots(page, screenshots, "consent-send-warning")

    page.fill("#send-to", OTHER)

    expect(banner).to_be_hidden()
    expect(page.locator("#send-submit")).to_be_enabled()
    assert _posts(twilio) == 0


def test_the_conversation_shows_the_reason_and_switches_the_reply_box_off(
    app, twilio, stopped, screenshots
):
    page = app.open(f"/?patient={PATIENT}")

    banner = page.locator("#reply-consent")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Opted out of texts")
    expect(banner).to_contain_text("They can text START to opt back in.")
    expect(page.locator("#reply-text")).to_be_disabled()
    expect(page.locator("#reply-send")).to_be_disabled()
    expect(page.locator("#reply-text")).to_have_attribute(
        "aria-describedby", re.compile(r"^reply-consent ")
    )
    expect(page.locator("#thread-list li")).to_have_count(2)
    _screenshots(page, screenshots, "consent-thread-banner")


def test_the_inbox_list_marks_the_patient_as_opted_out(app, twilio, stopped):
    inbox.record_new(inbox.message_row(m) for m in Message.objects.all())  # as mirrored
    page = app.open()

    row = page.locator("#inbox-list li", has_text="+1 415 555 0199")
    expect(row.locator(".chip", has_text="Opted out")).to_be_visible()
    expect(row.locator(".chip", has_text="Opted out")).to_have_attribute(
        "title", re.compile("opted out of texts")
    )


def test_the_reply_box_sends_and_a_refusal_switches_it_off(app, twilio, phone, screenshots):
    MessageFactory(direction=Message.Direction.INBOUND, from_number=PATIENT, to_number=OURS,
                   body="Can I come at 4?", status=Message.Status.RECEIVED)  # fmt: skip
    sid = "SM" + "5" * 32
    _twilio_accepts(twilio, sid, "Yes, see you at 4.")
    page = app.open(f"/?patient={PATIENT}")
    expect(page.locator("#thread-list li")).to_have_count(1)
    expect(page.locator("#reply-consent")).to_be_hidden()

    page.fill("#reply-text", "Yes, see you at 4.")
    page.click("#reply-send")

    expect(page.locator("#thread-list li")).to_have_count(2)
    expect(page.locator("#reply-text")).to_have_value("")

    # Twilio learned of a STOP this app never saw: 21610, recorded, and the box goes off.
    refusal = twilio_error(21610, "Attempt to send to unsubscribed recipient")
    twilio.replace("POST", f"{TWILIO}/Messages.json", json=refusal, status=400)
    page.fill("#reply-text", "One more thing: bring your card.")
    page.click("#reply-send")

    expect(page.locator("#reply-consent")).to_contain_text("(error 21610)")
    expect(page.locator("#reply-send")).to_be_disabled()
    expect(page.locator("#reply-text")).to_have_value("One more thing: bring your card.")
    assert consent.is_opted_out(our_number=OURS, patient_number=PATIENT)


def _quiet_now(settings) -> str:
    """Quiet hours around now for the patient; the time they end, as the page shows it."""
    now = timezone.now().astimezone(LOS_ANGELES)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    settings.QUIET_HOURS = f"{start:%H:%M}-{end:%H:%M}"
    return f"{end:%H:%M}"


def test_a_manual_send_inside_quiet_hours_asks_and_can_schedule_for_their_end(
    app, twilio, phone, settings, screenshots
):
    end = _quiet_now(settings)
    page = app.open()
    page.click("#tab-send")
    page.fill("#send-to", PATIENT)
    page.fill("#send-text", "Your prescription is ready.")
    page.click("#send-submit")

    prompt = page.locator("#send-quiet")
    expect(prompt).to_be_visible()
    expect(prompt.locator(".quiet-question")).to_have_text(
        re.compile(rf"^It is \d\d:\d\d for this patient: send now or schedule for {end}\?$")
    )
    expect(prompt.get_by_role("button", name=f"Schedule for {end}")).to_be_focused()
    _screenshots(page, screenshots, "quiet-hours-question")

    prompt.get_by_role("button", name=f"Schedule for {end}").click()

    expect(page.locator("#send-result-title")).to_have_text("Scheduled for +1 415 555 0199")
    item = ScheduledMessage.objects.get()
    assert f"{item.send_at.astimezone(LOS_ANGELES):%H:%M}" == end
    assert _posts(twilio) == 0


def test_send_now_inside_quiet_hours_sends_at_once(app, twilio, phone, settings):
    _quiet_now(settings)
    sid = "SM" + "6" * 32
    _twilio_accepts(twilio, sid, "Your ride is here.")
    page = app.open()
    page.click("#tab-send")
    page.fill("#send-to", PATIENT)
    page.fill("#send-text", "Your ride is here.")
    page.click("#send-submit")

    page.locator("#send-quiet").get_by_role("button", name="Send now").click()

    expect(page.locator("#send-result-sid")).to_have_text(sid)
    assert _posts(twilio) == 1


def test_the_reply_box_asks_too_and_cancel_sends_nothing(app, twilio, phone, settings):
    _quiet_now(settings)
    page = app.open(f"/?patient={PATIENT}")
    page.fill("#reply-text", "See you tomorrow.")
    page.click("#reply-send")

    prompt = page.locator("#reply-quiet")
    expect(prompt).to_contain_text("for this patient: send now or schedule for")
    prompt.get_by_role("button", name="Cancel").click()

    expect(prompt).to_be_hidden()
    expect(page.locator("#reply-text")).to_have_value("See you tomorrow.")
    assert _posts(twilio) == 0
    assert not ScheduledMessage.objects.exists()
    assert json.dumps(app.dialogs) == "[]"


def test_send_later_says_when_a_time_falls_in_the_quiet_hours(app, twilio, phone, settings):
    end = _quiet_now(settings)
    inside = timezone.now().astimezone(LOS_ANGELES) + timedelta(minutes=30)
    page = app.open()
    page.click("#tab-send")
    page.fill("#send-to", PATIENT)
    page.check("#send-later")
    expect(page.locator("#send-at-zone")).to_contain_text("America/Los_Angeles")

    page.fill("#send-at", f"{inside:%Y-%m-%dT%H:%M}")

    expect(page.locator("#send-at-hint")).to_contain_text(
        re.compile(rf"That is inside the patient’s quiet hours \(\d\d:\d\d–{end}\), so it "
                   rf"will go out at {end}\.")
    )  # fmt: skip
