"""The page as Canvas shows it: framed by another site (the chart), opened with a launch
token in the URL fragment, working through its bearer token with no cookie at all, and
still working when the pane is reloaded. The launch token never leaves the browser
except in the one POST that trades it."""

import pytest
from playwright.sync_api import expect

from smsapp.models import LaunchTokenUse, Message
from smsapp.services import inbox
from tests.browser.helpers import TWILIO, twilio_message
from tests.factories import MessageFactory, PhoneFactory
from tests.test_embed import chart_token
from tests.test_launch_tokens import launch_token

OURS = "+14155550100"
PATIENT = "+14155550199"


@pytest.fixture
def chart(browser, other_site, live_server, transactional_db, settings):
    """Opens the stand-in chart with a launch token as the plugin does (in the fragment);
    records script errors, CSP reports and every request the browser sends."""
    settings.CANVAS_ORIGIN = other_site.origin
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    errors: list[str] = []
    requests: list[dict] = []
    context.on(
        "request",
        lambda r: requests.append({"url": r.url, "headers": r.all_headers(), "body": r.post_data}),
    )

    def open_chart(token: str, *, width: int = 1000):
        page = context.new_page()
        page.set_viewport_size({"width": width, "height": 900})
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
        page.goto(other_site.framing(f"{live_server.url}/embed/#launch={token}", sandbox))
        return page, page.frame_locator("#sms")

    open_chart.context = context
    open_chart.requests = requests
    open_chart.url = live_server.url
    yield open_chart
    context.close()
    assert errors == [], "the framed page must run without script errors or CSP violations"


def _conversation():
    PhoneFactory(phone_number=OURS, friendly_name="Front desk", sms=True, mms=True)
    message = MessageFactory(
        direction=Message.Direction.INBOUND,
        from_number=PATIENT,
        to_number=OURS,
        body="Can I move my appointment?",
        status=Message.Status.RECEIVED,
    )
    inbox.record_new([inbox.message_row(message)])  # as the mirror stores it


def test_the_framed_page_opens_on_the_patient_and_sends_with_no_cookie(chart, twilio):
    _conversation()
    sid = "SM" + "7" * 32
    twilio.post(
        f"{TWILIO}/Messages.json",
        json=twilio_message(sid, from_=OURS, to=PATIENT, body="Yes, to 4 pm"),
        status=201,
    )

    page, frame = chart(chart_token(phone=PATIENT))

    # The Log opens on the conversation with the chart's patient, read once shown.
    bubbles = frame.locator("#thread-list li")
    expect(bubbles).to_have_count(1)
    expect(frame.locator("#log-badge")).to_be_hidden(timeout=8000)
    expect(bubbles.nth(0)).to_contain_text("Can I move my appointment?")
    # Send has the patient's number, and sending works through the bearer token.
    frame.locator("#tab-send").click()
    expect(frame.locator("#send-to")).to_have_value("+14155550199")
    frame.locator("#send-text").fill("Yes, to 4 pm")
    frame.locator("#send-submit").click()
    expect(frame.locator("#send-result-sid")).to_have_text(sid)

    assert Message.objects.filter(sid=sid, to_number=PATIENT).exists()
    assert chart.context.cookies() == []


def test_the_launch_token_never_appears_in_a_request_url_or_referer(chart, twilio):
    _conversation()
    token = chart_token(phone=PATIENT)

    page, frame = chart(token)
    expect(frame.locator("#thread-list li")).to_have_count(1)
    frame.locator("#thread-back").click()  # more requests: the list, its counts
    expect(frame.locator("#inbox-list li")).to_contain_text("Can I move my appointment?")

    sent = chart.requests
    assert any(r["url"].endswith("/embed/") for r in sent)  # the shell, without the fragment
    for request in sent:
        assert token not in request["url"]
        assert token not in request["headers"].get("referer", "")
    # The one request that carries it: the POST that trades it, in its body.
    carrying = [r for r in sent if token in (r["body"] or "")]
    assert [r["url"].rsplit("/", 2)[-2] for r in carrying] == ["launch"]
    # And the address bar no longer holds it.
    assert "#launch" not in page.frames[1].url


def test_reloading_the_pane_keeps_working_without_a_new_launch(chart, twilio):
    """A frame on another site gets no storage in this browser (third-party storage is
    blocked, as with third-party cookies): the session waits in the fragment."""
    _conversation()

    page, frame = chart(chart_token(phone=PATIENT))
    expect(frame.locator("#thread-list li")).to_have_count(1)

    for _ in range(2):
        page.frames[1].evaluate("() => location.reload()")
        expect(frame.locator("#thread-list li")).to_have_count(1)
    expect(frame.locator("#thread-list li").nth(0)).to_contain_text("Can I move my appointment?")

    assert LaunchTokenUse.objects.count() == 1  # traded once
    renewals = [r for r in chart.requests if r["url"].endswith("/embed/renew/")]
    assert len(renewals) == 2  # each reload renewed the kept token
    assert chart.context.cookies() == []


def test_where_the_browser_keeps_session_storage_even_reloading_the_chart_works(
    chart, other_site, settings, twilio
):
    """The chart reloaded: its frame asks for the used launch token again, and the session
    kept in sessionStorage for that launch carries on instead."""
    settings.CANVAS_ORIGIN = other_site.same_site_origin
    _conversation()
    token = chart_token(phone=PATIENT)
    page = chart.context.new_page()
    page.goto(
        other_site.framing(
            f"{chart.url}/embed/#launch={token}",
            "allow-scripts allow-same-origin allow-forms",
            origin=other_site.same_site_origin,
        )
    )
    frame = page.frame_locator("#sms")
    expect(frame.locator("#thread-list li")).to_have_count(1)

    page.reload()

    expect(frame.locator("#thread-list li")).to_have_count(1)
    assert frame.locator("#embed-state [role=alert]").count() == 0
    assert LaunchTokenUse.objects.count() == 1


def test_where_nothing_could_be_kept_reloading_the_chart_asks_to_open_sms_again(chart, twilio):
    _conversation()

    page, frame = chart(chart_token(phone=PATIENT))
    expect(frame.locator("#thread-list li")).to_have_count(1)
    page.reload()  # a frame on another site, no storage: the used launch token again

    expect(frame.locator("#embed-state [role=alert]")).to_contain_text("has already been used")
    assert frame.locator("#thread-list li").count() == 0


def test_a_reused_launch_shows_the_refusal_in_the_pane_and_no_data(chart, screenshots):
    _conversation()
    token = launch_token()
    chart(token)

    other = chart.context.browser.new_context()  # another browser: nothing kept for it
    try:
        page = other.new_page()
        for width in (420, 1280):
            page.set_viewport_size({"width": width, "height": 600})
            page.goto(f"{chart.url}/embed/#launch={token}")
            alert = page.locator("#embed-state [role=alert]")
            expect(alert).to_contain_text("has already been used")
            expect(alert).to_contain_text("open SMS again from the patient")
            expect(page.locator("#app")).to_be_hidden()
            assert page.locator("#thread-list li").count() == 0
            page.screenshot(path=screenshots / f"embed-refused-{width}.png", full_page=True)
    finally:
        other.close()


def test_limited_to_the_patient_the_pane_offers_only_their_conversation(
    chart, settings, twilio, screenshots
):
    settings.EMBED_SCOPE = "patient"
    _conversation()

    for width in (420, 1280):
        page, frame = chart(chart_token(phone=PATIENT), width=width)
        expect(frame.locator("#thread-list li")).to_have_count(1)
        expect(frame.locator("#log-view")).to_be_hidden()  # no other view to choose
        expect(frame.locator("#log-counterpart")).to_be_hidden()
        frame.locator("#tab-send").click()
        expect(frame.locator("#send-to")).to_have_value(PATIENT)
        expect(frame.locator("#send-to")).to_have_js_property("readOnly", True)
        frame.locator("#tab-log").click()
        page.screenshot(path=screenshots / f"embed-patient-only-{width}.png", full_page=True)
