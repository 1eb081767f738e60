"""Message templates (quick replies): administrators edit them in the admin, where an
unknown placeholder is refused; `templates` gives them to the page filled with what is
known; a text that still holds a placeholder is never sent."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from smsapp.models import MessageTemplate, ScheduledMessage
from smsapp.roles import ADMINISTRATORS, AGENTS
from tests import twilio_payloads as tw
from tests.conftest import user_in_role
from tests.factories import PhoneFactory

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
US = "+14155550100"
PATIENT = "+14155550199"


def _signed_in(role: str) -> Client:
    """A member of `role` with admin access (is_staff), as the admin needs."""
    client = Client()
    client.force_login(user_in_role(role, role.split()[-1], is_staff=True))
    return client


def _add_in_admin(client, **fields):
    return client.post(reverse("admin:smsapp_messagetemplate_add"), fields)


def test_an_administrator_adds_a_template_in_the_admin():
    response = _add_in_admin(
        _signed_in(ADMINISTRATORS),
        name="Results ready",
        body="Hi {first_name}, your results from {clinic_name} are ready. Call {our_number}.",
    )

    assert response.status_code == 302, response.content
    assert MessageTemplate.objects.get().name == "Results ready"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("Hi {firstname}", "cannot fill {firstname}"),
        ("Hi {name}, call {phone}", "cannot fill {name} and {phone}"),
        ("Hi {}", "cannot fill {}"),
    ],
)
def test_an_unknown_placeholder_is_refused_with_a_sentence(body, words):
    response = _add_in_admin(_signed_in(ADMINISTRATORS), name="Oops", body=body)

    assert response.status_code == 200  # the form again, with the error
    error = str(response.context["adminform"].form.errors["body"])
    assert words in error
    assert "{first_name}, {clinic_name} and {our_number}" in error
    assert not MessageTemplate.objects.exists()


def test_agents_may_read_templates_but_not_edit_them():
    agent = _signed_in(AGENTS)

    assert _add_in_admin(agent, name="x", body="y").status_code == 403
    assert agent.get(f"{API}templates").status_code == 200


def test_templates_come_filled_with_what_is_known(django_assert_num_queries):
    MessageTemplate.objects.create(name="B", body="Call {our_number} ({clinic_name}).")
    MessageTemplate.objects.create(name="A", body="Hi {first_name}!")
    client = _signed_in(AGENTS)
    client.get(f"{API}templates")  # the session's user and permissions, once

    with django_assert_num_queries(5):  # session, user, 2 permission lookups, templates
        items = client.get(f"{API}templates", {"from": US}).json()

    assert [(item["name"], item["text"]) for item in items] == [
        ("A", "Hi {first_name}!"),  # the patient's name is not known yet
        ("B", "Call +1 415-555-0100 (Sunrise Clinic)."),
    ]
    assert items[1]["body"] == "Call {our_number} ({clinic_name})."


def test_without_a_clinic_name_or_a_number_those_stay_for_staff(settings):
    settings.CLINIC_NAME = ""
    MessageTemplate.objects.create(name="B", body="{clinic_name}: call {our_number}.")

    [item] = _signed_in(AGENTS).get(f"{API}templates").json()

    assert item["text"] == "{clinic_name}: call {our_number}."


def test_templates_need_a_signed_in_user():
    assert Client().get(f"{API}templates").status_code == 401


@pytest.mark.parametrize("send_at", [None, "2099-01-01T09:00:00Z"], ids=["now", "later"])
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hi {first_name}, see you", "still contains {first_name}: replace {first_name} with "
         "the patient's first name"),
        ("{clinic_name} calling: {our_number}", "still contains {clinic_name} and {our_number}"),
    ],
)  # fmt: skip
def test_a_text_still_holding_a_placeholder_is_never_sent(
    staff_client, mocked_twilio, text, words, send_at
):
    PhoneFactory(phone_number=US)
    body = {"numberFrom": US, "numberTo": PATIENT, "text": text}
    if send_at:
        body["sendAt"] = send_at

    response = staff_client.post(
        f"{API}sms_send", json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 400
    assert words in response.json()["fields"]["text"]
    assert len(mocked_twilio.calls) == 0
    assert not ScheduledMessage.objects.exists()


def test_braces_that_are_not_placeholders_may_be_sent(staff_client, mocked_twilio):
    PhoneFactory(phone_number=US)
    mocked_twilio.post(tw.account_url("Messages.json"), json=tw.message_json(1), status=201)
    body = {"numberFrom": US, "numberTo": PATIENT, "text": "Our code is {ABC-123} :-}"}

    response = staff_client.post(
        f"{API}sms_send", json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 200
