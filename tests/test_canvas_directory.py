"""The patient directory (docs/canvas.md): the plugin's signed pushes, the backfill that
pages through the plugin's route, the launch that reads the chart's patient, names in the
inbox, staff's links, and the chart's opt-outs refused like a STOP. Canvas is mocked at the
HTTP layer (`responses`)."""

import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from smsapp.lib import canvas_contract as contract
from smsapp.models import (
    AuditEvent,
    CanvasPatient,
    ConsentEvent,
    Message,
    NumberLink,
    PatientNumber,
    ScheduledMessage,
)
from smsapp.services import consent, directory, inbox, scheduled
from tests.factories import MessageFactory, PhoneFactory, in_directory
from tests.test_embed import bearer, fresh_client, launched_api_token, trade
from tests.test_launch_tokens import KEY, PATIENT_ID, launch_token

pytestmark = pytest.mark.django_db

PUSH = "/canvas/directory"
API = "/plugin-io/api/twilio_sms_mms/"
INSTANCE = "https://clinic.canvasmedical.com"
PLUGIN_DIRECTORY = f"{INSTANCE}{contract.PLUGIN_API_PATH}directory"
US = "+14155550100"
ANN = "+14155550199"
PARENT = "+14155550188"  # a parent's phone, in two children's charts
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def entry(patient_id="p-ann", name="Ann Smith", mobiles=((ANN, False),), **extra) -> dict:
    return {
        "patientId": patient_id,
        "name": name,
        "timeZone": "America/New_York",
        "active": True,
        "mobiles": [{"number": n, "optedOut": o} for n, o in mobiles],
        **extra,
    }


def push_body(*entries: dict, as_of: datetime = T0) -> bytes:
    return json.dumps({"asOf": as_of.isoformat(), "patients": list(entries)}).encode()


def push(body: bytes, *, token: str | None = None, client: Client | None = None):
    """POST canvas/directory as the plugin does: its token for this route and this body."""
    token = contract.directory_push_token(key=KEY, body=body) if token is None else token
    return (client or Client()).post(
        PUSH, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def listed(client, ours=US) -> list[dict]:
    response = client.get(f"{API}conversations/{ours}")
    assert response.status_code == 200
    return response.json()


# --- the plugin's pushes ---------------------------------------------------------------------


def _conversation_with(number):
    """An inbound text from `number`, in the inbox."""
    message = MessageFactory(direction="inbound", from_number=number, to_number=US, body="Hello")
    inbox.record_new([inbox.message_row(Message.objects.get(pk=message.pk))])


def test_a_push_stores_the_patient_and_the_inbox_shows_their_name(agent_client):
    _conversation_with(ANN)

    response = push(push_body(entry()))

    assert response.status_code == 200
    assert response.json() == {"applied": 1, "ignored": 0}
    patient = CanvasPatient.objects.get()
    assert (patient.patient_id, patient.name, patient.time_zone) == (
        "p-ann", "Ann Smith", "America/New_York",
    )  # fmt: skip
    assert list(patient.numbers.values_list("number", "opted_out")) == [(ANN, False)]
    (item,) = listed(agent_client)
    assert (item["name"], item["patientId"]) == ("Ann Smith", "p-ann")
    assert item["patients"] == [{"id": "p-ann", "name": "Ann Smith"}]


def test_a_push_replaces_the_numbers_and_an_older_push_changes_nothing():
    push(push_body(entry(mobiles=((ANN, False), (PARENT, False))), as_of=T0))

    newer = push(
        push_body(
            entry(name="Ann Jones", mobiles=((PARENT, False),)), as_of=T0 + timedelta(minutes=1)
        )
    )
    late_retry = push(push_body(entry(), as_of=T0 - timedelta(minutes=5)))

    assert newer.json() == {"applied": 1, "ignored": 0}
    assert late_retry.json() == {"applied": 0, "ignored": 1}
    assert CanvasPatient.objects.get().name == "Ann Jones"
    assert list(PatientNumber.objects.values_list("number", flat=True)) == [PARENT]


def test_a_new_name_moves_the_lists_etag_so_polling_pages_show_it(agent_client):
    _conversation_with(ANN)
    push(push_body(entry()))
    first = agent_client.get(f"{API}conversations/{US}")

    push(push_body(entry(name="Ann Jones"), as_of=T0 + timedelta(minutes=1)))
    again = agent_client.get(f"{API}conversations/{US}", HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 200
    assert again.json()[0]["name"] == "Ann Jones"


def test_an_inactive_patient_keeps_no_number():
    push(push_body(entry()))

    push(push_body(entry(active=False), as_of=T0 + timedelta(seconds=1)))

    assert not CanvasPatient.objects.get().active
    assert not PatientNumber.objects.exists()


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="unsigned"),
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param(
            contract.directory_push_token(
                key="another-key-0123456789abcdef0123", body=push_body(entry())
            ),
            id="wrong key",
        ),
        pytest.param(
            contract.plugin_call_token(key=KEY, purpose="record", body=push_body(entry())),
            id="the app's own token for another call",
        ),
        pytest.param(launch_token(), id="a launch token"),
        pytest.param(
            contract.directory_push_token(
                key=KEY, body=push_body(entry()), now=int(time.time()) - 3600
            ),
            id="expired",
        ),
        pytest.param(
            contract.directory_push_token(key=KEY, body=push_body(entry(name="Someone Else"))),
            id="made for another body",
        ),
    ],
)
def test_a_push_not_signed_by_the_plugin_for_this_body_is_refused(token):
    response = push(push_body(entry()), token=token)

    assert response.status_code == 401
    assert "Only the SMS Twilio plugin may update the directory" in response.json()["information"]
    assert not CanvasPatient.objects.exists()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "not JSON"),
        (b'{"asOf": "2026-12-02T09:00:00+00:00"}', '"patients" list'),
        (b'{"asOf": "yesterday", "patients": []}', '"asOf"'),
        (b'{"asOf": "2026-12-02T09:00:00", "patients": []}', "offset"),
        (push_body({"patientId": "p/../x", "name": "", "mobiles": []}), "patientId"),
        (push_body(entry(mobiles=(("415 555 0199", False),))), "E.164"),
        (push_body({"patientId": "p1", "name": "A", "mobiles": "+14155550199"}), "mobiles"),
    ],
)
def test_a_push_the_app_cannot_read_is_a_400_that_says_what_is_wrong(body, words):
    response = push(body)

    assert response.status_code == 400
    assert words in response.json()["information"]
    assert not CanvasPatient.objects.exists()


def test_only_post_is_answered_and_not_without_the_shared_key(settings):
    assert Client().get(PUSH).status_code == 405
    settings.CANVAS_LAUNCH_KEY = ""
    assert push(push_body(entry())).status_code == 503


# --- the chart's opt-outs ----------------------------------------------------------------------


def _send(client, to=ANN):
    body = {"numberFrom": US, "numberTo": to, "text": "Your results are ready"}
    return client.post(f"{API}sms_send", json.dumps(body), content_type="application/json")


def test_a_number_the_chart_flags_as_opted_out_is_refused_like_a_stop(agent_client, mocked_twilio):
    PhoneFactory(phone_number=US)

    push(push_body(entry(mobiles=((ANN, True),))))
    response = _send(agent_client)

    assert response.status_code == 409
    assert "opted out" in response.json()["information"]
    assert "Canvas chart" in response.json()["information"]
    assert not mocked_twilio.calls
    state = agent_client.get(f"{API}consent/{ANN}?from={US}").json()
    assert (state["optedOut"], state["source"]) == (True, ConsentEvent.Source.CANVAS)


def test_the_chart_lifting_its_opt_out_lifts_only_its_own(mocked_twilio):
    push(push_body(entry(mobiles=((ANN, True),))))
    push(push_body(entry(mobiles=((ANN, False),)), as_of=T0 + timedelta(minutes=1)))
    assert not consent.is_opted_out(our_number=US, patient_number=ANN)

    consent.record(
        patient_number=ANN, our_number=US, opted_out=True, source=ConsentEvent.Source.KEYWORD
    )
    push(push_body(entry(mobiles=((ANN, True),)), as_of=T0 + timedelta(minutes=2)))
    push(push_body(entry(mobiles=((ANN, False),)), as_of=T0 + timedelta(minutes=3)))

    assert consent.is_opted_out(our_number=US, patient_number=ANN)  # their STOP stands


def test_a_shared_number_stays_refused_while_any_chart_flags_it():
    push(
        push_body(
            entry("p-kid1", "Kid One", ((PARENT, True),)),
            entry("p-kid2", "Kid Two", ((PARENT, False),)),
        )
    )

    assert consent.is_opted_out(our_number=US, patient_number=PARENT)


# --- several charts, one number; staff's links ------------------------------------------------


def _link(client, number, patient_id, method="post", **extra):
    route = f"{API}conversation/{US}/{number}/patient"
    data = json.dumps({"patientId": patient_id}) if method == "post" else None
    return getattr(client, method)(route, data=data, content_type="application/json", **extra)


def test_a_shared_number_shows_every_name_links_to_none_until_staff_choose(agent_client):
    _conversation_with(PARENT)
    push(
        push_body(
            entry("p-kid1", "Kid One", ((PARENT, False),)),
            entry("p-kid2", "Kid Two", ((PARENT, False),)),
        )
    )

    (item,) = listed(agent_client)
    assert (item["name"], item["patientId"]) == (None, None)
    assert [p["name"] for p in item["patients"]] == ["Kid One", "Kid Two"]

    chosen = _link(agent_client, PARENT, "p-kid2")

    assert chosen.status_code == 200
    assert (chosen.json()["name"], chosen.json()["patientId"]) == ("Kid Two", "p-kid2")
    assert listed(agent_client)[0]["patientId"] == "p-kid2"
    event = AuditEvent.objects.get(action=AuditEvent.Action.NUMBER_LINKED)
    assert (event.actor, event.target, event.patient) == ("agent", PARENT, "p-kid2")

    undone = _link(agent_client, PARENT, None, method="delete")

    assert undone.status_code == 200
    assert undone.json()["patientId"] is None
    assert not NumberLink.objects.exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.NUMBER_UNLINKED)
    assert (event.target, event.patient) == (PARENT, "p-kid2")


def test_a_session_from_a_chart_links_an_unknown_number_to_that_patient_only(db):
    _conversation_with("+14155550111")
    in_directory(PATIENT_ID, ANN)
    in_directory("someone-else", "+14155550122", name="Someone Else")
    token = launched_api_token()
    client = fresh_client()

    refused = _link(client, "+14155550111", "someone-else", **bearer(token))
    linked = _link(client, "+14155550111", PATIENT_ID, **bearer(token))

    assert refused.status_code == 403
    assert linked.status_code == 200
    assert linked.json()["patientId"] == PATIENT_ID
    assert directory.numbers_of(PATIENT_ID) == [ANN, "+14155550111"]


def test_undoing_a_link_the_chart_made_says_there_is_nothing_to_undo(agent_client):
    in_directory("p-ann", ANN)

    response = _link(agent_client, ANN, None, method="delete")

    assert response.status_code == 400
    assert "not linked by staff" in response.json()["information"]


def test_a_link_needs_a_patient_id_and_the_role(client, agent_client):
    assert _link(agent_client, ANN, "").status_code == 400
    assert _link(agent_client, ANN, "p-nobody").status_code == 403  # no chart lists it


# --- the backfill, and the launch -----------------------------------------------------------


def _page(entries, following=None):
    return {"asOf": T0.isoformat(), "patients": entries, "next": following}


def test_sync_canvas_directory_pages_through_the_plugins_route(settings, mocked_twilio, capsys):
    settings.CANVAS_INSTANCE_URL = INSTANCE
    pages = {
        "": _page([entry("p1", "One", (("+14155550001", False),)), entry("p2", "Two", ())], "c2"),
        "c2": _page([entry("p3", "Three", (("+14155550003", True),))], "c3"),
        "c3": _page([], None),
    }

    def answer(request):
        query = parse_qs(urlparse(request.url).query)
        token = request.headers["Authorization"].removeprefix("Bearer ")
        contract.verify(
            token, key=KEY, issuer=contract.APP_ISSUER, audience=contract.PLUGIN_CALLS["directory"],
            lifetime=contract.PLUGIN_CALL_LIFETIME, body=None,
        )  # fmt: skip
        assert query["limit"] == ["2"]
        return 200, {}, json.dumps(pages[query.get("after", [""])[0]])

    mocked_twilio.add_callback("GET", PLUGIN_DIRECTORY, callback=answer)

    call_command("sync_canvas_directory", "--page-size", "2")

    assert sorted(CanvasPatient.objects.values_list("patient_id", flat=True)) == ["p1", "p2", "p3"]
    assert len(mocked_twilio.calls) == 3
    assert "Stored 3 patients in 3 pages." in capsys.readouterr().out
    assert consent.is_opted_out(our_number=US, patient_number="+14155550003")


def test_sync_canvas_directory_says_what_to_set_and_what_went_wrong(settings, mocked_twilio):
    with pytest.raises(CommandError, match="CANVAS_INSTANCE_URL"):
        call_command("sync_canvas_directory")
    settings.CANVAS_INSTANCE_URL = INSTANCE
    mocked_twilio.get(PLUGIN_DIRECTORY, status=401, json={"error": "The bearer token has expired."})

    with pytest.raises(CommandError, match="401.*expired"):
        call_command("sync_canvas_directory")


def test_a_launch_reads_the_charts_patient_from_canvas(settings, mocked_twilio):
    settings.CANVAS_INSTANCE_URL = INSTANCE
    mocked_twilio.get(
        PLUGIN_DIRECTORY,
        json=_page([entry(PATIENT_ID, "Ann Smith", ((ANN, True), ("+14155550177", False)))]),
    )

    session = trade(fresh_client(), launch_token()).json()["session"]

    assert parse_qs(urlparse(mocked_twilio.calls[0].request.url).query)["patient"] == [PATIENT_ID]
    assert session["patient"] == {"id": PATIENT_ID, "name": "Ann Smith"}
    assert session["patientPhone"] == "+14155550177"  # the first one not opted out


def test_a_launch_opens_the_page_when_canvas_does_not_answer(settings, mocked_twilio):
    settings.CANVAS_INSTANCE_URL = INSTANCE
    in_directory(PATIENT_ID, ANN)
    mocked_twilio.get(PLUGIN_DIRECTORY, status=503, body="down")

    response = trade(fresh_client(), launch_token())

    assert response.status_code == 200
    assert response.json()["session"]["patientPhone"] == ANN  # what the directory held


def test_the_charts_time_zone_is_the_patients_for_quiet_hours_and_send_later(
    agent_client, settings
):
    settings.QUIET_HOURS = "21:00-08:00"
    in_directory("p-ann", ANN)  # a San Francisco number...
    CanvasPatient.objects.filter(patient_id="p-ann").update(time_zone="America/New_York")
    in_directory("p-bad", "+14155550177")
    CanvasPatient.objects.filter(patient_id="p-bad").update(time_zone="Mars/Olympus_Mons")

    ann = agent_client.get(f"{API}time_zone/{ANN}").json()
    unreadable = agent_client.get(f"{API}time_zone/%2B14155550177").json()

    assert (ann["timeZone"], ann["fromNumber"]) == ("America/New_York", True)  # ...in New York
    assert unreadable["timeZone"] == "America/Los_Angeles"  # the number's, as before
    late_in_new_york = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)  # 22:00 there, 19:00 in SF
    assert scheduled.held_until(ScheduledMessage(to_number=ANN), late_in_new_york) == datetime(
        2026, 12, 3, 13, 0, tzinfo=UTC
    )  # 08:00 in New York
