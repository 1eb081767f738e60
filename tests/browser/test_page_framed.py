"""The page's own side of the Canvas embed: framed by the allowed origin only, and, with
no cookie, showing patients' pictures fetched with its bearer token."""

from playwright.sync_api import expect

from smsapp.models import Message
from tests.browser.helpers import TWILIO, png
from tests.factories import MediaFactory, MessageFactory, PhoneFactory
from tests.test_embed import chart_token

OURS = "+14155550100"
PATIENT = "+14155550199"  # the phone in chart_token(phone=PATIENT)'s claims


def test_framed_with_a_token_the_page_shows_mms_pictures_from_blob_urls(
    app, twilio, other_site, settings
):
    settings.CANVAS_ORIGIN = other_site.origin
    PhoneFactory(phone_number=OURS)
    photo = MessageFactory(
        direction=Message.Direction.INBOUND,
        from_number=PATIENT,
        to_number=OURS,
        body="Here",
        status=Message.Status.RECEIVED,
        num_media=1,
    )
    media = MediaFactory(message=photo, content_type="image/png")
    twilio.get(
        f"{TWILIO}/Messages/{photo.sid}/Media/{media.sid}", body=png(), content_type="image/png"
    )

    page = app.new_page(signed_in=False)
    page.goto(other_site.framing(f"{app.url}/embed/#launch={chart_token(phone=PATIENT)}"))
    frame = page.frame_locator("#sms")

    image = frame.locator("#thread-list .bubble img")  # the patient's thread opens
    expect(image).to_have_js_property("naturalWidth", 48)
    assert frame.locator("#thread-list .bubble a").get_attribute("href").startswith("blob:")
    # An <img src> to the API would carry no credentials here (no cookie, and a header
    # cannot be added), so the page fetched the bytes with its token.
    assert image.get_attribute("src").startswith("blob:")
    assert page.context.cookies() == []


def test_a_site_other_than_canvas_cannot_frame_the_page(app, other_site, settings):
    settings.CANVAS_ORIGIN = "https://clinic.canvasmedical.com"

    page = app.new_page(signed_in=False)
    with page.expect_response(lambda r: "/embed/" in r.url) as answered:
        page.goto(other_site.framing(f"{app.url}/embed/#launch={chart_token(phone=PATIENT)}"))
    assert answered.value.status == 200  # the server answered; the browser refused to show it

    page.wait_for_load_state("load")
    frame = page.frame_locator("#sms")
    assert frame.locator("#tab-log").count() == 0
    assert [f.url for f in page.frames][1].startswith("chrome-error://")
    refusals = [e for e in app.errors if "frame-ancestors" in e]
    assert len(refusals) == 1, app.errors
    app.errors.remove(refusals[0])  # the one report this test expects


def test_the_framed_page_renews_its_token_before_it_expires(app, other_site, settings):
    settings.CANVAS_ORIGIN = other_site.origin
    PhoneFactory(phone_number=OURS)

    page = app.new_page(signed_in=False)
    page.context.clock.install()
    page.goto(other_site.framing(f"{app.url}/embed/#launch={chart_token(phone=PATIENT)}"))
    frame = page.frame_locator("#sms")
    frame.locator('body[data-phones="loaded"]').wait_for(state="attached")
    page.wait_for_timeout(1100)  # tokens carry whole seconds: the renewed one must differ

    # 15-minute tokens are renewed at 80 % of their life: 12 minutes on the page's clock.
    with page.expect_response(lambda r: r.url.endswith("/embed/renew/")) as renewed:
        page.clock.run_for(12 * 60 * 1000 + 1000)
    assert renewed.value.status == 200
    fresh = renewed.value.json()["token"]

    frame.locator("#tab-phones").click()
    with page.expect_request(lambda r: "/phone_list" in r.url) as listed:
        frame.locator("#phones-reload").click()
    assert listed.value.headers["authorization"] == f"Bearer {fresh}"
