"""Logs: one request id per request (in every line written while answering it, in the
X-Request-ID header and in the API's error answers), phone numbers masked in every line
whoever writes it, and one JSON object per line with LOG_FORMAT=json.

tests/conftest.py also reads every line the whole suite writes, and fails the run if one
holds a full phone number or a message body."""

import io
import json
import logging

import pytest

from smsapp.lib import logs
from tests.conftest import patient_data_in

API = "/plugin-io/api/twilio_sms_mms/"


@pytest.fixture
def written(capsys):
    """What the app's log handler writes (to stderr), as text: `written()`."""
    return lambda: capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+14155550123", "+*******0123"),
        ("/message_list/+14155550123/from", "/message_list/+*******0123/from"),
        ("From=%2B14155550123&To=%2b442071838750", "From=%2B*******0123&To=%2b********8750"),
        ("whatsapp:+14155550123", "whatsapp:+*******0123"),
        ("patient 4155550123 wrote", "patient ******0123 wrote"),
        ("+33612345678 and +4915112345678", "+*******5678 and +*********5678"),
    ],
)
def test_every_way_a_number_is_written_keeps_only_its_last_4_digits(text, masked):
    assert logs.mask_phone_numbers(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "SM00000000000000000000000000001234 delivered",
        "2026-11-01 12:00:00,123 +0000",
        "took 0.123456789012 s",
        "Received Terminated - shutting down",
        "10.0.0.11:8000 pid 12345",
        "0f82cfc401d346bbaab4b1ce9e683070",
    ],
)
def test_sids_times_and_ids_are_not_mistaken_for_numbers(text):
    assert logs.mask_phone_numbers(text) == text


def test_a_patient_number_in_a_path_is_masked_in_djangos_own_line(client, written):
    response = client.get("/no-such-page/+14155550123")

    line = written()
    assert response.status_code == 404
    assert f"[{response['X-Request-ID']}] Not Found: /no-such-page/+*******0123" in line
    assert "4155550123" not in line


def test_a_traceback_is_masked_too(written):
    try:
        raise ValueError("no conversation with +14155550123")
    except ValueError:
        logging.getLogger("smsapp.test").exception("Could not open it")

    lines = written()
    assert "with +*******0123" in lines
    assert "+14155550123" not in lines


def test_a_line_whose_arguments_do_not_fit_is_written_without_them(written):
    logging.getLogger("smsapp.test").warning("Sent %s to %s", "+14155550123")

    assert "Sent %s to %s (its arguments did not fit this format)" in written()


def test_each_request_gets_an_id_sent_back_and_on_its_lines(client, written):
    first = client.get("/no-such-page")
    second = client.get("/no-such-page")

    request_id = first["X-Request-ID"]
    assert len(request_id) == 32 and request_id != second["X-Request-ID"]
    assert f"[{request_id}] Not Found: /no-such-page" in written()


def test_the_proxys_request_id_is_kept_when_short_and_plain(client):
    response = client.get("/healthz", headers={"X-Request-ID": "nginx-7f3a.42_b"})

    assert response["X-Request-ID"] == "nginx-7f3a.42_b"


@pytest.mark.parametrize("sent", ["x" * 65, "two words", "id\nforged line", "café", ""])
def test_any_other_request_id_is_replaced(client, sent):
    response = client.get("/healthz", headers={"X-Request-ID": sent})

    assert response["X-Request-ID"] != sent
    assert len(response["X-Request-ID"]) == 32


def test_an_api_error_answer_names_its_request_id(client):
    response = client.get(API + "phone_list", headers={"X-Request-ID": "abc123"})

    assert response.status_code == 401
    assert response.json()["requestId"] == "abc123"
    assert set(response.json()) == {"information", "requestId"}


def _broken(*args, **kwargs):
    raise RuntimeError("a bug")


def test_an_unexpected_error_answers_the_apis_shape_with_the_request_id(
    staff_client, monkeypatch, written
):
    monkeypatch.setattr("smsapp.web.api.inbound_webhook_url", _broken)
    staff_client.raise_request_exception = False

    response = staff_client.get(API + "phone_list")

    request_id, lines = response["X-Request-ID"], written()
    assert response.status_code == 500
    assert response.json() == {
        "information": "Something went wrong on our side; try again, and if it keeps failing, "
        f"give the request id {request_id} to your administrator.",
        "requestId": request_id,
    }
    assert f"ERROR django.request [{request_id}] Internal Server Error" in lines
    assert "RuntimeError: a bug" in lines


def test_an_unexpected_error_on_a_page_shows_the_request_id(staff_client, monkeypatch):
    monkeypatch.setattr("smsapp.web.pages.page_config", _broken)
    staff_client.raise_request_exception = False

    response = staff_client.get("/")

    assert response.status_code == 500
    assert f"<code>{response['X-Request-ID']}</code>" in response.content.decode()


def test_outside_a_request_there_is_no_request_id(client, written):
    client.get("/healthz")
    logging.getLogger("smsapp.jobs").warning("a job ran")

    assert logs.current_request_id() is None
    assert "[-] a job ran" in written()


def test_json_lines_carry_time_level_logger_message_and_request_id():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.AddRequestId())
    handler.addFilter(logs.MaskPhoneNumbers())
    logger = logging.getLogger("tests.json")
    logger.addHandler(handler)
    logger.propagate = False
    token = logs.set_request_id("req-1")
    try:
        logger.warning("Sent to %s", "+14155550123")
    finally:
        logs.reset_request_id(token)
        logger.removeHandler(handler)
        logger.propagate = True

    line = stream.getvalue()
    entry = json.loads(line)
    assert line.count("\n") == 1
    assert entry == {
        "time": entry["time"],
        "level": "WARNING",
        "logger": "tests.json",
        "message": "Sent to +*******0123",
        "request_id": "req-1",
    }
    assert entry["time"].endswith("+00:00")


def test_log_format_and_level_must_be_known_values():
    with pytest.raises(ValueError, match="LOG_FORMAT must be plain or json"):
        logs.logging_config(log_format="xml")
    with pytest.raises(ValueError, match="LOG_LEVEL must be"):
        logs.logging_config(level="LOUD")


def test_the_suites_own_check_finds_numbers_and_bodies():
    lines = [
        "INFO smsapp [-] Sent to +*******0123",
        "INFO smsapp [-] Sent to +14155550123",
        "INFO smsapp [-] GET /x/%2B14155550123",
        "INFO smsapp [-] body: Message number 12",
        "INFO smsapp [-] body: Photo of my rash",
    ]

    assert patient_data_in(lines, {"Photo of my rash"}) == lines[1:]
