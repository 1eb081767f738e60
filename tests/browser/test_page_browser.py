"""The page in a real browser: each tab's main flow, the segment counter, errors by their
field, escaping of patients' text, keyboard use, and screenshots at two widths."""

import re
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect

from smsapp.models import Message
from smsapp.services import inbox
from tests import twilio_payloads as tw
from tests.browser.helpers import TWILIO, png, twilio_error, twilio_message, twilio_phone
from tests.factories import BASE_TIME, MediaFactory, MessageFactory, PhoneFactory

OURS = "+14155550100"
PATIENT = "+14155550199"


def _sent_form(call) -> dict[str, list[str]]:
    return parse_qs(
        call.request.body if isinstance(call.request.body, str) else call.request.body.decode()
    )


@pytest.fixture
def phone():
    return PhoneFactory(
        sid="PN" + "a" * 32,
        phone_number=OURS,
        friendly_name="Front desk",
        sms_url="https://old.example.org/sms",
    )


# --- Log ------------------------------------------------------------------------------------


def test_log_lists_received_messages_and_shows_an_mms_image_inline(app, twilio, phone):
    MessageFactory(from_number=OURS, to_number=PATIENT, body="Your appointment is at 3 pm")
    mms = MessageFactory(
        direction=Message.Direction.INBOUND,
        from_number=PATIENT,
        to_number=OURS,
        body="Here is the rash",
        status=Message.Status.RECEIVED,
        num_media=1,
    )
    media = MediaFactory(message=mms, content_type="image/png")
    twilio.get(
        f"{TWILIO}/Messages/{mms.sid}/Media/{media.sid}", body=png(), content_type="image/png"
    )

    page = app.open()
    page.select_option("#log-view", "to")
    row = page.locator("#log-list .msg-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("From +1 415 555 0199")
    expect(row).to_contain_text("Here is the rash")
    expect(row).to_contain_text("1 attachment")
    expect(row.locator(".chip")).to_have_text("Received")

    row.click()
    detail = page.locator("#log-detail")
    expect(detail.locator(".message-body")).to_have_text("Here is the rash")
    image = detail.locator(".gallery img")
    expect(image).to_have_count(1)
    # The bytes came from Twilio (mocked) through our media route and really decoded.
    expect(image).to_have_js_property("naturalWidth", 48)
    assert image.get_attribute("src").endswith(f"/medias/{mms.sid}/{media.sid}")

    detail.press("Escape")  # closes the detail and returns to the message it showed
    expect(detail).to_be_hidden()
    expect(row).to_be_focused()


def test_log_sent_view_pages_through_older_messages(app, phone):
    for n in range(35):
        MessageFactory(from_number=OURS, to_number=PATIENT, body=f"Reminder {n:02d}")

    page = app.open()
    page.select_option("#log-view", "from")
    rows = page.locator("#log-list .msg-row")
    expect(rows).to_have_count(30)
    expect(rows.first).to_contain_text("Reminder 34")  # newest first
    page.click("#log-older")
    expect(rows).to_have_count(35)
    expect(rows.last).to_contain_text("Reminder 00")
    expect(page.locator("#log-older")).to_be_hidden()


def test_conversation_reads_oldest_to_newest_with_sides(app, twilio, phone):
    MessageFactory(from_number=OURS, to_number=PATIENT, body="How are you feeling?")
    MessageFactory(
        direction=Message.Direction.INBOUND,
        from_number=PATIENT,
        to_number=OURS,
        body="Much better, thanks",
        status=Message.Status.RECEIVED,
    )
    MessageFactory(from_number=OURS, to_number="+14155550177", body="Someone else")
    photo = MessageFactory(
        direction=Message.Direction.INBOUND,
        from_number=PATIENT,
        to_number=OURS,
        body="",
        status=Message.Status.RECEIVED,
        num_media=1,
    )
    media = MediaFactory(message=photo, content_type="image/png")
    media_url = f"{TWILIO}/Messages/{photo.sid}/Media/{media.sid}"
    twilio.get(media_url, body=png(), content_type="image/png")

    page = app.open()
    page.select_option("#log-view", "conversation")
    page.fill("#log-counterpart", "+1 (415) 555-0199")
    page.press("#log-counterpart", "Enter")

    bubbles = page.locator("#log-list li")
    expect(bubbles).to_have_count(3)
    expect(bubbles.nth(0)).to_have_class("out")
    expect(bubbles.nth(0)).to_contain_text("How are you feeling?")
    expect(bubbles.nth(1)).to_have_class("in")
    expect(bubbles.nth(1)).to_contain_text("Much better, thanks")
    # A picture the patient sent shows as a thumbnail in its bubble.
    expect(bubbles.nth(2)).to_have_class("in")
    expect(bubbles.nth(2).locator("img.thumb-sm")).to_have_js_property("naturalWidth", 48)


def test_older_conversation_pages_go_above(app, phone):
    for n in range(35):
        inbound = n % 2 == 1
        MessageFactory(
            direction=Message.Direction.INBOUND if inbound else Message.Direction.OUTBOUND_API,
            from_number=PATIENT if inbound else OURS,
            to_number=OURS if inbound else PATIENT,
            body=f"Line {n:02d}",
        )

    page = app.open(f"/?patient={PATIENT}")
    page.click("#thread-back")  # opened on the patient's thread in the inbox
    page.select_option("#log-view", "conversation")  # the original view, for the patient
    texts = page.locator("#log-list .bubble-text")
    expect(texts).to_have_count(30)
    expect(texts.first).to_have_text("Line 05")
    expect(texts.last).to_have_text("Line 34")  # newest at the bottom
    page.click("#log-older-top")
    expect(texts).to_have_count(35)
    expect(texts.first).to_have_text("Line 00")
    expect(texts.nth(5)).to_have_text("Line 05")
    expect(page.locator("#log-older-top")).to_be_hidden()


def test_an_empty_conversation_says_what_to_do(app, phone):
    page = app.open(f"/?patient={PATIENT}")
    page.click("#thread-back")
    page.select_option("#log-view", "conversation")

    expect(page.locator("#log-state")).to_have_text(
        "No messages with +1 415 555 0199 yet. Send the first one from Send."
    )


def test_delete_asks_first_and_says_what_happened(app, twilio, phone):
    doomed = MessageFactory(from_number=OURS, to_number=PATIENT, body="Wrong patient, sorry")
    twilio.delete(f"{TWILIO}/Messages/{doomed.sid}.json", status=204)

    page = app.open()
    page.select_option("#log-view", "from")
    page.locator("#log-list .msg-row").click()
    page.click("#detail-delete")

    expect(page.locator("#detail-state")).to_have_text(
        f"Deleted message {doomed.sid} from Twilio and from this log."
    )
    assert app.dialogs and app.dialogs[0].startswith("confirm: Delete this message")
    expect(page.locator("#log-list .msg-row")).to_have_count(0)
    assert not Message.objects.filter(sid=doomed.sid).exists()


def test_declining_the_confirmation_deletes_nothing(app, twilio, phone):
    kept = MessageFactory(from_number=OURS, to_number=PATIENT)
    app.accept_confirm = False

    page = app.open()
    page.select_option("#log-view", "from")
    page.locator("#log-list .msg-row").click()
    page.click("#detail-delete")

    expect(page.locator("#detail-state")).to_have_text("Not deleted.")
    assert len(twilio.calls) == 0
    assert Message.objects.filter(sid=kept.sid).exists()


def test_a_patients_html_is_shown_as_text_and_never_runs(app, phone):
    hostile = "<img src=x onerror=alert(1)>"
    MessageFactory(
        direction=Message.Direction.INBOUND,
        from_number=PATIENT,
        to_number=OURS,
        body=hostile,
        status=Message.Status.RECEIVED,
    )

    page = app.open()
    page.select_option("#log-view", "to")
    row = page.locator("#log-list .msg-row")
    expect(row.locator(".preview")).to_have_text(hostile)
    row.click()
    expect(page.locator("#log-detail .message-body")).to_have_text(hostile)
    page.select_option("#log-view", "conversation")
    page.fill("#log-counterpart", PATIENT)
    page.press("#log-counterpart", "Enter")
    expect(page.locator("#log-list .bubble-text")).to_have_text(hostile)

    page.wait_for_timeout(300)  # give an injected onerror the chance to fire
    assert app.dialogs == []
    assert page.locator('img[src="x"]').count() == 0


# --- Send -----------------------------------------------------------------------------------


def test_send_shows_the_sid_and_the_status_advances_with_the_mirror(app, twilio, phone):
    sid = "SM" + "5" * 32
    twilio.post(
        f"{TWILIO}/Messages.json",
        json=twilio_message(sid, from_=OURS, to=PATIENT, body="See you at 3 pm"),
        status=201,
    )

    page = app.open()
    page.click("#tab-send")
    expect(page.locator("#send-callback")).to_have_value(
        "https://sms.example.org/plugin-io/api/twilio_sms_mms/outbound_api_status"
    )
    page.fill("#send-to", PATIENT)
    page.fill("#send-text", "See you at 3 pm")
    page.click("#send-submit")

    expect(page.locator("#send-result-sid")).to_have_text(sid)
    chip = page.locator("#send-result-status .chip")
    expect(chip).to_have_text("Queued")
    sent = _sent_form(twilio.calls[0])
    assert sent["To"] == [PATIENT]
    assert sent["From"] == [OURS]
    assert sent["Body"] == ["See you at 3 pm"]
    assert sent["StatusCallback"] == [
        "https://sms.example.org/plugin-io/api/twilio_sms_mms/outbound_api_status"
    ]
    expect(page.locator("#send-text")).to_have_value("")  # sent, so cleared

    Message.objects.filter(sid=sid).update(status=Message.Status.SENT)
    expect(chip).to_have_text("Sent", timeout=6000)
    Message.objects.filter(sid=sid).update(status=Message.Status.DELIVERED)
    expect(chip).to_have_text("Delivered", timeout=6000)
    expect(page.locator("#send-result-note")).to_have_text("Delivered to +1 415 555 0199.")

    page.click("#tab-log")  # the Log shows what was just sent
    expect(page.locator("#inbox-list li").first).to_contain_text("You: See you at 3 pm")


def test_a_failed_delivery_shows_twilios_reason(app, twilio, phone):
    sid = "SM" + "6" * 32
    twilio.post(
        f"{TWILIO}/Messages.json",
        json=twilio_message(sid, from_=OURS, to=PATIENT, body="Hello"),
        status=201,
    )

    page = app.open()
    page.click("#tab-send")
    page.fill("#send-to", PATIENT)
    page.fill("#send-text", "Hello")
    page.click("#send-submit")
    expect(page.locator("#send-result-sid")).to_have_text(sid)

    Message.objects.filter(sid=sid).update(status=Message.Status.UNDELIVERED, error_code=30003)
    expect(page.locator("#send-result-status .chip")).to_have_text("Undelivered", timeout=6000)
    expect(page.locator("#send-result-note")).to_contain_text(
        "The recipient's phone is switched off or out of reach."
    )


def test_a_twilio_refusal_is_shown_by_the_to_field_and_the_text_is_kept(app, twilio, phone):
    twilio.post(
        f"{TWILIO}/Messages.json",
        json=twilio_error(21610, "Attempt to send to unsubscribed recipient"),
        status=400,
    )
    text = "Your lab results are ready 🧪"

    page = app.open()
    page.click("#tab-send")
    page.fill("#send-to", PATIENT)
    page.fill("#send-text", text)
    page.click("#send-submit")

    error = page.locator("#send-to-error")
    expect(error).to_contain_text("opted out")
    expect(page.locator("#send-to")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#send-text")).to_have_value(text)
    expect(page.locator("#send-to")).to_have_value(PATIENT)
    expect(page.locator("#send-result")).to_be_hidden()


def test_the_to_field_explains_e164_before_sending(app, twilio, phone):
    page = app.open()
    page.click("#tab-send")
    page.fill("#send-to", "4155550199")
    page.press("#send-to", "Tab")

    expect(page.locator("#send-to-error")).to_have_text(
        "Add the country code: for the US that is +14155550199."
    )
    page.fill("#send-text", "Hi")
    page.click("#send-submit")
    assert len(twilio.calls) == 0  # nothing reached Twilio
    page.fill("#send-to", "+14155550199")
    expect(page.locator("#send-to-error")).to_be_hidden()


def test_only_sms_numbers_are_offered_and_mms_ones_are_marked(app, phone):
    PhoneFactory(phone_number="+14155550111", friendly_name="Voice only", sms=False, mms=False)
    PhoneFactory(phone_number="+14155550122", friendly_name="Texts only", mms=False)

    page = app.open()
    options = page.locator("#send-from option")
    expect(options).to_have_count(2)
    texts = options.all_text_contents()
    assert texts == ["+1 415 555 0100 · Front desk · MMS", "+1 415 555 0122 · Texts only"]


@pytest.mark.parametrize(
    ("text", "counter", "segments", "encoding"),
    [
        ("a" * 160, "160 characters · 1 segment", "1", "GSM-7"),
        ("a" * 161, "161 characters · 2 segments", "2", "GSM-7"),
        ("€" * 80, "160 characters · 1 segment", "1", "GSM-7"),
        ("😀" + "a" * 68, "70 characters · 1 segment", "1", "UCS-2"),
        ("😀" + "a" * 69, "71 characters · 2 segments", "2", "UCS-2"),
    ],
    ids=["gsm-160", "gsm-161", "extension-counts-2", "ucs2-70", "ucs2-71"],
)
def test_the_counter_knows_gsm7_from_ucs2(app, phone, text, counter, segments, encoding):
    page = app.open()
    page.click("#tab-send")
    page.fill("#send-text", text)

    shown = page.locator("#send-counter")
    expect(shown).to_have_text(re.compile("^" + re.escape(counter)))
    expect(shown).to_have_attribute("data-segments", segments)
    expect(shown).to_have_attribute("data-encoding", encoding)
    if encoding == "UCS-2":
        expect(shown).to_contain_text("“😀” is not in the GSM-7 set")


def test_up_to_ten_media_urls_and_a_callback_of_ones_own_go_to_twilio(app, twilio, phone):
    sid = "SM" + "7" * 32
    twilio.post(
        f"{TWILIO}/Messages.json",
        json=twilio_message(sid, from_=OURS, to=PATIENT, body="", num_media=2),
        status=201,
    )

    page = app.open()
    page.click("#tab-send")
    page.fill("#send-to", PATIENT)
    for n in range(10):
        page.click("#send-media-add")
        page.locator("#send-media input").nth(n).fill(f"https://cdn.example.org/{n}.jpg")
    expect(page.locator("#send-media-add")).to_be_disabled()
    for _ in range(8):
        page.locator("#send-media button").last.click()
    expect(page.locator("#send-counter")).to_contain_text("sent as MMS")
    page.click("#send-advanced summary")
    page.fill("#send-callback", "https://hooks.example.org/status")
    page.click("#send-submit")

    expect(page.locator("#send-result-sid")).to_have_text(sid)
    sent = _sent_form(twilio.calls[0])
    assert sent["MediaUrl"] == ["https://cdn.example.org/0.jpg", "https://cdn.example.org/1.jpg"]
    assert sent["StatusCallback"] == ["https://hooks.example.org/status"]


# --- Phones ---------------------------------------------------------------------------------


def test_phones_change_the_webhook_then_point_it_at_this_app(app, twilio, phone):
    ours = "https://sms.example.org/plugin-io/api/twilio_sms_mms/inbound_treatment"
    number_url = f"{TWILIO}/IncomingPhoneNumbers/{phone.sid}.json"
    twilio.post(
        number_url, json=twilio_phone(phone, sms_url="https://new.example.org/in", sms_method="GET")
    )

    page = app.open()
    page.click("#tab-phones")
    card = page.locator(f'.phone-card[data-sid="{phone.sid}"]')
    expect(card.locator("h3")).to_have_text("+1 415 555 0100")
    expect(card).to_contain_text("In use")
    expect(card.locator(".cap-on")).to_have_text(["SMS", "MMS", "VOICE"])
    expect(card.locator(".webhook-now")).to_contain_text("https://old.example.org/sms (POST)")

    card.get_by_label("Inbound webhook URL").fill("https://new.example.org/in")
    card.get_by_label("Method").select_option("GET")
    card.get_by_role("button", name="Save webhook").click()

    card = page.locator(f'.phone-card[data-sid="{phone.sid}"]')
    expect(card.locator('[role="status"]')).to_contain_text("Saved")
    expect(card.get_by_role("button", name="Save webhook")).to_be_focused()  # not lost
    expect(card.locator(".webhook-now")).to_contain_text("https://new.example.org/in (GET)")
    assert _sent_form(twilio.calls[-1]) == {
        "SmsUrl": ["https://new.example.org/in"],
        "SmsMethod": ["GET"],
    }
    phone.refresh_from_db()
    assert (phone.sms_url, phone.sms_method) == ("https://new.example.org/in", "GET")

    twilio.replace("POST", number_url, json=twilio_phone(phone, sms_url=ours, sms_method="POST"))
    card.get_by_role("button", name="Use this app").click()

    card = page.locator(f'.phone-card[data-sid="{phone.sid}"]')
    expect(card).to_contain_text("Replies come here")
    expect(card.locator(".webhook-now")).to_contain_text(f"{ours} (POST)")
    assert _sent_form(twilio.calls[-1])["SmsUrl"] == [ours]


@pytest.mark.parametrize("url", ["not a url", "http://example.org/sms"])
def test_a_webhook_that_is_not_an_https_url_is_refused_by_its_field(app, twilio, phone, url):
    page = app.open()
    page.click("#tab-phones")
    card = page.locator(".phone-card")
    card.get_by_label("Inbound webhook URL").fill(url)
    card.get_by_role("button", name="Save webhook").click()

    expect(card.locator(".field-error")).to_contain_text("full https address")
    assert len(twilio.calls) == 0


# --- the page as a whole --------------------------------------------------------------------


def test_tabs_switch_with_the_keyboard(app, phone):
    page = app.open()
    log_tab = page.locator("#tab-log")
    log_tab.focus()

    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-send")).to_be_focused()
    expect(page.locator("#tab-send")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-send")).to_be_visible()
    expect(page.locator("#panel-log")).to_be_hidden()
    expect(log_tab).to_have_attribute("tabindex", "-1")

    page.keyboard.press("End")
    expect(page.locator("#tab-phones")).to_be_focused()
    expect(page.locator("#panel-phones")).to_be_visible()
    page.keyboard.press("ArrowRight")  # wraps round
    expect(log_tab).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#tab-phones")).to_be_focused()
    page.keyboard.press("Home")
    expect(log_tab).to_be_focused()
    expect(page.locator("#panel-log")).to_be_visible()

    # Tab leaves the tab list (roving tabindex: one stop for the whole bar) for Sign out
    # at the bar's end, then the panel.
    page.keyboard.press("Tab")
    expect(page.locator(".whoami button")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#panel-log")).to_be_focused()


def test_without_numbers_the_page_asks_twilio_once_then_says_how_to_get_them(app, twilio):
    numbers = tw.add_paged_list(twilio, "IncomingPhoneNumbers.json", "incoming_phone_numbers", [[]])
    page = app.open()

    expect(page.locator("#inbox-state")).to_contain_text("Sync with Twilio")
    page.click("#tab-phones")
    expect(page.locator("#phones-state")).to_contain_text("Sync with Twilio")
    page.click("#tab-log")
    page.click("#tab-phones")
    assert numbers.pages_served == 1  # once (phone_list on a fresh install), not in a loop


def test_when_twilio_is_not_configured_sending_says_which_settings(app, phone, settings):
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_API_KEY = ""
    settings.TWILIO_API_SECRET = ""
    settings.TWILIO_AUTH_TOKEN = ""

    page = app.open()
    expect(page.locator("#not-configured")).to_contain_text("TWILIO_API_KEY")
    page.click("#tab-send")
    page.fill("#send-to", PATIENT)
    page.fill("#send-text", "Hello")
    page.click("#send-submit")

    expect(page.locator("#send-error")).to_contain_text("TWILIO_ACCOUNT_SID")
    expect(page.locator("#send-text")).to_have_value("Hello")


def test_screenshots_of_each_tab_at_two_widths(app, twilio, phone, screenshots):
    PhoneFactory(phone_number="+14155550122", friendly_name="Billing", mms=False, status="in-use")
    for n, (ours, body) in enumerate(
        [
            (True, "Hi Maria, this is Dr. Chen's office. Your appointment is tomorrow at 3 pm."),
            (False, "Thanks! Can I send you a photo of the rash?"),
            (True, "Yes please, send it here."),
            (False, "Here it is"),
            (True, "Thank you, the doctor will look at it today."),
        ]
    ):
        MessageFactory(
            direction=Message.Direction.OUTBOUND_API if ours else Message.Direction.INBOUND,
            from_number=OURS if ours else PATIENT,
            to_number=PATIENT if ours else OURS,
            body=body,
            status=Message.Status.DELIVERED if ours else Message.Status.RECEIVED,
            num_media=0 if ours or n != 3 else 1,
            date_created=BASE_TIME + timedelta(minutes=n * 7),
        )
    MessageFactory(
        from_number=OURS,
        to_number="+14155550177",
        body="Reminder: fasting blood test on Monday.",
        status=Message.Status.UNDELIVERED,
        error_code=30005,
        date_created=BASE_TIME + timedelta(hours=2),
    )
    inbox.record_new(inbox.message_row(m) for m in Message.objects.all())  # as mirrored
    photo = Message.objects.get(num_media=1)
    media = MediaFactory(message=photo, content_type="image/png")
    twilio.get(
        f"{TWILIO}/Messages/{photo.sid}/Media/{media.sid}",
        body=png(320, 240, (200, 120, 110)),
        content_type="image/png",
    )

    for width in (420, 1280):
        page = app.open(f"/?patient={PATIENT}", width=width, height=900)
        expect(page.locator("#thread-list li")).to_have_count(5)
        expect(page.locator("#thread-list img")).to_have_js_property("naturalWidth", 320)
        page.screenshot(path=screenshots / f"log-{width}.png", full_page=True)
        if width == 420:
            page.click("#thread-back")
        page.select_option("#log-view", "conversation")
        page.locator("#log-list .bubble").nth(3).click()
        expect(page.locator("#log-detail .gallery img")).to_have_js_property("naturalWidth", 320)
        page.screenshot(path=screenshots / f"log-conversation-{width}.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width

        page.click("#tab-send")
        page.fill("#send-text", "Your results are in. Please call us back 📞")
        page.screenshot(path=screenshots / f"send-{width}.png", full_page=True)

        page.click("#tab-phones")
        expect(page.locator(".phone-card")).to_have_count(2)
        page.screenshot(path=screenshots / f"phones-{width}.png", full_page=True)

    for name in ("log", "log-conversation", "send", "phones"):
        for width in (420, 1280):
            assert (screenshots / f"{name}-{width}.png").stat().st_size > 5000
