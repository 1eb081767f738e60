"""What the page shows depends on the role: an SMS agent reads and sends but sees no
webhook forms, no "Sync with Twilio" and no "Delete"; a user who may only read sees no
Send tab. Staff who are not admin-site staff sign in on the app's own page and sign out
from the tab bar."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from playwright.sync_api import expect

from smsapp.models import Message
from smsapp.roles import AGENTS
from tests.browser.conftest import App
from tests.conftest import user_in_role
from tests.factories import MessageFactory, PhoneFactory

OURS = "+14155550100"
PATIENT = "+14155550199"


@pytest.fixture
def app_for(browser, live_server, transactional_db, shared_tab):
    """The page signed in as `user` (the `app` fixture is an administrator)."""
    opened: list[App] = []

    def sign_in(user) -> App:
        client = Client()
        client.force_login(user)
        app = App(browser, live_server, client.cookies["sessionid"].value, shared_tab)
        opened.append(app)
        return app

    yield sign_in
    for app in opened:
        app.close()
        assert app.errors == [], "the page must run without script errors or CSP violations"


@pytest.fixture
def conversation():
    PhoneFactory(
        phone_number=OURS, friendly_name="Front desk", sms_url="https://old.example.org/sms"
    )
    MessageFactory(
        direction=Message.Direction.INBOUND,
        from_number=PATIENT,
        to_number=OURS,
        body="Is my prescription ready?",
        status=Message.Status.RECEIVED,
    )


def test_an_agent_sees_no_webhook_form_no_sync_and_no_delete(app_for, conversation, screenshots):
    agent = app_for(user_in_role(AGENTS, "desk"))

    for width in (420, 1280):
        page = agent.open(f"/?patient={PATIENT}", width=width)
        expect(page.locator("#reply-form")).to_be_visible()  # agents reply
        if width == 420:
            page.click("#thread-back")
        page.select_option("#log-view", "conversation")
        page.locator("#log-list .bubble").click()
        expect(page.locator("#detail-body")).to_contain_text("Is my prescription ready?")
        assert page.locator("#detail-delete").count() == 0
        expect(page.locator(".whoami")).to_contain_text("desk")
        page.screenshot(path=screenshots / f"agent-log-{width}.png", full_page=True)

        page.click("#tab-phones")
        expect(page.locator(".phone-card")).to_have_count(1)
        expect(page.locator(".phone-card")).to_contain_text("https://old.example.org/sms")
        assert page.locator("#phones-sync").count() == 0
        assert page.locator(".webhook-form").count() == 0
        assert page.get_by_text("Use this app").count() == 0
        page.screenshot(path=screenshots / f"agent-phones-{width}.png", full_page=True)

    page.click("#tab-send")  # agents send
    expect(page.locator("#send-to")).to_have_value(PATIENT)


def test_a_user_who_may_only_read_sees_no_send_tab(app_for, conversation, screenshots):
    readers = Group.objects.create(name="Readers")
    readers.permissions.set(
        Permission.objects.filter(
            content_type__app_label="smsapp", codename__in=["view_message", "view_phone"]
        )
    )
    user = get_user_model().objects.create_user("reader")
    user.groups.add(readers)

    page = app_for(user).open(f"/?patient={PATIENT}")

    expect(page.locator('[role="tab"]')).to_have_count(2)
    assert page.locator("#panel-send").count() == 0
    assert page.locator("#simulate").count() == 0
    expect(page.locator("#thread-list li")).to_have_count(1)
    assert page.locator("#reply-form").count() == 0  # reading, no reply box
    page.locator("#tab-log").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-phones")).to_be_focused()
    page.screenshot(path=screenshots / "reader-phones-420.png", full_page=True)


def test_an_agent_signs_in_on_the_apps_page_and_signs_out_from_the_tab_bar(
    browser, live_server, transactional_db, conversation, screenshots
):
    user_in_role(AGENTS, "desk", password="a-long-desk-password")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(8000)
        for width in (420, 1280):
            page.set_viewport_size({"width": width, "height": 700})
            page.goto(f"{live_server.url}/")
            expect(page).to_have_url(f"{live_server.url}/login/?next=/")
            page.screenshot(path=screenshots / f"sign-in-{width}.png", full_page=True)
        page.fill("#id_username", "desk")
        page.fill("#id_password", "not the password")
        page.click("button[type=submit]")
        expect(page.locator("[role=alert]")).to_contain_text("correct username and password")
        page.screenshot(path=screenshots / "sign-in-refused-420.png", full_page=True)

        page.fill("#id_password", "a-long-desk-password")
        page.click("button[type=submit]")
        page.locator('body[data-phones="loaded"]').wait_for(state="attached")
        expect(page.locator(".whoami")).to_contain_text("desk")

        page.click(".whoami button")
        expect(page).to_have_url(f"{live_server.url}/login/")
        page.goto(f"{live_server.url}/")
        expect(page).to_have_url(f"{live_server.url}/login/?next=/")
    finally:
        context.close()
