"""The app's own sign-in page: SMS agents are not staff of the admin site, whose sign-in
refuses them, so the page's login is Django's LoginView at /login/, in the page's look,
and sign-out is a POST from the page."""

import pytest
from django.test import Client
from django.urls import reverse

from smsapp.roles import AGENTS
from tests.conftest import user_in_role

pytestmark = pytest.mark.django_db

LOGIN = "/login/"


@pytest.fixture
def agent(db):
    return user_in_role(AGENTS, "desk", password="a-long-desk-password")


def test_the_page_sends_anonymous_visitors_to_the_apps_own_sign_in(client):
    response = client.get("/?patient=%2B14155550199")

    assert response.status_code == 302
    assert response["Location"].startswith(f"{LOGIN}?next=")


def test_an_agent_who_is_not_admin_staff_signs_in_and_reaches_the_page(client, agent):
    assert not agent.is_staff

    response = client.post(
        LOGIN, {"username": "desk", "password": "a-long-desk-password", "next": "/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_without_next_the_sign_in_leads_to_the_page(client, agent):
    response = client.post(LOGIN, {"username": "desk", "password": "a-long-desk-password"})

    assert response["Location"] == reverse("smsapp:page")


def test_a_wrong_password_says_so_on_the_sign_in_page(client, agent):
    response = client.post(LOGIN, {"username": "desk", "password": "wrong"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "correct username and password" in html
    assert "_auth_user_id" not in client.session


def test_the_sign_in_page_has_the_pages_look_and_no_inline_script(client):
    response = client.get(LOGIN)

    html = response.content.decode()
    assert response.status_code == 200
    assert "smsapp/page.css" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "<script" not in html
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_a_signed_in_user_is_sent_on_to_the_page(client, agent):
    client.force_login(agent)

    assert client.get(LOGIN)["Location"] == reverse("smsapp:page")


def test_sign_out_is_a_post_that_ends_the_session(agent):
    """Without a CSRF token: the page sends no Referer, so its forms carry Origin: null;
    the session cookie is SameSite=Lax, so no other site can post with it."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)

    assert client.get("/logout/").status_code == 405  # a link or an image cannot sign out
    response = client.post("/logout/", HTTP_ORIGIN="null")

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert client.get("/").status_code == 302
