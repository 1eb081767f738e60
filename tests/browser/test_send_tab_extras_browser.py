"""The Send tab's template picker, "Send later" with the pending list and Cancel, the
unknown-outcome state that keeps Send off, and the Phones tab's sync progress, in a real
browser, with screenshots at two widths."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from playwright.sync_api import expect

from smsapp.models import MessageTemplate, ScheduledMessage, SendAttempt
from tests import twilio_payloads as tw
from tests.browser.helpers import TWILIO, twilio_message
from tests.browser.helpers import screenshots_at_two_widths as _screenshots
from tests.factories import PhoneFactory

OURS = "+14155550100"
PATIENT = "+14155550199"  # San Francisco: America/Los_Angeles
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def phone(settings):
    settings.TIME_ZONE = "America/New_York"  # the clinic is elsewhere than the patient
    return PhoneFactory(sid="PN" + "a" * 32, phone_number=OURS, friendly_name="Front desk")


def _send_tab(app, width=420):
    page = app.open(f"/?patient={PATIENT}", width=width)
    page.click("#tab-send")
    return page


def _sends(twilio) -> int:
    """POSTs to Twilio's Messages (the live server's own requests pass through the mock)."""
    return sum(
        c.request.method == "POST" and c.request.url.startswith(TWILIO) for c in twilio.calls
    )


def _jobs_due_now():
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())


def test_a_template_fills_the_text_and_its_first_name_must_be_typed(
    app, twilio, phone, screenshots
):
    MessageTemplate.objects.create(
        name="Results ready", body="Hi {first_name}, {clinic_name} has your results: {our_number}"
    )
    sid = "SM" + "7" * 32
    twilio.post(
        f"{TWILIO}/Messages.json",
        json=twilio_message(sid, from_=OURS, to=PATIENT, body="x"),
        status=201,
    )
    page = _send_tab(app)

    page.select_option("#send-template", label="Results ready")

    text = page.locator("#send-text")
    expect(text).to_have_value("Hi {first_name}, Sunrise Clinic has your results: +1 415-555-0100")
    expect(text).to_be_focused()
    expect(page.locator("#send-text-hint")).to_contain_text("Replace {first_name}")
    page.click("#send-submit")
    expect(page.locator("#send-text-error")).to_contain_text("Replace {first_name}")
    assert _sends(twilio) == 0
    _screenshots(page, screenshots, "send-template")

    page.fill("#send-text", "Hi Maria, Sunrise Clinic has your results: +1 415-555-0100")
    page.click("#send-submit")
    expect(page.locator("#send-result-sid")).to_have_text(sid)


def test_send_later_reads_the_patients_time_shows_the_clinics_and_can_be_cancelled(
    app, twilio, phone, screenshots
):
    MessageTemplate.objects.create(name="Fasting reminder", body="Reminder: fasting blood test.")
    page = _send_tab(app)
    expect(page.locator("#send-template-field")).to_be_visible()
    page.fill("#send-text", "Reminder: fasting blood test tomorrow at 8.")
    page.check("#send-later")

    expect(page.locator("#send-at-zone")).to_have_text("for the patient (America/Los_Angeles)")
    tomorrow = (datetime.now(LOS_ANGELES) + timedelta(days=1)).date()
    expect(page.locator("#send-at")).to_have_value(f"{tomorrow}T09:00")
    hint = page.locator("#send-at-hint")
    expect(hint).to_contain_text("9:00")
    expect(hint).to_contain_text("for the patient")
    expect(hint).to_contain_text("12:00")  # 9:00 in San Francisco is noon in New York
    expect(hint).to_contain_text("at the clinic")
    expect(page.locator("#send-submit")).to_have_text("Schedule")

    page.click("#send-submit")

    expect(page.locator("#send-result-title")).to_have_text("Scheduled for +1 415 555 0199")
    item = ScheduledMessage.objects.get()
    wanted = datetime.combine(tomorrow, datetime.min.time(), LOS_ANGELES).replace(hour=9)
    assert item.send_at == wanted
    assert _sends(twilio) == 0
    pending = page.locator("#send-pending-list li")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("Reminder: fasting blood test tomorrow at 8.")
    expect(pending).to_contain_text("Scheduled by frontdesk")
    expect(pending.locator(".pending-when")).to_contain_text("at the clinic")
    _screenshots(page, screenshots, "send-later")

    pending.get_by_role("button", name="Cancel").click()

    expect(page.locator("#send-pending-state")).to_have_text("Cancelled; it will not be sent.")
    expect(pending).to_have_count(0)
    assert ScheduledMessage.objects.get().state == "cancelled"
    assert any("Cancel this scheduled text?" in d for d in app.dialogs)


def test_a_time_in_the_past_is_refused_by_the_date_field(app, twilio, phone):
    page = _send_tab(app)
    page.fill("#send-text", "Hello")
    page.check("#send-later")
    expect(page.locator("#send-at-zone")).to_contain_text("America/Los_Angeles")
    page.fill("#send-at", "2020-01-01T09:00")

    page.click("#send-submit")

    expect(page.locator("#send-at-error")).to_contain_text("That time has passed")
    assert not ScheduledMessage.objects.exists()


def test_an_unknown_outcome_keeps_send_off_for_that_text_until_twilio_is_asked(
    app, twilio, phone, run_jobs, screenshots
):
    twilio.post(f"{TWILIO}/Messages.json", body=requests.ReadTimeout("read timed out"))
    text = "Your prescription is ready for pickup."
    page = _send_tab(app)
    page.fill("#send-text", text)
    page.click("#send-submit")

    expect(page.locator("#send-result-title")).to_have_text("May have been sent to +1 415 555 0199")
    expect(page.locator("#send-result-status .chip")).to_have_text("Checking")
    expect(page.locator("#send-result-note")).to_contain_text("may have been sent")
    submit = page.locator("#send-submit")
    expect(submit).to_be_disabled()
    expect(page.locator("#send-submit-hint")).to_contain_text("until Twilio says")
    expect(page.locator("#send-text")).to_have_value(text)  # kept, so nothing is retyped
    page.fill("#send-text", text + " Thanks!")
    expect(submit).to_be_enabled()  # another text may go
    page.fill("#send-text", text)
    expect(submit).to_be_disabled()
    _screenshots(page, screenshots, "send-unknown")

    # Twilio did send it: the lookup job finds it and the page shows it as sent.
    created = timezone.now().replace(microsecond=0)
    sid = tw.message_sid(77)
    record = tw.message_json(77, from_=OURS, to=PATIENT, body=text, date_created=created)
    tw.add_paged_list(twilio, "Messages.json", "messages", [[record]])
    _jobs_due_now()
    run_jobs()

    expect(page.locator("#send-result-sid")).to_have_text(sid, timeout=8000)
    expect(page.locator("#send-result-status .chip")).to_have_text("Delivered")
    expect(submit).to_be_enabled()
    assert SendAttempt.objects.get().state == "found"
    assert _sends(twilio) == 1


def test_the_phones_tab_follows_a_sync_to_its_end(app, twilio, phone, run_jobs, screenshots):
    tw.add_paged_list(twilio, "IncomingPhoneNumbers.json", "incoming_phone_numbers",
                      [[tw.phone_json(0), tw.phone_json(1)]])  # fmt: skip
    tw.add_paged_list(twilio, "Messages.json", "messages",
                      [[tw.message_json(n) for n in range(3)]])  # fmt: skip
    page = app.open()
    page.click("#tab-phones")

    page.click("#phones-sync")

    state = page.locator("#sync-state")
    expect(state).to_contain_text("waiting for a worker")
    expect(page.locator("#phones-sync")).to_be_disabled()
    run_jobs()
    expect(state).to_have_text("Synced: 2 new numbers, 3 new messages, 0 updated.")
    expect(page.locator(".phone-card")).to_have_count(2)  # Twilio's two, as it says
    expect(page.locator("#phones-sync")).to_be_enabled()
    _screenshots(page, screenshots, "phones-synced")
