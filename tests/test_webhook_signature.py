"""X-Twilio-Signature on both webhooks, computed with the SDK's RequestValidator as Twilio
does: the public URL it called (PUBLIC_BASE_URL + path + query) and every POST parameter."""

import logging
from urllib.parse import urlencode

import pytest
from django.core import checks
from django.test import Client
from django.urls import reverse

from smsapp.checks import webhook_signature_settings
from smsapp.models import Message, StatusEvent
from smsapp.web import decorators
from tests.factories import MessageFactory
from tests.webhook_signing import FORM, get_signed, post_signed, signature

pytestmark = pytest.mark.django_db

STATUS = reverse("smsapp:outbound_api_status")
INBOUND = reverse("smsapp:inbound_treatment")


def _status_params(sid="SM" + "a" * 32, status="delivered"):
    return {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "AccountSid": "AC1"}


def _inbound_params(sid="SM" + "b" * 32, body="hello"):
    return {"MessageSid": sid, "From": "+14155550199", "To": "+14155550100", "Body": body}


def _post(client, path, params, sig, **extra):
    body = urlencode(params, doseq=True)
    return client.post(path, body, content_type=FORM, HTTP_X_TWILIO_SIGNATURE=sig, **extra)


def test_the_routes_are_where_twilio_is_told_to_call():
    assert STATUS == "/plugin-io/api/twilio_sms_mms/outbound_api_status"
    assert INBOUND == "/plugin-io/api/twilio_sms_mms/inbound_treatment"


def test_a_valid_post_is_accepted(client):
    message = MessageFactory(status="sent")
    response = post_signed(client, STATUS, _status_params(message.sid))
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered"


def test_a_valid_get_with_parameters_in_the_query_string_is_accepted(client):
    response = get_signed(client, INBOUND, _inbound_params(body="hello from GET"))
    assert response.status_code == 200
    assert Message.objects.get(sid="SM" + "b" * 32).body == "hello from GET"


def test_a_get_whose_query_string_was_changed_is_refused(client):
    params = _inbound_params()
    sig = signature("https://sms.example.org" + f"{INBOUND}?{urlencode(params)}")
    params["Body"] = "changed"
    response = client.get(f"{INBOUND}?{urlencode(params)}", HTTP_X_TWILIO_SIGNATURE=sig)
    assert response.status_code == 403
    assert not Message.objects.exists()


def test_behind_a_tls_terminating_proxy_the_public_url_is_what_counts(client, settings):
    # Twilio called https://sms.example.org/...; the proxy forwards to http://internal:8000.
    settings.ALLOWED_HOSTS = ["internal"]
    message = MessageFactory(status="sent")
    params = _status_params(message.sid)
    sig = signature(f"https://sms.example.org{STATUS}", params)
    response = _post(client, STATUS, params, sig, SERVER_NAME="internal", SERVER_PORT="8000")
    assert response.status_code == 200
    # ...and a signature for the address Django sees is not Twilio's.
    inner = signature(f"http://internal:8000{STATUS}", params)
    response = _post(client, STATUS, params, inner, SERVER_NAME="internal", SERVER_PORT="8000")
    assert response.status_code == 403


def test_twilio_signing_with_the_default_port_is_accepted(client):
    params = _status_params()
    sig = signature(f"https://sms.example.org:443{STATUS}", params)
    assert _post(client, STATUS, params, sig).status_code == 200


def test_a_query_string_on_a_posted_callback_is_part_of_the_signed_url(client):
    params = _status_params()
    path = f"{STATUS}?clinic=north"
    sig = signature(f"https://sms.example.org{path}", params)
    assert _post(client, path, params, sig).status_code == 200
    assert _post(client, f"{STATUS}?clinic=south", params, sig).status_code == 403


def test_without_public_base_url_the_address_django_sees_is_used(
    client, settings, caplog, monkeypatch
):
    settings.PUBLIC_BASE_URL = ""
    monkeypatch.setattr(decorators, "_warned", set())
    params = _status_params()
    sig = signature(f"http://testserver{STATUS}", params)
    with caplog.at_level(logging.WARNING, logger="smsapp.web.decorators"):
        assert _post(client, STATUS, params, sig).status_code == 200
        assert _post(client, STATUS, params, sig).status_code == 200
    assert caplog.text.count("PUBLIC_BASE_URL is not set") == 1


def test_a_forged_signature_is_refused(client):
    params = _status_params()
    forged = signature(f"https://sms.example.org{STATUS}", params, token="not-the-auth-token")
    assert _post(client, STATUS, params, forged).status_code == 403
    assert not StatusEvent.objects.exists()


def test_an_unsigned_request_is_refused(client):
    response = client.post(STATUS, urlencode(_status_params()), content_type=FORM)
    assert response.status_code == 403
    assert "not signed by Twilio" in response.json()["information"]
    assert not StatusEvent.objects.exists()


def test_a_signature_for_another_url_is_refused(client):
    params = _inbound_params()
    sig = signature(f"https://sms.example.org{STATUS}", params)
    assert _post(client, INBOUND, params, sig).status_code == 403
    other_host = signature(f"https://evil.example.com{INBOUND}", params)
    assert _post(client, INBOUND, params, other_host).status_code == 403
    assert not Message.objects.exists()


def test_a_parameter_added_after_signing_is_refused(client):
    params = _status_params()
    sig = signature(f"https://sms.example.org{STATUS}", params)
    params["ErrorCode"] = "30003"
    assert _post(client, STATUS, params, sig).status_code == 403


def test_a_parameter_changed_after_signing_is_refused(client):
    params = _status_params(status="sent")
    sig = signature(f"https://sms.example.org{STATUS}", params)
    params["MessageStatus"] = "read"
    assert _post(client, STATUS, params, sig).status_code == 403


def test_repeated_parameters_are_signed_as_twilio_signs_them(client):
    params = [*_status_params().items(), ("Tag", "b"), ("Tag", "a")]
    assert post_signed(client, STATUS, params).status_code == 200
    assert StatusEvent.objects.get().payload["Tag"] == ["b", "a"]
    # Dropping one of the repeated values breaks the signature.
    sig = signature(f"https://sms.example.org{STATUS}", params)
    assert _post(client, STATUS, params[:-1], sig).status_code == 403


def test_a_refusal_is_logged_with_path_and_caller_but_not_the_payload(client, caplog):
    params = _inbound_params(body="my private symptoms")
    with caplog.at_level(logging.WARNING, logger="smsapp.web.decorators"):
        _post(client, INBOUND, params, "bm90IGEgc2lnbmF0dXJl", REMOTE_ADDR="203.0.113.9")
    log = caplog.text
    assert INBOUND in log
    assert "203.0.113.9" in log
    assert "private symptoms" not in log
    assert "+14155550199" not in log


def test_the_refusal_log_does_not_believe_a_forwarded_for_header_without_a_proxy(client, caplog):
    """Without BEHIND_PROXY anyone may send X-Forwarded-For: the log names the peer."""
    with caplog.at_level(logging.WARNING, logger="smsapp.web.decorators"):
        _post(client, INBOUND, _inbound_params(), "bm90IGEgc2lnbmF0dXJl",
              REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.66")  # fmt: skip

    assert "from 203.0.113.9" in caplog.text
    assert "198.51.100.66" not in caplog.text


def test_behind_a_proxy_the_refusal_log_names_the_client_the_proxy_saw(client, caplog, settings):
    settings.BEHIND_PROXY = 1
    with caplog.at_level(logging.WARNING, logger="smsapp.web.decorators"):
        _post(client, INBOUND, _inbound_params(), "bm90IGEgc2lnbmF0dXJl",
              REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.66")  # fmt: skip

    # The client wrote 6.6.6.6 itself; our proxy appended the address it saw.
    assert "from 198.51.100.66" in caplog.text
    assert "6.6.6.6" not in caplog.text


def test_without_an_auth_token_every_webhook_is_refused(client, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    # Even a request "signed" with the empty key: an empty key proves nothing.
    for path, params in [(STATUS, _status_params()), (INBOUND, _inbound_params())]:
        sig = signature(f"https://sms.example.org{path}", params, token="")
        assert _post(client, path, params, sig).status_code == 403
    assert not StatusEvent.objects.exists()
    assert not Message.objects.exists()


def test_switching_validation_off_accepts_unsigned_requests_and_says_so(
    client, settings, caplog, monkeypatch
):
    settings.TWILIO_VALIDATE_WEBHOOKS = False
    monkeypatch.setattr(decorators, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="smsapp.web.decorators"):
        response = client.post(STATUS, urlencode(_status_params()), content_type=FORM)
    assert response.status_code == 200
    assert StatusEvent.objects.count() == 1
    assert "WITHOUT checking" in caplog.text


def test_only_the_methods_twilio_uses_are_allowed(client):
    params = _status_params()
    assert client.get(STATUS, params).status_code == 405
    assert client.put(INBOUND, urlencode(_inbound_params()), content_type=FORM).status_code == 405


def test_the_signature_is_checked_without_a_csrf_token():
    csrf_client = Client(enforce_csrf_checks=True)
    assert post_signed(csrf_client, STATUS, _status_params()).status_code == 200


def test_start_up_warnings_name_the_setting(settings):
    settings.DEBUG = True  # outside DEBUG these are errors (tests/test_startup_checks.py)
    assert webhook_signature_settings() == []
    settings.TWILIO_AUTH_TOKEN = ""
    assert [w.id for w in webhook_signature_settings()] == ["smsapp.W002"]
    settings.TWILIO_VALIDATE_WEBHOOKS = False
    assert [w.id for w in webhook_signature_settings()] == ["smsapp.W001"]
    settings.TWILIO_VALIDATE_WEBHOOKS = True
    settings.TWILIO_AUTH_TOKEN = "token"
    settings.PUBLIC_BASE_URL = ""
    assert [w.id for w in webhook_signature_settings()] == ["smsapp.W003"]


def test_the_system_check_framework_runs_the_warnings(settings):
    settings.DEBUG = True
    settings.TWILIO_VALIDATE_WEBHOOKS = False
    ids = [m.id for m in checks.run_checks(tags=[checks.Tags.security])]
    assert "smsapp.W001" in ids
