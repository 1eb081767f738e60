"""Who may call the JSON API, and the CSRF defence that lets the original plugin's page
(plain fetch, same-origin cookies, JSON bodies, no CSRF token) work unchanged."""

import json

import pytest
from django.test import Client

from smsapp.models import Message, Phone
from smsapp.roles import ADMINISTRATORS
from tests import twilio_payloads as tw
from tests.conftest import user_in_role
from tests.factories import MessageFactory, PhoneFactory

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
US = "+14155550100"
PATIENT = "+14155550199"
SEND = {"numberFrom": US, "numberTo": PATIENT, "text": "Hi"}
MSG = tw.message_sid(1)
PHONE = tw.phone_sid(1)

EVERY_ROUTE = [
    ("get", "phone_list", None),
    ("get", f"message_list/{US}/from", None),
    ("get", f"conversation/{US}/{PATIENT}", None),
    ("get", f"message/{MSG}", None),
    ("get", f"medias/{MSG}", None),
    ("get", f"medias/{MSG}/{tw.media_sid(1)}", None),
    ("delete", f"message_delete/{MSG}", None),
    ("post", "sms_send", SEND),
    ("post", f"inbound_webhook/{PHONE}", {"url": "https://x.org", "method": "POST"}),
    ("post", f"inbound_webhook/{PHONE}/this_app", {}),
]


def _call(client, method, route, body, **headers):
    kwargs = {"headers": headers}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(f"{API}{route}", **kwargs)


@pytest.fixture
def csrf_checking_client(django_user_model):
    """A browser as Django's CSRF middleware sees it: no test-client exemption."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_in_role(ADMINISTRATORS, "desk", password="pw"))
    return client


@pytest.fixture
def phone(db):
    return PhoneFactory(sid=PHONE, phone_number=US)


def _twilio_sends(mocked_twilio):
    return mocked_twilio.post(
        tw.account_url("Messages.json"), json=tw.message_json(1, from_=US, to=PATIENT), status=201
    )


# --- who may call ----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "route", "body"), EVERY_ROUTE)
def test_anonymous_callers_get_401_json_on_every_route(client, mocked_twilio, method, route, body):
    response = _call(client, method, route, body)

    assert response.status_code == 401
    assert response.json() == {
        "information": "Sign in to use this API.",
        "requestId": response["X-Request-ID"],
    }
    assert len(mocked_twilio.calls) == 0


@pytest.mark.parametrize(("method", "route", "body"), EVERY_ROUTE)
def test_signed_in_users_without_a_role_get_403_json(client, django_user_model, mocked_twilio,
                                                     method, route, body):  # fmt: skip
    # Even staff of the admin site: the API asks for the SMS roles' permissions.
    client.force_login(
        django_user_model.objects.create_user(username="patient", password="pw", is_staff=True)
    )

    response = _call(client, method, route, body)

    assert response.status_code == 403
    assert "Your role does not allow you to" in response.json()["information"]
    assert len(mocked_twilio.calls) == 0


# --- the original page's way of calling works without a CSRF token -----------------------


def test_a_json_post_without_csrf_token_or_origin_works(csrf_checking_client, mocked_twilio, phone):
    twilio = _twilio_sends(mocked_twilio)

    response = _call(csrf_checking_client, "post", "sms_send", SEND)

    assert response.status_code == 200
    assert twilio.call_count == 1


def test_a_json_post_from_our_own_origin_works(csrf_checking_client, mocked_twilio, phone):
    _twilio_sends(mocked_twilio)

    response = _call(csrf_checking_client, "post", "sms_send", SEND, Origin="http://testserver")

    assert response.status_code == 200


@pytest.mark.parametrize("origin", ["https://sms.example.org", "https://canvas.example.com",
                                    "https://tenant.clinic.example.net"])  # fmt: skip
def test_public_base_url_and_trusted_origins_are_allowed(
    csrf_checking_client, mocked_twilio, phone, settings, origin
):
    settings.CSRF_TRUSTED_ORIGINS = ["https://canvas.example.com", "https://*.clinic.example.net"]
    _twilio_sends(mocked_twilio)

    response = _call(csrf_checking_client, "post", "sms_send", SEND, Origin=origin)

    assert response.status_code == 200


def test_a_delete_without_body_or_token_works(csrf_checking_client, mocked_twilio):
    message = MessageFactory()
    mocked_twilio.delete(tw.account_url(f"Messages/{message.sid}.json"), status=204)

    response = csrf_checking_client.delete(f"{API}message_delete/{message.sid}")

    assert response.status_code == 200
    assert not Message.objects.filter(pk=message.pk).exists()


# --- what a cross-site page could send is refused --------------------------------------


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://sms.example.org", "null", "https://testserver.evil"]
)
def test_a_post_from_another_origin_is_403_and_nothing_is_sent(
    csrf_checking_client, mocked_twilio, phone, origin
):
    response = _call(csrf_checking_client, "post", "sms_send", SEND, Origin=origin)

    assert response.status_code == 403
    assert "another site" in response.json()["information"]
    assert len(mocked_twilio.calls) == 0


def test_a_delete_from_another_origin_is_403(csrf_checking_client, mocked_twilio):
    message = MessageFactory()

    response = csrf_checking_client.delete(
        f"{API}message_delete/{message.sid}", headers={"Origin": "https://evil.example"}
    )

    assert response.status_code == 403
    assert Message.objects.filter(pk=message.pk).exists()
    assert len(mocked_twilio.calls) == 0


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"],
)
def test_a_form_encoded_post_with_a_valid_session_is_refused(
    csrf_checking_client, mocked_twilio, phone, content_type
):
    """What an HTML form on another site can make the browser send (with the cookie, if
    SameSite did not stop it): the three form encodings. None is JSON."""
    response = csrf_checking_client.post(
        f"{API}sms_send", data="numberFrom=%2B14155550100&numberTo=%2B14155550199&text=Hi",
        content_type=content_type,
    )  # fmt: skip

    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["information"]
    assert len(mocked_twilio.calls) == 0
    assert not Message.objects.exists()


def test_an_empty_form_post_cannot_repoint_a_webhook(csrf_checking_client, mocked_twilio, phone):
    response = csrf_checking_client.post(
        f"{API}inbound_webhook/{PHONE}/this_app", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert len(mocked_twilio.calls) == 0
    assert Phone.objects.get(sid=PHONE).sms_url == ""


def test_the_session_cookie_is_samesite_lax(client, django_user_model):
    django_user_model.objects.create_user(username="desk", password="pw-123456", is_staff=True)

    response = client.post("/admin/login/", {"username": "desk", "password": "pw-123456"})

    assert response.status_code == 302
    assert response.cookies["sessionid"]["samesite"] == "Lax"
