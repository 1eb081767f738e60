"""The page as Canvas shows it: framed by another site (the chart), opened with a launch
token, working through its bearer token with no cookie at all."""

import pytest
from playwright.sync_api import expect

from smsapp.models import Message
from tests.browser.helpers import TWILIO, twilio_message
from tests.factories import MessageFactory, PhoneFactory
from tests.test_launch_tokens import launch_token

OURS = "+14155550100"
PATIENT = "+14155550199"


@pytest.fixture
def chart(browser, other_site, live_server, transactional_db, settings):
    """Opens the stand-in chart with a launch token; records script errors and CSP
    reports from the framed page."""
    settings.CANVAS_ORIGIN = other_site.origin
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    errors: list[str] = []

    def open_chart(token: str):
        page = context.new_page()
        page.set_default_timeout(8000)
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text
                else None
            ),
        )
        # Framed the way the plugin's url_permissions ask: scripts, same origin, forms.
        sandbox = "allow-scripts allow-same-origin allow-forms"
        page.goto(other_site.framing(f"{live_server.url}/embed/?launch={token}", sandbox))
        return page, page.frame_locator("#sms")

    open_chart.context = context
    yield open_chart
    context.close()
    assert errors == [], "the framed page must run without script errors or CSP violations"


def test_the_framed_page_opens_on_the_patient_and_sends_with_no_cookie(chart, twilio):
    PhoneFactory(phone_number=OURS, friendly_name="Front desk", sms=True, mms=True)
    MessageFactory(
        direction=Message.Direction.INBOUND,
        from_number=PATIENT,
        to_number=OURS,
        body="Can I move my appointment?",
        status=Message.Status.RECEIVED,
    )
    sid = "SM" + "7" * 32
    twilio.post(
        f"{TWILIO}/Messages.json",
        json=twilio_message(sid, from_=OURS, to=PATIENT, body="Yes, to 4 pm"),
        status=201,
    )

    page, frame = chart(launch_token(phone=PATIENT))

    # The Log opens on the conversation with the chart's patient.
    expect(frame.locator("#log-view")).to_have_value("conversation")
    bubbles = frame.locator("#log-list li")
    expect(bubbles).to_have_count(1)
    expect(bubbles.nth(0)).to_contain_text("Can I move my appointment?")
    # Send has the patient's number, and sending works through the bearer token.
    frame.locator("#tab-send").click()
    expect(frame.locator("#send-to")).to_have_value("+14155550199")
    frame.locator("#send-text").fill("Yes, to 4 pm")
    frame.locator("#send-submit").click()
    expect(frame.locator("#send-result-sid")).to_have_text(sid)

    assert Message.objects.filter(sid=sid, to_number=PATIENT).exists()
    assert chart.context.cookies() == []


def test_a_reused_launch_shows_the_refusal_in_the_pane(chart):
    token = launch_token()
    chart(token)

    _, frame = chart(token)

    expect(frame.locator("[role=alert]")).to_contain_text("has already been used")
    expect(frame.locator("[role=alert]")).to_contain_text("open SMS again from the patient")
