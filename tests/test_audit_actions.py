"""The audit trail records each action where it is done, with who did it, what it was done
to, the patient when known, the client's address and the request's id; an action that
fails leaves no entry saying it was done. Never a message body."""

import json
from datetime import timedelta

import pytest
import requests
from django.db import OperationalError
from django.test import Client, override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from smsapp.models import AuditEvent, AutoReplyRule, Message, MessageTemplate, ScheduledMessage
from smsapp.roles import ADMINISTRATORS
from smsapp.services import messages
from tests import twilio_payloads as tw
from tests.conftest import user_in_role
from tests.factories import (
    AutoReplyRuleFactory,
    MediaFactory,
    MessageFactory,
    PhoneFactory,
    in_directory,
)
from tests.test_embed import bearer, fresh_client, launched_api_token, trade
from tests.test_launch_tokens import PATIENT_ID, STAFF_ID, launch_token

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
US = "+14155550100"
PATIENT = "+14155550199"
TEXT = "Your biopsy results are ready"
Action = AuditEvent.Action


@pytest.fixture
def phone(db):
    return PhoneFactory(phone_number=US, sms=True, mms=True, sid=tw.phone_sid(3))


def entries(action: str) -> list[tuple[str, str, str]]:
    """(actor, target, patient) of each entry of `action`, oldest first."""
    rows = AuditEvent.objects.filter(action=action).order_by("at", "id")
    return list(rows.values_list("actor", "target", "patient"))


def the_entry(action: str) -> AuditEvent:
    [entry] = AuditEvent.objects.filter(action=action)
    return entry


def _send(client, text=TEXT, **extra):
    body = {"numberFrom": US, "numberTo": PATIENT, "text": text, **extra}
    return client.post(f"{API}sms_send", json.dumps(body), content_type="application/json")


def _twilio_accepts(mocked_twilio, n=1):
    answer = tw.message_json(n, from_=US, to=PATIENT, status="queued", date_sent=None)
    mocked_twilio.post(tw.account_url("Messages.json"), json=answer, status=201)
    return answer


def _jobs_due_now():
    now = timezone.now()
    ScheduledMessage.objects.filter(send_at__gt=now).update(send_at=now)
    DBTaskResult.objects.filter(status="READY").update(run_after=now)


# --- sends --------------------------------------------------------------------------------


def test_a_send_is_recorded_with_its_sender_address_and_request_id(
    staff_client, mocked_twilio, phone
):
    answer = _twilio_accepts(mocked_twilio)

    response = _send(staff_client)

    assert response.status_code == 200
    entry = the_entry(Action.MESSAGE_SENT)
    assert (entry.actor, entry.target, entry.patient) == ("staff", answer["sid"], "")
    assert entry.ip == "127.0.0.1"
    assert entry.request_id == response["X-Request-ID"]


def test_a_send_the_mirror_could_not_store_is_still_recorded(
    staff_client, mocked_twilio, phone, monkeypatch
):
    answer = _twilio_accepts(mocked_twilio)

    def database_is_locked(record, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(messages, "mirror_message", database_is_locked)
    response = _send(staff_client)

    assert response.json()["mirrored"] is False
    assert entries(Action.MESSAGE_SENT) == [("staff", answer["sid"], "")]


def test_no_entry_holds_the_message_body(staff_client, mocked_twilio, phone):
    _twilio_accepts(mocked_twilio)

    _send(staff_client)

    for row in AuditEvent.objects.values():
        assert not any(TEXT in str(value) for value in row.values())


def test_a_send_twilio_refuses_leaves_no_sent_entry(staff_client, mocked_twilio, phone):
    tw.add_error(mocked_twilio, "POST", "Messages.json", 400, 21211, "Invalid 'To' number")

    response = _send(staff_client)

    assert response.status_code == 400
    assert entries(Action.MESSAGE_SENT) == []


def test_a_send_to_a_patient_who_opted_out_leaves_no_entry(staff_client, mocked_twilio, phone):
    tw.add_error(mocked_twilio, "POST", "Messages.json", 400, 21610, "unsubscribed recipient")
    assert _send(staff_client).status_code == 409

    assert _send(staff_client).status_code == 409  # refused before Twilio now

    assert entries(Action.MESSAGE_SENT) == []


def test_a_send_whose_outcome_is_unknown_is_recorded_as_attempted_then_sent_by_the_lookup(
    staff_client, mocked_twilio, phone, run_jobs
):
    mocked_twilio.post(tw.account_url("Messages.json"), body=requests.ReadTimeout("timed out"))

    response = _send(staff_client)

    assert response.status_code == 202
    attempt = response.json()["id"]
    assert entries(Action.MESSAGE_SEND_UNKNOWN) == [("staff", attempt, "")]
    assert entries(Action.MESSAGE_SENT) == []
    created = timezone.now().replace(microsecond=0)
    found = tw.message_json(7, from_=US, to=PATIENT, body=TEXT, date_created=created)
    tw.add_paged_list(mocked_twilio, "Messages.json", "messages", [[found]])
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())

    run_jobs()

    assert entries(Action.MESSAGE_SENT) == [("system", found["sid"], "")]


def test_scheduling_and_the_scheduled_send_are_recorded(
    staff_client, mocked_twilio, phone, run_jobs
):
    answer = _twilio_accepts(mocked_twilio)
    send_at = (timezone.now() + timedelta(hours=1)).isoformat()

    response = _send(staff_client, sendAt=send_at)

    item = response.json()["scheduled"]
    assert entries(Action.MESSAGE_SCHEDULED) == [("staff", item, "")]
    _jobs_due_now()
    run_jobs()
    # The job sent it: no request, so no address and no request id.
    entry = the_entry(Action.MESSAGE_SENT)
    assert (entry.actor, entry.target, entry.ip, entry.request_id) == (
        "system", answer["sid"], None, "",
    )  # fmt: skip


def test_a_cancel_is_recorded_once_and_a_refused_one_not_at_all(staff_client, phone):
    send_at = (timezone.now() + timedelta(hours=1)).isoformat()
    item = _send(staff_client, sendAt=send_at).json()["scheduled"]

    first = staff_client.delete(f"{API}scheduled/{item}")
    again = staff_client.delete(f"{API}scheduled/{item}")

    assert (first.status_code, again.status_code) == (200, 409)
    assert entries(Action.SCHEDULED_CANCELLED) == [("staff", item, "")]


# --- deletes ------------------------------------------------------------------------------


def test_a_delete_is_recorded(staff_client, mocked_twilio):
    message = MessageFactory(direction="inbound", from_number=PATIENT, to_number=US)
    mocked_twilio.delete(tw.account_url(f"Messages/{message.sid}.json"), status=204)

    assert staff_client.delete(f"{API}message_delete/{message.sid}").status_code == 200

    assert entries(Action.MESSAGE_DELETED) == [("staff", message.sid, "")]


def test_a_delete_twilio_refuses_with_a_409_leaves_no_entry(staff_client, mocked_twilio):
    message = MessageFactory()
    tw.add_error(mocked_twilio, "DELETE", f"Messages/{message.sid}.json", 409, 20009,
                 "Cannot delete message because it has not yet completed")  # fmt: skip

    assert staff_client.delete(f"{API}message_delete/{message.sid}").status_code == 409

    assert entries(Action.MESSAGE_DELETED) == []
    assert Message.objects.filter(sid=message.sid).exists()


def test_a_delete_of_a_message_no_one_has_leaves_no_entry(staff_client, mocked_twilio):
    sid = tw.message_sid(404)
    tw.add_error(mocked_twilio, "DELETE", f"Messages/{sid}.json", 404, 20404)

    assert staff_client.delete(f"{API}message_delete/{sid}").status_code == 404

    assert entries(Action.MESSAGE_DELETED) == []


# --- reading --------------------------------------------------------------------------------


def test_opening_a_conversation_is_recorded_but_not_its_older_pages_or_polls(agent_client):
    for _ in range(3):
        MessageFactory(from_number=US, to_number=PATIENT)
    url = f"{API}conversation/{US}/{PATIENT}"

    first = agent_client.get(url, {"limit": 2})
    agent_client.get(url, {"limit": 2, "before": "placeholder"})  # 400, but not an opening
    agent_client.get(first["X-Next-Page"])
    agent_client.get(url, {"refresh": "1"})
    agent_client.get(url, HTTP_IF_NONE_MATCH='"1"')
    agent_client.get(url, HTTP_IF_MODIFIED_SINCE="Wed, 02 Dec 2026 10:00:00 GMT")

    assert first.status_code == 200
    assert entries(Action.CONVERSATION_OPENED) == [("agent", PATIENT, "")]


def test_a_media_view_is_recorded_and_a_missing_one_is_not(staff_client, mocked_twilio):
    message = MessageFactory(num_media=1, direction="inbound", from_number=PATIENT)
    item = MediaFactory(message=message, content_type="image/jpeg")
    mocked_twilio.get(
        tw.account_url(f"Messages/{message.sid}/Media/{item.sid}"),
        body=b"\xff\xd8jpeg",
        content_type="image/jpeg",
    )

    assert staff_client.get(f"{API}medias/{message.sid}").status_code == 200
    assert staff_client.get(f"{API}medias/{message.sid}/{tw.media_sid(99)}").status_code == 404

    assert entries(Action.MEDIA_VIEWED) == [("staff", message.sid, "")]


# --- a number's webhook ---------------------------------------------------------------------


def _set_webhook(client, phone):
    body = json.dumps({"url": "https://hooks.example.org/in", "method": "POST"})
    return client.post(
        f"{API}inbound_webhook/{phone.sid}", data=body, content_type="application/json"
    )


def test_a_webhook_change_is_recorded(staff_client, mocked_twilio, phone):
    mocked_twilio.post(
        tw.account_url(f"IncomingPhoneNumbers/{phone.sid}.json"),
        json=tw.phone_json(3, phone_number=US, sms_url="https://hooks.example.org/in"),
    )

    assert _set_webhook(staff_client, phone).status_code == 200

    assert entries(Action.WEBHOOK_CHANGED) == [("staff", phone.sid, "")]


def test_a_webhook_change_twilio_refuses_leaves_no_entry(staff_client, mocked_twilio, phone):
    tw.add_error(mocked_twilio, "POST", f"IncomingPhoneNumbers/{phone.sid}.json", 400, 21402,
                 "Url is not a valid URL")  # fmt: skip

    assert _set_webhook(staff_client, phone).status_code >= 400

    assert entries(Action.WEBHOOK_CHANGED) == []


# --- the admin: auto-replies, templates, consent --------------------------------------------


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(user_in_role(ADMINISTRATORS, "office", is_staff=True))
    return client


RULE = {
    "name": "Hours",
    "priority": 50,
    "match_kind": "contains",
    "pattern": "hours",
    "reply_text": "We open at 8.",
    "media_url": "",
    "is_active": "on",
}


def test_an_auto_reply_rule_created_changed_and_deleted_in_the_admin_is_recorded(admin_client):
    admin_client.post("/admin/smsapp/autoreplyrule/add/", RULE)
    rule = AutoReplyRule.objects.get(name="Hours")
    change = f"/admin/smsapp/autoreplyrule/{rule.pk}/change/"
    admin_client.post(change, {**RULE, "reply_text": "We open at 9."})
    admin_client.post(change, {**RULE, "reply_text": "We open at 9."})  # nothing changed
    admin_client.post(f"/admin/smsapp/autoreplyrule/{rule.pk}/delete/", {"post": "yes"})

    pk = str(rule.pk)
    assert [(e.action, e.actor, e.target) for e in AuditEvent.objects.filter(
        action__startswith="rule_").order_by("id")] == [
        (Action.RULE_CREATED, "office", pk),
        (Action.RULE_CHANGED, "office", pk),
        (Action.RULE_DELETED, "office", pk),
    ]  # fmt: skip


def test_rules_changed_in_the_list_and_deleted_together_are_each_recorded(admin_client):
    first, second = AutoReplyRuleFactory(priority=60), AutoReplyRuleFactory(priority=70)
    form = {
        "form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "2", "_save": "Save",
        "form-0-id": first.pk, "form-0-priority": "61", "form-0-is_active": "on",
        "form-1-id": second.pk, "form-1-priority": "70", "form-1-is_active": "on",
    }  # fmt: skip
    admin_client.post("/admin/smsapp/autoreplyrule/", form)
    admin_client.post(
        "/admin/smsapp/autoreplyrule/",
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert entries(Action.RULE_CHANGED) == [("office", str(first.pk), "")]
    assert sorted(entries(Action.RULE_DELETED)) == sorted(
        [("office", str(first.pk), ""), ("office", str(second.pk), "")]
    )
    assert not AutoReplyRule.objects.filter(pk__in=[first.pk, second.pk]).exists()


def test_a_template_created_changed_and_deleted_in_the_admin_is_recorded(admin_client):
    admin_client.post(
        "/admin/smsapp/messagetemplate/add/", {"name": "Late", "body": "Running late"}
    )
    template = MessageTemplate.objects.get(name="Late")
    admin_client.post(
        f"/admin/smsapp/messagetemplate/{template.pk}/change/",
        {"name": "Late", "body": "Running 10 minutes late"},
    )
    admin_client.post(f"/admin/smsapp/messagetemplate/{template.pk}/delete/", {"post": "yes"})

    pk = str(template.pk)
    assert entries(Action.TEMPLATE_CREATED) == [("office", pk, "")]
    assert entries(Action.TEMPLATE_CHANGED) == [("office", pk, "")]
    assert entries(Action.TEMPLATE_DELETED) == [("office", pk, "")]


def test_a_template_the_admin_refuses_leaves_no_entry(admin_client):
    response = admin_client.post(
        "/admin/smsapp/messagetemplate/add/", {"name": "Bad", "body": "Hi {nickname}"}
    )

    assert response.status_code == 200  # the form again, with the error
    assert entries(Action.TEMPLATE_CREATED) == []


def test_consent_recorded_by_staff_in_the_admin_is_recorded(admin_client):
    response = admin_client.post(
        "/admin/smsapp/consentevent/add/",
        {"patient_number": "+1 415 555 0199", "our_number": "", "opted_out": "False",
         "note": "Signed the consent form at the desk"},
    )  # fmt: skip

    assert response.status_code == 302
    assert entries(Action.CONSENT_RECORDED) == [("office", PATIENT, "")]


# --- the Canvas embed -----------------------------------------------------------------------


def test_an_accepted_launch_is_recorded_with_the_canvas_user_and_patient(db):
    token = launch_token(jti="launch-one")

    assert trade(fresh_client(), token).status_code == 200

    assert entries(Action.LAUNCH_ACCEPTED) == [(f"canvas-{STAFF_ID}", "launch-one", PATIENT_ID)]


def test_refused_launches_are_recorded_with_the_reason(db):
    token = launch_token()
    trade(fresh_client(), token)

    trade(fresh_client(), token)  # used already: the staff member is known
    trade(fresh_client(), launch_token(exp=int(timezone.now().timestamp()) - 3600))
    trade(fresh_client(), "not-a-token")

    assert entries(Action.LAUNCH_REFUSED) == [
        (f"canvas-{STAFF_ID}", "used", PATIENT_ID),
        ("canvas-plugin", "expired", ""),
        ("canvas-plugin", "invalid", ""),
    ]


def test_the_patient_directory_names_the_patient_on_what_concerns_them(db):
    in_directory(PATIENT_ID, PATIENT)
    token = launched_api_token()
    client = fresh_client()
    other = "+14155550111"

    client.get(f"{API}conversation/{US}/{PATIENT}", **bearer(token))
    client.get(f"{API}conversation/{US}/{other}", **bearer(token))

    assert entries(Action.CONVERSATION_OPENED) == [
        (f"canvas-{STAFF_ID}", PATIENT, PATIENT_ID),
        (f"canvas-{STAFF_ID}", other, ""),
    ]


# --- signing in and out ---------------------------------------------------------------------


def test_sign_in_a_failed_sign_in_and_sign_out_are_recorded(client, db):
    user_in_role(ADMINISTRATORS, "desk", password="a-long-desk-password")

    client.post("/login/", {"username": "desk", "password": "wrong"})
    client.post("/login/", {"username": "desk", "password": "a-long-desk-password"})
    client.post("/logout/")

    assert entries(Action.SIGN_IN_FAILED) == [("anonymous", "desk", "")]
    assert entries(Action.SIGNED_IN) == [("desk", "/login/", "")]
    assert entries(Action.SIGNED_OUT) == [("desk", "/logout/", "")]


def test_the_admins_sign_in_is_recorded_too(client, db):
    user_in_role(ADMINISTRATORS, "office", password="a-long-office-password", is_staff=True)

    client.post("/admin/login/", {"username": "office", "password": "a-long-office-password"})

    assert entries(Action.SIGNED_IN) == [("office", "/admin/login/", "")]


@override_settings(BEHIND_PROXY=1)
def test_behind_a_proxy_the_clients_address_is_the_one_the_proxy_saw(client, db):
    user_in_role(ADMINISTRATORS, "desk", password="a-long-desk-password")

    client.post(
        "/login/",
        {"username": "desk", "password": "a-long-desk-password"},
        HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7",
    )

    assert the_entry(Action.SIGNED_IN).ip == "198.51.100.7"
