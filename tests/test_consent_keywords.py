"""Opt-out, opt-in and help keywords in inbound texts, read as Twilio reads them: each
changes the patient's consent in the transaction that stores the message, and none gets
an auto-reply (an administrator's rule may answer HELP)."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.urls import reverse

from smsapp.lib.keywords import Keyword, keyword_of
from smsapp.models import AutoReplyRule, Consent, ConsentEvent, Message
from smsapp.services import consent, sync
from tests import twilio_payloads as tw
from tests.factories import AutoReplyRuleFactory
from tests.webhook_signing import post_signed

pytestmark = pytest.mark.django_db

INBOUND = reverse("smsapp:inbound_treatment")
OURS = "+14155550100"
PATIENT = "+14155550199"

OPT_OUT = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
OPT_IN = ["START", "UNSTOP", "YES"]
HELP = ["HELP", "INFO"]


def _spellings(word: str) -> list[str]:
    """As patients type it: any case, spaces and a new line around, punctuation after."""
    return [word, word.lower(), word.title(), f"  {word.lower()} \n", f"{word.title()}.",
            f"{word}!!", f"{word.lower()}?! "]  # fmt: skip


def _inbound(client, body, sid_number=1, patient=PATIENT, ours=OURS, **extra):
    sid = f"SM{sid_number:032x}"
    params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": patient,
              "To": ours, "Body": body, "NumMedia": "0", **extra}  # fmt: skip
    response = post_signed(client, INBOUND, params)
    assert response.status_code == 200, response.content
    root = ET.fromstring(response.content)  # noqa: S314 - the app's own TwiML
    return [m.findtext("Body") for m in root.findall("Message")]


@pytest.mark.parametrize(
    ("body", "keyword"),
    [(s, Keyword.OPT_OUT) for w in OPT_OUT for s in _spellings(w)]
    + [(s, Keyword.OPT_IN) for w in OPT_IN for s in _spellings(w)]
    + [(s, Keyword.HELP) for w in HELP for s in _spellings(w)],
)
def test_every_keyword_is_read_in_every_spelling(body, keyword):
    assert keyword_of(body) == keyword


@pytest.mark.parametrize(
    "body",
    ["stop please", "please stop", "STOP it", "Hello, stop", "yes please", "Start time?",
     "help me", "S T O P", "¡STOP", "", "   ", "STOPP", "stop stop"],
)  # fmt: skip
def test_a_keyword_inside_a_sentence_is_an_ordinary_message(body):
    assert keyword_of(body) is None


def test_twilios_own_opt_out_type_wins_over_the_words():
    """Advanced Opt-Out's custom keywords ("ARRET") arrive marked with OptOutType."""
    assert keyword_of("ARRET", opt_out_type="STOP") == Keyword.OPT_OUT
    assert keyword_of("stop", opt_out_type="START") == Keyword.OPT_IN
    assert keyword_of("AIDE", opt_out_type="help") == Keyword.HELP


@pytest.mark.parametrize("word", OPT_OUT)
def test_an_opt_out_word_records_the_opt_out_and_gets_no_reply(client, word):
    assert _inbound(client, f" {word.lower()}. ") == []

    message = Message.objects.get()
    event = ConsentEvent.objects.get()
    assert (event.patient_number, event.our_number, event.opted_out) == (PATIENT, OURS, True)
    assert (event.source, event.keyword, event.message_sid) == ("keyword", word, message.sid)
    assert message.date_created <= event.at <= message.date_created + timedelta(seconds=2)
    assert consent.is_opted_out(our_number=OURS, patient_number=PATIENT)


@pytest.mark.parametrize("word", OPT_IN)
def test_an_opt_in_word_lifts_the_opt_out_and_gets_no_reply(client, word):
    _inbound(client, "STOP", 1)

    assert _inbound(client, word.title() + "!", 2) == []

    assert not consent.is_opted_out(our_number=OURS, patient_number=PATIENT)
    assert list(ConsentEvent.objects.values_list("opted_out", flat=True)) == [False, True]


@pytest.mark.parametrize("word", HELP)
def test_help_gets_no_catch_all_reply_and_changes_nothing(client, word):
    assert _inbound(client, word.lower()) == []
    assert not ConsentEvent.objects.exists()
    assert not Consent.objects.exists()


@pytest.mark.parametrize("word", HELP)
def test_an_administrators_rule_may_answer_help(client, word):
    answer = "Sunrise Clinic: call +1 415 555 0100. Text STOP to opt out."
    AutoReplyRuleFactory(match_kind="exact", pattern=word, priority=1, reply_text=answer)

    assert _inbound(client, f"{word}?") == []  # "HELP?" is not exactly the pattern
    assert _inbound(client, word.lower(), 2) == [answer]


def test_a_keyword_twilio_already_answered_gets_no_reply_and_still_counts(client):
    assert _inbound(client, "ARRET", OptOutType="STOP") == []
    assert consent.is_opted_out(our_number=OURS, patient_number=PATIENT)
    assert ConsentEvent.objects.get().keyword == "ARRET"

    AutoReplyRuleFactory(match_kind="exact", pattern="help", priority=1, reply_text="Help text")
    assert _inbound(client, "HELP", 2, OptOutType="HELP") == []  # Twilio answered it


def test_a_retried_keyword_is_one_event(client):
    _inbound(client, "STOP")
    _inbound(client, "STOP")

    assert Message.objects.count() == 1
    assert ConsentEvent.objects.count() == 1


def test_the_consent_change_is_in_the_messages_transaction(client, monkeypatch):
    """If the consent cannot be stored, the message is not stored either: Twilio retries
    the webhook and both are stored together then."""

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(consent, "record", broken)
    client.raise_request_exception = False
    response = post_signed(client, INBOUND, {"MessageSid": "SM" + "1" * 32, "From": PATIENT,
                                             "To": OURS, "Body": "STOP"})  # fmt: skip

    assert response.status_code == 500
    assert not Message.objects.exists()


def test_an_ordinary_text_changes_no_consent(client):
    assert _inbound(client, "Can I stop taking the pills?") == ["Say hello! 👻"]
    assert not ConsentEvent.objects.exists()


def test_a_whatsapp_address_is_not_a_phone_number_to_opt_out(client):
    _inbound(client, "STOP", patient="whatsapp:+14155550199", ours="whatsapp:+14155550100")
    assert not ConsentEvent.objects.exists()


def test_an_opted_out_patient_gets_no_auto_reply_to_anything(client):
    _inbound(client, "STOP", 1)

    assert _inbound(client, "hello?", 2) == []
    assert _inbound(client, "When is my appointment", 3) == []
    assert Message.objects.count() == 3  # stored all the same


def test_after_start_the_auto_replies_answer_again(client):
    _inbound(client, "STOP", 1)
    _inbound(client, "START", 2)

    assert _inbound(client, "hello", 3) == ["Hello! ♥️"]


def test_the_rule_manager_gives_no_rule_for_keywords():
    assert AutoReplyRule.objects.reply_for(" StopAll ") is None
    assert AutoReplyRule.objects.reply_for("Unstop!") is None
    assert AutoReplyRule.objects.reply_for("info") is None
    assert AutoReplyRule.objects.reply_for("information").name == "Fallback"


# --- keywords a sync finds ------------------------------------------------------------------


def _synced(mocked_twilio, *bodies_and_minutes):
    """Sync a page of inbound texts from the patient (body, minutes after BASE_TIME)."""
    records = [
        tw.message_json(n, body=body, direction="inbound", status="received", from_=PATIENT,
                        to=OURS, date_created=tw.BASE_TIME + timedelta(minutes=minute))
        for n, (body, minute) in enumerate(bodies_and_minutes, start=1)
    ]  # fmt: skip
    tw.add_paged_list(mocked_twilio, "Messages.json", "messages", [records[::-1]])
    sync.sync_messages()


def test_a_stop_the_webhook_missed_is_found_by_a_sync(mocked_twilio):
    _synced(mocked_twilio, ("Stop!", 0))

    event = ConsentEvent.objects.get()
    assert (event.opted_out, event.keyword, event.at) == (True, "STOP", tw.BASE_TIME)
    assert consent.is_opted_out(our_number=OURS, patient_number=PATIENT)


def test_keywords_a_sync_finds_are_applied_oldest_first_and_once(mocked_twilio):
    _synced(mocked_twilio, ("STOP", 0), ("start", 5), ("hello", 6), ("END", 9))
    _synced(mocked_twilio, ("STOP", 0), ("start", 5), ("hello", 6), ("END", 9))

    assert ConsentEvent.objects.count() == 3
    assert consent.is_opted_out(our_number=OURS, patient_number=PATIENT)


def test_an_old_stop_a_sync_finds_does_not_undo_a_newer_start(client, mocked_twilio):
    _inbound(client, "START", 99)  # today, through the webhook

    _synced(mocked_twilio, ("STOP", 0))  # BASE_TIME, long before

    assert not consent.is_opted_out(our_number=OURS, patient_number=PATIENT)
    assert ConsentEvent.objects.count() == 2
