"""Who may do what (smsapp.roles): SMS agents read conversations and send; SMS
administrators may also change a number's webhook, sync and delete; superusers may do
everything; a user without a role may do nothing. Every refusal is a 403 sentence, and
Twilio is never called for a refused request."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from smsapp.roles import ADMINISTRATORS, AGENTS
from tests import twilio_payloads as tw
from tests.conftest import user_in_role
from tests.factories import MessageFactory, PhoneFactory

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
US = "+14155550100"
PATIENT = "+14155550199"


def _client_for(who: str) -> Client:
    client = Client()
    if who == "superuser":
        user = get_user_model().objects.create_superuser("root", password="pw")
    elif who == "no role":
        user = get_user_model().objects.create_user("nobody", password="pw", is_staff=True)
    else:
        user = user_in_role({"agent": AGENTS, "administrator": ADMINISTRATORS}[who], who)
    client.force_login(user)
    return client


@pytest.fixture
def account(mocked_twilio):
    """A number and a message in the mirror, and Twilio answering every call the
    administrators' routes make."""
    phone = PhoneFactory(sid=tw.phone_sid(1), phone_number=US, sms=True)
    message = MessageFactory(from_number=US, to_number=PATIENT)
    updated = tw.phone_json(1, phone_number=US, sms_url="https://example.org/sms")
    mocked_twilio.post(tw.account_url(f"IncomingPhoneNumbers/{phone.sid}.json"), json=updated)
    mocked_twilio.delete(tw.account_url(f"Messages/{message.sid}.json"), status=204)
    tw.add_paged_list(mocked_twilio, "IncomingPhoneNumbers.json", "incoming_phone_numbers",
                      [[tw.phone_json(1, phone_number=US)]])  # fmt: skip
    tw.add_paged_list(mocked_twilio, "Messages.json", "messages", [[]])
    mocked_twilio.post(
        tw.account_url("Messages.json"), json=tw.message_json(7, from_=US, to=PATIENT), status=201
    )
    return phone, message


# What the administrators' role adds: (method, route, JSON body).
ADMIN_ROUTES = {
    "change a webhook": (
        "post",
        "inbound_webhook/{phone}",
        {"url": "https://attacker.example/steal"},
    ),
    "point a webhook here": ("post", "inbound_webhook/{phone}/this_app", {}),
    "sync": ("post", "sync", {}),
    "delete a message": ("delete", "message_delete/{message}", None),
}
# What every SMS role may do.
AGENT_ROUTES = {
    "list numbers": ("get", "phone_list", None),
    "read a log": ("get", f"message_list/{US}/from", None),
    "read a conversation": ("get", f"conversation/{US}/{PATIENT}", None),
    "read a message": ("get", "message/{message}", None),
    "send": ("post", "sms_send", {"numberFrom": US, "numberTo": PATIENT, "text": "Hi"}),
}


def _call(client, account, route):
    phone, message = account
    method, path, body = route
    path = path.format(phone=phone.sid, message=message.sid)
    kwargs = {} if body is None else {"data": json.dumps(body), "content_type": "application/json"}
    return getattr(client, method)(f"{API}{path}", **kwargs)


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=list(ADMIN_ROUTES))
@pytest.mark.parametrize("who", ["agent", "no role"])
def test_agents_and_users_without_a_role_may_not_use_the_administrators_routes(
    account, mocked_twilio, who, route
):
    phone, message = account

    response = _call(_client_for(who), account, ADMIN_ROUTES[route])

    assert response.status_code == 403
    sentence = response.json()["information"]
    assert sentence.startswith("Your role does not allow you to ")
    assert sentence.endswith("ask an SMS administrator if you need to.")
    assert len(mocked_twilio.calls) == 0
    phone.refresh_from_db()
    assert phone.sms_url != "https://attacker.example/steal"


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=list(ADMIN_ROUTES))
@pytest.mark.parametrize("who", ["administrator", "superuser"])
def test_administrators_and_superusers_may_use_them(account, who, route):
    response = _call(_client_for(who), account, ADMIN_ROUTES[route])

    assert response.status_code in (200, 202), response.content


@pytest.mark.parametrize("route", AGENT_ROUTES, ids=list(AGENT_ROUTES))
@pytest.mark.parametrize("who", ["agent", "administrator", "superuser"])
def test_every_sms_role_may_read_and_send(account, who, route):
    response = _call(_client_for(who), account, AGENT_ROUTES[route])

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("route", AGENT_ROUTES, ids=list(AGENT_ROUTES))
def test_a_user_without_a_role_may_not_even_read(account, mocked_twilio, route):
    response = _call(_client_for("no role"), account, AGENT_ROUTES[route])

    assert response.status_code == 403
    assert "ask an SMS administrator" in response.json()["information"]
    assert len(mocked_twilio.calls) == 0


def test_the_refusal_names_what_the_role_does_not_allow(account):
    response = _call(_client_for("agent"), account, ADMIN_ROUTES["delete a message"])

    assert response.json()["information"] == (
        "Your role does not allow you to delete message; ask an SMS administrator if you need to."
    )
