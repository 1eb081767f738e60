"""The inbox in a real browser: the Log opens on the conversations with unread badges and
"Needs reply" chips, the filters, a thread as chat bubbles with pictures inline, replying
from it (the same send path as the Send tab), marking read, new texts arriving without a
reload (polls only while visible, answered 304 while nothing changes), the page opened
for a patient, and screenshots at 420 px and 1280 px, never scrolling sideways."""

from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from smsapp.models import Conversation, MessageTemplate, ScheduledMessage
from smsapp.services import inbox
from tests import twilio_payloads as tw
from tests.browser.helpers import TWILIO, png, twilio_error, twilio_message
from tests.factories import MediaFactory, MessageFactory, PhoneFactory
from tests.webhook_signing import post_signed

OURS = "+14155550100"
NURSE = "+14155550101"
ANN = "+14155550199"  # needs a reply, unread
BOB = "+14155550177"  # we wrote last
CARA = "+14155550166"  # sent a picture, read
DAN = "+14155550155"  # opted out

INBOUND = reverse("smsapp:inbound_treatment")


@pytest.fixture
def phone():
    PhoneFactory(sid="PN" + "b" * 32, phone_number=NURSE, friendly_name="Nurse line")
    return PhoneFactory(sid="PN" + "a" * 32, phone_number=OURS, friendly_name="Front desk")


def _ago(**delta):
    return timezone.now().replace(microsecond=0) - timedelta(**delta)


def _mirrored(**fields):
    """A message stored and folded into its conversation, as the mirror does."""
    inbound = fields.get("direction") == "inbound"
    fields.setdefault("status", "received" if inbound else "delivered")
    message = MessageFactory(**fields)
    inbox.record_new([inbox.message_row(message)])
    return message


def _patient_texts(patient, body, ago, ours=OURS, **fields):
    return _mirrored(
        direction="inbound", from_number=patient, to_number=ours, body=body,
        date_created=_ago(**ago), **fields,
    )  # fmt: skip


def _we_text(patient, body, ago, ours=OURS, **fields):
    return _mirrored(
        direction="outbound-api", from_number=ours, to_number=patient, body=body,
        date_created=_ago(**ago), **fields,
    )  # fmt: skip


@pytest.fixture
def inbox_with_four(phone, twilio):
    """Ann waits for an answer, we wrote to Bob last, Cara sent a picture (read, not
    answered), Dan texted STOP."""
    _we_text(ANN, "Your appointment is on Friday at 3 pm.", {"days": 1})
    _patient_texts(ANN, "Can I move it to Monday morning instead?", {"minutes": 12})
    _patient_texts(BOB, "Is the lab open on Saturdays?", {"hours": 3})
    _we_text(BOB, "Yes, 9 to 12.", {"hours": 2})
    photo = _patient_texts(CARA, "", {"days": 2}, num_media=1)
    media = MediaFactory(message=photo, content_type="image/png")
    twilio.get(
        f"{TWILIO}/Messages/{photo.sid}/Media/{media.sid}", body=png(), content_type="image/png"
    )
    inbox.mark_read(our_number=OURS, counterpart=CARA, user=None)
    _patient_texts(DAN, "STOP", {"days": 9})
    return photo


def _rows(page):
    return page.locator("#inbox-list li")


def _row(page, number):
    return page.locator(f'#inbox-list li[data-counterpart="{number}"]')


def _no_sideways_scroll(page, width):
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _shoot(page, folder, name):
    for width in (420, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=folder / f"{name}-{width}.png", full_page=True)
        _no_sideways_scroll(page, width)
    page.set_viewport_size({"width": 420, "height": 900})


def test_the_log_opens_on_the_conversations_with_unread_badges_and_filters(
    app, inbox_with_four, screenshots
):
    page = app.open()

    expect(page.locator("#log-view")).to_have_value("inbox")
    expect(_rows(page)).to_have_count(4)
    ann = _row(page, ANN)
    expect(_rows(page).first).to_have_attribute("data-counterpart", ANN)  # newest first
    expect(ann.locator(".who")).to_have_text("+1 415 555 0199")
    expect(ann.locator(".convo")).to_have_class("msg-row convo is-unread")
    expect(ann.locator(".preview")).to_have_text("Can I move it to Monday morning instead?")
    expect(ann.locator(".badge")).to_have_text("1 unread")  # visually "1"
    expect(ann.locator(".chip")).to_have_text("Needs reply")
    expect(_row(page, BOB).locator(".preview")).to_have_text("You: Yes, 9 to 12.")
    expect(_row(page, CARA).locator(".preview")).to_have_text("1 attachment")
    expect(_row(page, CARA).locator(".badge")).to_have_count(0)
    expect(_row(page, DAN).locator(".chip")).to_have_count(0)  # STOP needs no reply
    # Unread conversations: Ann, Bob (his question came before our answer), Dan.
    expect(page.locator("#log-badge")).to_have_text("3 unread")  # visually "3"
    expect(page).to_have_title("(3) Text messages · Log, Send, Phones")
    expect(page.locator("#count-unread")).to_have_text(" 3")
    expect(page.locator("#count-needs-reply")).to_have_text(" 2")  # Ann, and Cara's picture
    _shoot(page, screenshots, "inbox-list")

    page.click('.segmented [data-filter="needs_reply"]')
    expect(_rows(page)).to_have_count(2)
    unread = page.locator('.segmented [data-filter="unread"]')
    unread.click()
    expect(_rows(page)).to_have_count(3)
    expect(unread).to_have_attribute("aria-pressed", "true")
    page.click('.segmented [data-filter="all"]')
    expect(_rows(page)).to_have_count(4)


def test_a_thread_reads_like_a_phone_and_opening_it_marks_it_read(
    app, inbox_with_four, screenshots
):
    page = app.open()
    _row(page, ANN).click()

    thread = page.locator("#thread")
    expect(thread).to_be_visible()
    expect(page.locator(".inbox-list-pane")).to_be_hidden()  # two views in the pane
    expect(page.locator("#thread-title")).to_have_text("+1 415 555 0199")
    expect(page.locator("#thread-flags")).to_have_text("Needs reply")
    bubbles = page.locator("#thread-list li")
    expect(bubbles).to_have_count(2)
    expect(bubbles.nth(0)).to_have_class("out")
    expect(bubbles.nth(0).locator(".chip")).to_have_text("Delivered")  # status under ours
    expect(bubbles.nth(1)).to_have_class("in")  # newest at the bottom
    expect(bubbles.nth(1).locator(".chip")).to_have_count(0)
    expect(page.locator("#log-badge")).to_have_text("2 unread", timeout=8000)
    assert Conversation.objects.get(counterpart=ANN).unread == 0
    expect(page.locator("#log-form")).to_be_hidden()
    _shoot(page, screenshots, "inbox-thread")

    page.click("#thread-back")
    expect(_row(page, ANN).locator(".badge")).to_have_count(0)
    expect(_row(page, ANN).locator(".convo")).to_be_focused()


def test_pictures_show_inline_and_open_full_size(app, inbox_with_four):
    page = app.open()
    _row(page, CARA).click()

    picture = page.locator("#thread-list .thumbs a img")
    expect(picture).to_have_js_property("naturalWidth", 48)
    assert page.locator("#thread-list .thumbs a").get_attribute("target") == "_blank"


def test_side_by_side_at_1280_px(app, inbox_with_four, screenshots):
    page = app.open(width=1280)
    expect(page.locator("#thread-none")).to_be_visible()
    _row(page, BOB).click()

    expect(page.locator(".inbox-list-pane")).to_be_visible()
    expect(page.locator("#thread")).to_be_visible()
    expect(page.locator("#thread-back")).to_be_hidden()
    expect(_row(page, BOB).locator(".convo")).to_have_attribute("aria-current", "true")
    page.screenshot(path=screenshots / "inbox-side-by-side-1280.png", full_page=True)
    _no_sideways_scroll(page, 1280)


def test_a_reply_goes_out_like_a_send_and_answers_the_patient(app, twilio, inbox_with_four):
    sid = "SM" + "9" * 32
    twilio.post(
        f"{TWILIO}/Messages.json",
        json=twilio_message(sid, from_=OURS, to=ANN, body="Monday 9:30 works.", status="queued"),
        status=201,
    )
    page = app.open()
    _row(page, ANN).click()

    page.click("#reply-send")  # nothing typed
    expect(page.locator("#reply-text-error")).to_have_text("Write a message before sending.")
    page.fill("#reply-text", "Monday 9:30 works.")
    expect(page.locator("#reply-counter")).to_have_text("18 characters · 1 segment")
    page.press("#reply-text", "Control+Enter")

    bubbles = page.locator("#thread-list li")
    expect(bubbles).to_have_count(3)
    expect(bubbles.last).to_have_class("out")
    expect(bubbles.last.locator(".bubble-text")).to_have_text("Monday 9:30 works.")
    expect(page.locator("#reply-text")).to_have_value("")
    [call] = [c for c in twilio.calls if c.request.method == "POST"]
    assert parse_qs(call.request.body)["To"] == [ANN]
    expect(page.locator("#thread-flags")).to_have_text("", timeout=8000)  # answered
    expect(_row(page, ANN).locator(".chip")).to_have_count(0)


def test_a_twilio_refusal_is_shown_under_the_reply_and_the_text_is_kept(
    app, twilio, inbox_with_four
):
    twilio.post(
        f"{TWILIO}/Messages.json",
        json=twilio_error(21408, "Permission to send an SMS has not been enabled for the region"),
        status=400,
    )
    page = app.open()
    _row(page, DAN).click()
    page.fill("#reply-text", "We miss you!")
    page.click("#reply-send")

    expect(page.locator("#reply-error")).to_contain_text("Twilio error 21408")
    expect(page.locator("#reply-text")).to_have_value("We miss you!")
    expect(page.locator("#reply-send")).to_be_enabled()  # a refusal, not an opt-out


def test_the_reply_box_has_templates_and_send_later_with_cancel(
    app, twilio, inbox_with_four, screenshots
):
    MessageTemplate.objects.create(name="Directions", body="We are at 1 Main St, {clinic_name}.")
    page = app.open()
    _row(page, BOB).click()

    page.select_option("#reply-template", label="Directions")
    expect(page.locator("#reply-text")).to_have_value("We are at 1 Main St, Sunrise Clinic.")
    page.check("#reply-later")
    expect(page.locator("#reply-at-hint")).to_contain_text("Sends ")
    expect(page.locator("#reply-send")).to_have_text("Schedule")
    page.click("#reply-send")

    expect(page.locator("#reply-state")).to_contain_text("Scheduled: it will be sent")
    pending = page.locator("#thread-pending-list li")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("We are at 1 Main St")
    _shoot(page, screenshots, "inbox-reply-scheduled")
    app.accept_confirm = True
    pending.get_by_role("button", name="Cancel").click()
    expect(pending).to_have_count(0)
    assert ScheduledMessage.objects.get().state == "cancelled"


def test_an_unknown_outcome_keeps_the_reply_off_until_twilio_is_asked(app, twilio, inbox_with_four):
    twilio.post(f"{TWILIO}/Messages.json", body=requests.ReadTimeout("read timed out"))
    page = app.open()
    _row(page, ANN).click()
    page.fill("#reply-text", "See you Monday.")
    page.click("#reply-send")

    expect(page.locator("#reply-state .chip")).to_have_text("Checking")
    expect(page.locator("#reply-send")).to_be_disabled()
    expect(page.locator("#reply-text")).to_have_value("See you Monday.")
    page.fill("#reply-text", "See you Monday!")
    expect(page.locator("#reply-send")).to_be_enabled()


def test_new_texts_appear_within_ten_seconds_and_quiet_polls_are_304(app, inbox_with_four):
    page = app.open()
    expect(_rows(page)).to_have_count(4)
    answers = []
    page.on(
        "response",
        lambda r: answers.append(r.status) if "inbox_counts" in r.url else None,
    )
    page.wait_for_timeout(5500)  # one quiet poll
    assert 304 in answers

    _row(page, BOB).click()
    params = {"MessageSid": tw.message_sid(4242), "From": BOB, "To": OURS, "Body": "Thanks!"}
    assert post_signed(Client(), INBOUND, params).status_code == 200

    expect(page.locator("#thread-list li .bubble-text").last).to_have_text("Thanks!", timeout=10000)
    page.click("#thread-back")
    expect(_rows(page).first).to_have_attribute("data-counterpart", BOB)
    # Read while shown: only Ann and Dan are unread now.
    expect(page.locator("#log-badge")).to_have_text("2 unread", timeout=10000)


def _seen_as(page, visibility):
    """What the browser reports when the tab is switched away from, or back to."""
    page.evaluate(
        """state => {
            Object.defineProperty(document, "visibilityState", {value: state, configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        visibility,
    )


def test_polls_stop_while_the_page_is_hidden(app, inbox_with_four):
    page = app.open()
    expect(_rows(page)).to_have_count(4)
    polls = []
    page.on("request", lambda r: polls.append(r.url) if "inbox_counts" in r.url else None)
    _seen_as(page, "hidden")
    page.wait_for_timeout(6000)
    assert polls == []

    _seen_as(page, "visible")
    page.wait_for_timeout(500)
    assert len(polls) == 1  # at once on coming back


def test_opened_for_a_patient_it_opens_their_conversation_on_the_number_they_use(
    app, phone, twilio, screenshots
):
    _patient_texts(ANN, "Old question to the front desk", {"days": 30})
    _patient_texts(ANN, "Is my prescription ready?", {"minutes": 5}, ours=NURSE)

    page = app.open(f"/?patient={ANN}")

    expect(page.locator("#thread")).to_be_visible()
    expect(page.locator("#log-number")).to_have_value(NURSE)
    expect(page.locator("#thread-list .bubble-text")).to_have_text(["Is my prescription ready?"])
    _shoot(page, screenshots, "inbox-patient")


def test_a_patient_never_texted_gets_an_empty_thread_to_write_in(app, phone, twilio):
    page = app.open(f"/?patient={ANN}")

    expect(page.locator("#thread-state")).to_have_text(
        "No messages with +1 415 555 0199 yet. Write the first one below."
    )
    expect(page.locator("#reply-text")).to_be_visible()


def test_the_original_lists_stay_one_choice_away(app, inbox_with_four):
    page = app.open()
    page.select_option("#log-view", "to")

    expect(page.locator("#inbox")).to_be_hidden()
    expect(page.locator("#log-list .msg-row")).to_have_count(4)
    _no_sideways_scroll(page, 420)
    page.select_option("#log-view", "inbox")
    expect(_rows(page)).to_have_count(4)


def test_patients_text_is_shown_as_text_in_the_list_and_thread(app, phone):
    hostile = "<img src=x onerror=\"localStorage.setItem('ran', 1)\"><b>bold</b>"
    _patient_texts(ANN, hostile, {"minutes": 1})
    page = app.open()

    expect(_row(page, ANN).locator(".preview")).to_have_text(hostile)
    _row(page, ANN).click()
    expect(page.locator("#thread-list .bubble-text")).to_have_text(hostile)
    assert page.evaluate("() => localStorage.getItem('ran')") is None
