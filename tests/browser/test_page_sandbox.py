"""The page against the offline sandbox, with nothing mocked: the real twilio SDK talks
over loopback to the stand-in for Twilio, which calls the app's real, signed webhooks. So a
sent message's status advances through real status callbacks (each step a job, worked by
a worker as in `make run`), and a simulated patient's text arrives through the real
inbound webhook and gets the real auto-reply."""

from django.core.management import call_command
from playwright.sync_api import expect

from tests.test_sandbox import DESK, default_auto_replies, sandbox  # noqa: F401 (fixtures)

PATIENT = "+14155550123"


def test_a_newcomer_texts_a_patient_and_sees_the_reply(app, sandbox, worker, settings):  # noqa: F811
    settings.SANDBOX_STEP_SECONDS = 0.3
    # No sync_twilio first: phone_list copies a new account's numbers by itself.
    page = app.open()
    expect(page.locator("#sandbox-banner")).to_contain_text("no real texts are sent")
    expect(page.locator("#log-number option")).to_have_count(3)
    page.select_option("#log-number", DESK)

    page.locator("#simulate summary").click()
    page.fill("#simulate-from", PATIENT)
    page.fill("#simulate-body", "Hello there")
    page.click("#simulate-submit")

    expect(page.locator("#simulate-state")).to_have_text(
        "Received; the app answered with 1 auto-reply."
    )
    # The inbox opens their conversation.
    bubbles = page.locator("#thread-list li")
    expect(bubbles.filter(has_text="Hello there")).to_have_class("in")
    # The default auto-reply, with its picture, right after the patient's text.
    reply = bubbles.filter(has_text="Hello!")
    expect(reply).to_have_class("out")
    expect(reply.locator("img.thumb-sm")).to_have_count(1)
    expect(reply.locator(".auto")).to_have_text("Auto-reply")
    expect(bubbles.last).to_contain_text("Hello!")
    expect(bubbles.nth(-2)).to_contain_text("Hello there")

    page.click("#tab-send")
    page.select_option("#send-from", DESK)
    page.fill("#send-to", PATIENT)
    page.fill("#send-text", "Your results are ready.")
    page.click("#send-submit")

    # queued -> sent -> delivered, each step a real signed status callback.
    expect(page.locator("#send-result-status .chip")).to_have_text("Delivered", timeout=10000)
    expect(page.locator("#send-result-note")).to_have_text("Delivered to +1 415 555 0123.")


def test_the_simulated_text_needs_a_valid_number(app, sandbox):  # noqa: F811
    call_command("sync_twilio", stdout=open("/dev/null", "w"))  # noqa: SIM115

    page = app.open()
    page.locator("#simulate summary").click()
    page.fill("#simulate-from", "555")
    page.fill("#simulate-body", "hi")
    page.click("#simulate-submit")

    expect(page.locator("#simulate-from-error")).to_contain_text("+ and the country code")
    expect(page.locator("#simulate-body")).to_have_value("hi")
