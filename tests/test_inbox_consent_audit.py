"""Where the inbox meets consent and the audit trail: `optedOut` in the list, a consent
change that moves the list's ETag, and marking a conversation read in the trail."""

import pytest

from smsapp.models import AuditEvent
from smsapp.services import consent
from tests.test_inbox_api import PATIENT, US, get, inbound, patient, store

pytestmark = pytest.mark.django_db

READ = "/plugin-io/api/twilio_sms_mms/conversation/{}/{}/read"


def opt_out(number: str) -> None:
    consent.record(patient_number=number, our_number=US, opted_out=True, source="keyword")


def test_a_patient_who_opted_out_is_marked_in_the_list(agent_client):
    store(inbound(frm=PATIENT, minutes=1), inbound(frm=patient(2), minutes=2))
    opt_out(PATIENT)

    items = {
        i["counterpart"]: i["optedOut"] for i in get(agent_client, f"conversations/{US}").json()
    }

    assert items == {PATIENT: True, patient(2): False}


def test_a_consent_change_makes_a_polling_list_look_again(agent_client):
    store(inbound(frm=PATIENT))
    first = get(agent_client, f"conversations/{US}")
    assert (
        get(agent_client, f"conversations/{US}", HTTP_IF_NONE_MATCH=first["ETag"]).status_code
        == 304
    )

    opt_out(PATIENT)  # e.g. recorded by staff in the admin: no new message

    again = get(agent_client, f"conversations/{US}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200
    assert again.json()[0]["optedOut"] is True


def test_marking_a_conversation_read_is_in_the_audit_trail(agent_client):
    store(inbound(frm=PATIENT))

    response = agent_client.post(READ.format(US, PATIENT), {}, content_type="application/json")

    assert response.status_code == 200
    [entry] = AuditEvent.objects.filter(action=AuditEvent.Action.CONVERSATION_MARKED_READ)
    assert (entry.actor, entry.target) == ("agent", PATIENT)


def test_an_unknown_conversation_records_no_read(agent_client):
    response = agent_client.post(READ.format(US, PATIENT), {}, content_type="application/json")

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CONVERSATION_MARKED_READ)
