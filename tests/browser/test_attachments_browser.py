"""Attachments that could run as code never do: an SVG carrying scripts and a JavaScript
attachment, sent by a patient, are offered as downloads only, whether clicked in the
page, opened by their address, or referenced from another attachment (the SVG's
<script href> points at the JavaScript attachment's address, which a browser would run
under the page's `script-src 'self'` were it served as JavaScript).

A script that ran would leave a mark in localStorage, which the app's whole origin
shares (blob: documents included), and the tests look for it there."""

import re

import pytest
from playwright.sync_api import expect

from smsapp.models import Message
from tests.browser.helpers import TWILIO, png
from tests.factories import MediaFactory, MessageFactory, PhoneFactory
from tests.test_embed import chart_token

OURS = "+14155550100"
PATIENT = "+14155550199"
API = "/plugin-io/api/twilio_sms_mms/"


@pytest.fixture
def hostile_mms(twilio, live_server):
    """An MMS from a patient: an SVG with an inline script and a script reference to the
    JavaScript attachment beside it, that JavaScript, and an ordinary picture."""
    PhoneFactory(phone_number=OURS)
    message = MessageFactory(
        direction=Message.Direction.INBOUND,
        from_number=PATIENT,
        to_number=OURS,
        body="My documents",
        status=Message.Status.RECEIVED,
        num_media=3,
    )
    svg = MediaFactory(message=message, content_type="image/svg+xml")
    script = MediaFactory(message=message, content_type="application/javascript")
    picture = MediaFactory(message=message, content_type="image/png")
    script_url = f"{API}medias/{message.sid}/{script.sid}"
    # An absolute address, as an attacker who knows the app's would write it (a relative
    # one means nothing inside a blob: document).
    absolute = live_server.url + script_url
    svg_bytes = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'width="40" height="40">'
        '<script>localStorage.setItem("ran", "svg inline script")</script>'
        f'<script xlink:href="{absolute}"/><script href="{absolute}"/>'
        '<rect width="40" height="40" fill="red"/></svg>'
    ).encode()
    js_bytes = b'localStorage.setItem("ran", "javascript attachment"); document.title = "ran";'
    for item, body in ((svg, svg_bytes), (script, js_bytes), (picture, png())):
        twilio.get(
            f"{TWILIO}/Messages/{message.sid}/Media/{item.sid}",
            body=body,
            content_type=item.content_type,
        )
    return {
        "message": message,
        "svg": f"{API}medias/{message.sid}/{svg.sid}",
        "script": script_url,
    }


def _nothing_ran(page) -> None:
    assert page.evaluate("() => localStorage.getItem('ran')") is None
    assert page.title() != "ran"


def _open_detail(page) -> None:
    """Opened for the patient, the page shows their inbox thread; the original
    conversation view, where a message's detail opens, is one choice away."""
    page.click("#thread-back")
    page.select_option("#log-view", "conversation")
    page.locator("#log-list .bubble").click()
    expect(page.locator("#log-detail .gallery li")).to_have_count(3)


def _attachment(page, kind: str):
    """The gallery's control for one attachment, by the type it names."""
    return page.locator("#log-detail .gallery").get_by_role("link", name=kind)


def test_in_the_canvas_pane_an_svg_and_a_script_are_downloads_never_documents(app, hostile_mms):
    """Inside Canvas the page shows media from blob: URLs of its own origin. An SVG opened
    from one was a document at the app's origin, whose script reference, carrying the
    staff member's cookie, ran the JavaScript attachment."""
    page = app.new_page()  # signed in with a cookie too, as staff often are
    popups = []
    page.context.on("page", lambda popup: popups.append(popup.url))
    page.goto(f"{app.url}/embed/#launch={chart_token(phone=PATIENT)}")
    _open_detail(page)

    picture = page.locator("#log-detail .gallery img")
    expect(picture).to_have_count(1)  # only the PNG is shown
    expect(picture).to_have_js_property("naturalWidth", 48)
    for kind in ("image/svg+xml", "application/javascript"):
        link = _attachment(page, kind)
        expect(link).to_have_attribute("download", re.compile("ME"))
        expect(link).to_have_attribute("href", re.compile("^blob:"))
        with page.expect_download() as saved:
            link.click()
        assert saved.value.suggested_filename.startswith("ME")

    page.wait_for_timeout(300)
    assert popups == []
    _nothing_ran(page)


def test_signed_in_to_the_app_an_svg_and_a_script_are_downloads_too(app, hostile_mms):
    page = app.open(f"/?patient={PATIENT}")
    _open_detail(page)

    for kind in ("image/svg+xml", "application/javascript"):
        link = _attachment(page, kind)
        expect(link).to_have_attribute("href", re.compile("/medias/"))
        with page.expect_download():
            link.click()
    _nothing_ran(page)


def test_in_an_inbox_thread_only_the_picture_shows_and_the_rest_are_downloads(app, hostile_mms):
    page = app.open(f"/?patient={PATIENT}")

    bubble = page.locator("#thread-list .bubble")
    expect(bubble.locator("img")).to_have_count(1)
    expect(bubble.locator("img")).to_have_js_property("naturalWidth", 48)
    for kind in ("image/svg+xml", "application/javascript"):
        link = bubble.get_by_role("link", name=kind)
        expect(link).to_have_attribute("download", re.compile("ME"))
        with page.expect_download():
            link.click()
    _nothing_ran(page)


def test_opened_by_their_address_they_are_saved_not_shown(app, hostile_mms):
    page = app.open()

    for url in (hostile_mms["svg"], hostile_mms["script"]):
        with page.expect_download() as saved:
            page.evaluate("url => { location.href = url }", app.url + url)
        assert saved.value.suggested_filename.startswith("ME")
    _nothing_ran(page)


def test_referenced_from_a_page_of_the_apps_origin_the_script_never_runs(app, hostile_mms):
    """What the SVG's <script href> would do, done from the app's own page (same origin,
    allowed by its script-src 'self'): served as bytes with nosniff, it is refused."""
    page = app.open()

    outcome = page.evaluate(
        """url => new Promise(done => {
            const script = document.createElement("script");
            script.src = url;
            script.onload = () => done("ran");
            script.onerror = () => done("refused");
            document.head.appendChild(script);
        })""",
        app.url + hostile_mms["script"],
    )

    assert outcome == "refused"
    _nothing_ran(page)
