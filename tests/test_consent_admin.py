"""Consent in the back office: SMS administrators see each number's state and history,
find a number however it is typed, and record consent given on paper (or withdrawn), always
with a note; the history cannot be edited or deleted."""

import pytest
from django.test import Client
from django.urls import reverse

from smsapp.models import ConsentEvent
from smsapp.roles import ADMINISTRATORS, AGENTS
from smsapp.services import consent
from tests.conftest import user_in_role
from tests.factories import PhoneFactory

pytestmark = pytest.mark.django_db

PATIENT = "+14155550199"
FRONT_DESK = "+14155550100"
ADD = reverse("admin:smsapp_consentevent_add")
STATES = reverse("admin:smsapp_consent_changelist")


@pytest.fixture
def administrator() -> Client:
    client = Client()
    client.force_login(user_in_role(ADMINISTRATORS, "boss", is_staff=True))
    return client


@pytest.fixture
def stopped(db):
    PhoneFactory(phone_number=FRONT_DESK, friendly_name="Front desk")
    return consent.record(
        patient_number=PATIENT,
        our_number=FRONT_DESK,
        opted_out=True,
        source="keyword",
        keyword="STOP",
        message_sid="SM" + "1" * 32,
    )


def _record(client, **fields):
    form = {"patient_number": PATIENT, "our_number": "", "opted_out": "False",
            "note": "Signed the SMS consent form at the front desk.", **fields}  # fmt: skip
    return client.post(ADD, form)


def test_an_administrator_records_consent_given_on_paper_with_a_note(administrator, stopped):
    response = _record(administrator, patient_number="+1 (415) 555-0199")

    assert response.status_code == 302, response.content
    event = ConsentEvent.objects.first()
    assert (event.source, event.opted_out, event.patient_number, event.our_number) == (
        "staff", False, PATIENT, "",
    )  # fmt: skip
    assert event.recorded_by.username == "boss"
    assert event.note == "Signed the SMS consent form at the front desk."
    assert not consent.is_opted_out(our_number=FRONT_DESK, patient_number=PATIENT)


def test_recording_an_opt_in_needs_a_note(administrator, stopped):
    response = _record(administrator, note="   ")

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert ConsentEvent.objects.count() == 1
    assert consent.is_opted_out(our_number=FRONT_DESK, patient_number=PATIENT)


def test_a_number_that_is_not_a_phone_number_is_refused(administrator, stopped):
    response = _record(administrator, patient_number="call me")

    assert response.status_code == 200
    assert "must be a phone number in E.164 form" in response.content.decode()


def test_staff_can_record_an_opt_out_for_one_number(administrator, stopped, settings):
    settings.CONSENT_SCOPE = "number"
    other = "+14155550188"

    _record(administrator, patient_number=other, our_number=FRONT_DESK, opted_out="True",
            note="Asked by phone not to be texted.")  # fmt: skip

    assert consent.is_opted_out(our_number=FRONT_DESK, patient_number=other)
    assert not consent.is_opted_out(our_number="+14155550101", patient_number=other)


def test_the_state_list_finds_a_number_however_it_is_typed(administrator, stopped):
    consent.record(patient_number="+14155550188", our_number=FRONT_DESK, opted_out=True,
                   source="keyword")  # fmt: skip

    for typed in ("(415) 555-0199", "4155550199", "+1 415 555 0199", "0199"):
        page = administrator.get(STATES, {"q": typed})
        assert [row.patient_number for row in page.context["cl"].result_list] == [PATIENT] * 2


def test_a_numbers_page_shows_its_history_and_a_link_to_record_a_change(administrator, stopped):
    consent.record_by_staff(patient_number=PATIENT, opted_out=False, note="Paper form", user=None)
    row = consent.state(our_number=FRONT_DESK, patient_number=PATIENT)

    page = administrator.get(reverse("admin:smsapp_consent_change", args=[row.pk])).content.decode()

    assert "opted in as recorded by staff: “Paper form”" in page
    assert "opted out by texting STOP to +1 415 555 0100" in page
    assert f"{ADD}?patient_number=%2B14155550199" in page


def test_the_history_cannot_be_edited_or_deleted(administrator, stopped):
    change = reverse("admin:smsapp_consentevent_change", args=[stopped.pk])
    delete = reverse("admin:smsapp_consentevent_delete", args=[stopped.pk])

    assert administrator.get(change).status_code == 200  # shown
    assert administrator.post(change, {"note": "edited"}).status_code == 403
    assert administrator.post(delete, {"post": "yes"}).status_code == 403
    assert ConsentEvent.objects.get().note == ""


def test_agents_cannot_record_consent(stopped):
    client = Client()
    client.force_login(user_in_role(AGENTS, "desk", is_staff=True))

    assert _record(client).status_code == 403
    assert ConsentEvent.objects.count() == 1
