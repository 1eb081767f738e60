"""Patients by name in a real browser (issue 14): the inbox's rows name the patients the
directory knows, with the number under the name; a number several charts share shows all
their names until staff choose one in its thread; opened from a chart, a number no chart
lists is linked to that chart's patient in one click, and Unlink undoes it. Screenshots
of each state at 420 px and 1280 px, never scrolling sideways."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from smsapp.models import NumberLink
from smsapp.services import inbox
from tests.browser.helpers import screenshots_at_two_widths
from tests.factories import MessageFactory, PhoneFactory, in_directory
from tests.test_launch_tokens import launch_token

OURS = "+14155550100"
ANN = "+14155550199"  # in Ann Smith's chart
FAMILY = "+14155550188"  # in Ann's and Ben's charts: a parent's phone
STRANGER = "+14155550177"  # in no chart


@pytest.fixture
def phone():
    return PhoneFactory(sid="PN" + "a" * 32, phone_number=OURS, friendly_name="Front desk")


def _texts(patient: str, body: str) -> None:
    """A text from `patient`, mirrored and folded into its conversation."""
    message = MessageFactory(
        direction="inbound",
        from_number=patient,
        to_number=OURS,
        body=body,
        status="received",
        date_created=timezone.now(),
    )
    inbox.record_new([inbox.message_row(message)])


def _row(page, counterpart: str):
    return page.locator(f'#inbox-list li[data-counterpart="{counterpart}"]')


def _header(page):
    return page.locator("#thread-patient")


def test_the_list_names_known_patients_with_their_number_under_the_name(
    app, phone, twilio, screenshots
):
    in_directory("pat-ann", ANN, name="Ann Smith")
    _texts(STRANGER, "Hi, is this the clinic?")
    _texts(ANN, "Running ten minutes late")

    page = app.open()

    ann = _row(page, ANN)
    expect(ann.locator(".who")).to_have_text("Ann Smith")
    expect(ann.locator(".row-sub")).to_have_text("+1 415 555 0199")
    stranger = _row(page, STRANGER)
    expect(stranger.locator(".who")).to_have_text("+1 415 555 0177")
    expect(stranger.locator(".row-sub")).to_have_count(0)
    screenshots_at_two_widths(page, screenshots, "patients-list-names")

    # Her thread: the name as title, the number and Canvas id under it.
    ann.locator("button").click()
    expect(page.locator("#thread-title")).to_have_text("Ann Smith")
    expect(_header(page).locator(".patient-line")).to_contain_text("+1 415 555 0199")
    expect(_header(page).locator(".patient-id")).to_have_text("Canvas id pat-ann")
    screenshots_at_two_widths(page, screenshots, "patients-linked-by-chart")

    # Her chart lists the number (staffLink false): nothing staff made, nothing to undo.
    expect(_header(page).get_by_role("button", name="Unlink")).to_have_count(0)
    expect(page.locator("#thread-title")).to_have_text("Ann Smith")


def test_a_shared_number_shows_every_name_until_staff_choose_one(app, phone, twilio, screenshots):
    in_directory("pat-ann", FAMILY, name="Ann Smith")
    in_directory("pat-ben", FAMILY, name="Ben Smith")
    _texts(FAMILY, "Ben has a fever, can we come in today?")

    page = app.open()

    row = _row(page, FAMILY)
    expect(row.locator(".who")).to_have_text("Ann Smith · Ben Smith")
    expect(row.locator(".row-sub .number")).to_have_text("+1 415 555 0188")
    expect(row.locator(".row-sub .shared")).to_have_text("shared number")
    screenshots_at_two_widths(page, screenshots, "patients-shared-list")

    row.locator("button").click()
    expect(page.locator("#thread-title")).to_have_text("+1 415 555 0188")  # no one chosen
    choices = _header(page).get_by_role("group", name="Link this number to one patient")
    expect(choices.get_by_role("button")).to_have_text(["This is Ann Smith", "This is Ben Smith"])
    expect(_header(page)).to_contain_text("Shared number")
    screenshots_at_two_widths(page, screenshots, "patients-shared-choice")

    choices.get_by_role("button", name="This is Ben Smith").click()
    expect(page.locator("#thread-title")).to_have_text("Ben Smith")
    expect(page.locator("#thread-patient-state")).to_have_text("Linked to Ben Smith.")
    unlink = _header(page).get_by_role("button", name="Unlink")
    expect(unlink).to_be_focused()  # where the button the user pressed was
    expect(_header(page).locator(".patient-id")).to_have_text("Canvas id pat-ben")
    link = NumberLink.objects.select_related("patient", "linked_by").get(number=FAMILY)
    assert (link.patient.patient_id, link.linked_by.username) == ("pat-ben", "frontdesk")
    # The list looked again: the row names Ben alone.
    expect(row.locator(".who")).to_have_text("Ben Smith")
    expect(row.locator(".row-sub .shared")).to_have_count(0)
    screenshots_at_two_widths(page, screenshots, "patients-shared-chosen")

    # A wrong choice is undone: every name again, and the choice is offered again.
    unlink.click()
    expect(page.locator("#thread-patient-state")).to_have_text("Unlinked from Ben Smith.")
    expect(choices.get_by_role("button")).to_have_count(2)
    expect(page.locator("#thread-title")).to_have_text("+1 415 555 0188")
    expect(row.locator(".who")).to_have_text("Ann Smith · Ben Smith")
    assert not NumberLink.objects.filter(number=FAMILY).exists()


def test_opened_from_a_chart_an_unknown_number_links_to_its_patient_in_one_click(
    app, phone, twilio, screenshots
):
    in_directory("pat-ann", ANN, name="Ann Smith")
    _texts(ANN, "See you Friday")
    _texts(STRANGER, "This is Ann, texting from my work phone")

    page = app.new_page(signed_in=False)  # inside Canvas: no cookie, a bearer token
    page.goto(f"{app.url}/embed/#launch={launch_token(patient='pat-ann')}")

    # It opens on the chart's own number: linked by the chart, nothing to undo.
    expect(page.locator("#thread-title")).to_have_text("Ann Smith")
    expect(_header(page).locator(".patient-id")).to_have_text("Canvas id pat-ann")
    expect(_header(page).get_by_role("button")).to_have_count(0)

    page.click("#thread-back")
    _row(page, STRANGER).locator("button").click()
    offer = _header(page).get_by_role("button", name="Link to Ann Smith")
    expect(offer).to_be_visible()
    expect(_header(page)).to_contain_text("No chart lists this number.")
    screenshots_at_two_widths(page, screenshots, "patients-link-offer")

    offer.click()
    expect(page.locator("#thread-title")).to_have_text("Ann Smith")
    expect(page.locator("#thread-patient-state")).to_have_text("Linked to Ann Smith.")
    unlink = _header(page).get_by_role("button", name="Unlink")
    expect(unlink).to_be_focused()
    link = NumberLink.objects.select_related("patient").get(number=STRANGER)
    assert link.patient.patient_id == "pat-ann"
    screenshots_at_two_widths(page, screenshots, "patients-linked-here")

    page.click("#thread-back")
    expect(_row(page, STRANGER).locator(".who")).to_have_text("Ann Smith")
    expect(_row(page, STRANGER).locator(".row-sub")).to_have_text("+1 415 555 0177")
    screenshots_at_two_widths(page, screenshots, "patients-list-linked")

    _row(page, STRANGER).locator("button").click()
    unlink.click()
    expect(page.locator("#thread-patient-state")).to_have_text("Unlinked from Ann Smith.")
    expect(offer).to_be_focused()
    expect(page.locator("#thread-title")).to_have_text("+1 415 555 0177")
    assert not NumberLink.objects.filter(number=STRANGER).exists()
