"""What every log line goes through: the request id, phone numbers masked, and the format.

project/settings.py (LOGGING) and deploy/gunicorn.conf.py (gunicorn's own lines) both use
`logging_config()`, so the app's, Django's and gunicorn's lines all leave through one
handler: masked, carrying the request id, plain or one JSON object per line. This module
imports nothing from Django, so gunicorn's master process can use it before any app code.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

# --- the request id ---------------------------------------------------------------------

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# An incoming X-Request-ID (set by the proxy, e.g. nginx's $request_id) is kept only when
# it is short and plain, so a client cannot write arbitrary text into the logs.
_PLAIN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_from(header: str | None) -> str:
    """The id for a request: its X-Request-ID when short and plain, else a new one."""
    if header and _PLAIN_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being handled; None outside one (jobs, commands)."""
    return _request_id.get()


def set_request_id(value: str | None):
    """Make `value` the current request id; returns a token for `reset_request_id`."""
    return _request_id.set(value)


def reset_request_id(token) -> None:
    _request_id.reset(token)


# --- phone numbers ----------------------------------------------------------------------

# E.164 as written (+14155550123) or URL-encoded (%2B14155550123, in paths and query
# strings), and bare runs of 10 to 15 digits (a number without its +). Digits inside a
# SID (SM0123...) or a decimal are not numbers: the run must stand alone.
_PHONE_NUMBER = re.compile(r"(\+|%2[Bb])(\d{4,11})(\d{4})\b|(?<![\w.+-])(\d{6,11})(\d{4})(?!\w)")


def _mask(match: re.Match) -> str:
    if match.group(1) is not None:
        return match.group(1) + "*" * len(match.group(2)) + match.group(3)
    return "*" * len(match.group(4)) + match.group(5)


def mask_phone_numbers(text: str) -> str:
    """`text` with every phone number reduced to its last 4 digits: +*******0123."""
    return _PHONE_NUMBER.sub(_mask, text)


class MaskPhoneNumbers(logging.Filter):
    """Masks phone numbers in the whole line: the message with its arguments, the
    exception's traceback and the stack, whoever logged it (the app, Django's
    `django.request` and `django.server`, gunicorn's access log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep the format only
            message = f"{record.msg} (its arguments did not fit this format)"
        record.msg = mask_phone_numbers(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_phone_numbers(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_phone_numbers(record.stack_info)
        return True


class AddRequestId(logging.Filter):
    """Puts the current request's id on the record (`request_id`, "-" outside a request).
    Two lines are written once the request is over: Django's "Not Found: /path" carries
    the request itself, and gunicorn's access line the X-Request-ID header it logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() or _finished_request_id(record) or "-"
        return True


def _finished_request_id(record: logging.LogRecord) -> str | None:
    if record.name == "gunicorn.access" and isinstance(record.args, dict):
        return record.args.get("{x-request-id}o")
    return getattr(getattr(record, "request", None), "request_id", None)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when the line is written, as logging's own
    last-resort handler does, so a process that swaps sys.stderr (a test runner capturing
    output, a command run in-process) never leaves it writing to a closed stream."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):
        return sys.stderr


# --- formats ----------------------------------------------------------------------------

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
FORMATS = ("plain", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors: time, level, logger, message,
    request_id, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(*, level: str = "INFO", log_format: str = "plain") -> dict:
    """A dictConfig for the whole process: one console handler on the root logger, and
    Django's and gunicorn's loggers sent there instead of to handlers of their own."""
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be plain or json (got {log_format!r}).")
    level = level.strip().upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR (got {level!r}).")
    # Their default handlers would write the same records again, unmasked.
    through_root = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": AddRequestId},
            "mask_phone_numbers": {"()": MaskPhoneNumbers},
        },
        "formatters": {
            "plain": {"format": PLAIN_FORMAT},
            "json": {"()": JsonFormatter},
        },
        "handlers": {
            "console": {
                "()": StderrHandler,
                "formatter": log_format,
                # In this order: the request id may come from gunicorn's arguments,
                # which masking folds into the message.
                "filters": ["request_id", "mask_phone_numbers"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # The SDK logs whole request bodies (patients' messages) at INFO.
            "twilio": {"level": "WARNING"},
            # "No .env file" at each start, where the environment comes from systemd.
            "environ": {"level": "WARNING"},
            "django": through_root,
            "django.server": through_root,
            "gunicorn.error": through_root,
            "gunicorn.access": through_root,
        },
    }
