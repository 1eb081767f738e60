"""Start-up configuration: a bad value stops the app with a message naming the variable,
and SQLite connections are set up for concurrent webhook writes."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db.backends.sqlite3.base import DatabaseWrapper

ROOT = Path(__file__).resolve().parent.parent
START = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
GOOD = {"SECRET_KEY": "x" * 50, "DEBUG": "false", "DATABASE_URL": "sqlite:///:memory:"}


def start(script: str = START, **env: str) -> subprocess.CompletedProcess:
    """Configure Django in a fresh process with project.settings and this environment
    (on top of a good one), then run `script`."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("TWILIO_", "CANVAS_", "DJANGO_", "SECRET_", "DEBUG", "DATABASE", "SYNC_")
        )
    }
    environment |= {**GOOD, "DJANGO_SETTINGS_MODULE": "project.settings", **env}
    return subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_good_environment_starts_without_twilio_credentials():
    result = start()

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("DEBUG", "maybe", "DEBUG must be true or false (got 'maybe')"),
        ("DATABASE_URL", "garbage", "DATABASE_URL must start with sqlite:/// or postgres://"),
        ("DATABASE_URL", "mysql://root@127.0.0.1/sms", "DATABASE_URL must start with"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:port/sms", "DATABASE_URL"),
        ("TWILIO_TIMEOUT", "abc", "TWILIO_TIMEOUT must be a number (got 'abc')"),
        ("TWILIO_TIMEOUT", "0", "TWILIO_TIMEOUT must be greater than 0"),
        ("TWILIO_TIMEOUT", "nan", "TWILIO_TIMEOUT must be a number"),
        ("TWILIO_MAX_RETRIES", "2.5", "TWILIO_MAX_RETRIES must be a whole number (got '2.5')"),
        ("TWILIO_RETRY_BACKOFF", "-1", "TWILIO_RETRY_BACKOFF must be 0 or more"),
        ("TWILIO_MEDIA_MAX_BYTES", "5MB", "TWILIO_MEDIA_MAX_BYTES must be a whole number"),
        ("CONSENT_SCOPE", "everyone", "CONSENT_SCOPE must be account or number"),
        ("OFFICE_HOURS", "mon-fry 08:00-17:00", "OFFICE_HOURS: 'fry' is not a day"),
        ("OFFICE_HOURS", "weekdays 9-5", "OFFICE_HOURS: 'weekdays' is not a day"),
        ("OFFICE_HOLIDAYS", "Narnia", "OFFICE_HOLIDAYS: 'NARNIA' is not a country"),
        ("QUIET_HOURS", "9pm-8am", "QUIET_HOURS: '9pm' is not a time of day"),
        ("TWILIO_VALIDATE_WEBHOOKS", "sometimes", "TWILIO_VALIDATE_WEBHOOKS must be true or"),
        ("PUBLIC_BASE_URL", "sms.example.org", "PUBLIC_BASE_URL must be a full URL"),
        ("SECRET_KEY", "", "SECRET_KEY is not set"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be plain or json (got 'xml')"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR"),
        ("SECURE_SSL_REDIRECT", "always", "SECURE_SSL_REDIRECT must be true or false"),
        ("SECURE_HSTS_SECONDS", "1 year", "SECURE_HSTS_SECONDS must be a whole number"),
        ("QUEUE_WORKER_STALE_SECONDS", "0", "QUEUE_WORKER_STALE_SECONDS must be greater than 0"),
        ("TWILIO_DEADLINE", "0", "TWILIO_DEADLINE must be greater than 0"),
        ("BEHIND_PROXY", "yes", "BEHIND_PROXY must be a whole number (got 'yes')"),
        ("BEHIND_PROXY", "-1", "BEHIND_PROXY must be 0 or more"),
        ("EMBED_SCOPE", "everyone", "EMBED_SCOPE must be clinic or patient"),
        ("SYNC_EVERY_MINUTES", "often", "SYNC_EVERY_MINUTES must be a whole number"),
        ("SYNC_EVERY_MINUTES", "-5", "SYNC_EVERY_MINUTES must be 0 or more"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(variable, value, words):
    result = start(**{variable: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert words in result.stderr


SHOW_KEY = START.replace("print(settings.DEBUG)", "print(settings.SECRET_KEY)")


def test_a_missing_secret_key_is_allowed_only_with_debug_and_is_random_per_process():
    """A fixed fallback would let anyone forge API tokens and sandbox webhooks."""
    first = start(SHOW_KEY, SECRET_KEY="", DEBUG="true")
    second = start(SHOW_KEY, SECRET_KEY="", DEBUG="true")

    assert first.returncode == 0, first.stderr
    keys = {first.stdout.strip(), second.stdout.strip()}
    assert len(keys) == 2 and all(len(key) >= 50 for key in keys)
    assert "django-insecure" not in first.stdout
    assert "sign-ins and API tokens end when it restarts" in first.stderr


PROXY_SETTINGS = START.replace(
    "print(settings.DEBUG)",
    "print(settings.BEHIND_PROXY, getattr(settings, 'SECURE_PROXY_SSL_HEADER', None))",
)


def test_forwarded_https_is_believed_only_behind_a_proxy():
    https = {"PUBLIC_BASE_URL": "https://sms.example.org"}

    assert start(PROXY_SETTINGS, **https).stdout.strip() == "0 None"
    assert start(PROXY_SETTINGS, **https, BEHIND_PROXY="1").stdout.strip() == (
        "1 ('HTTP_X_FORWARDED_PROTO', 'https')"
    )


@pytest.fixture
def sqlite_file(tmp_path, django_db_blocker):
    """The app's SQLite configuration (OPTIONS included) on a file of the test's own,
    apart from the shared test database, so what the connection sets is seen fresh."""
    config = settings.DATABASES["default"]
    if config["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("SQLite connection settings; this run uses PostgreSQL")
    opened = []

    def connect() -> DatabaseWrapper:
        wrapper = DatabaseWrapper({**config, "NAME": str(tmp_path / "app.sqlite3")})
        wrapper.ensure_connection()
        opened.append(wrapper)
        return wrapper

    with django_db_blocker.unblock():
        yield connect
        for wrapper in opened:
            wrapper.close()


def pragma(wrapper: DatabaseWrapper, name: str):
    with wrapper.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


def test_sqlite_connections_use_wal_and_a_busy_timeout(sqlite_file):
    first, second = sqlite_file(), sqlite_file()

    for wrapper in (first, second):  # every connection, not only the first
        assert pragma(wrapper, "journal_mode") == "wal"
        assert pragma(wrapper, "busy_timeout") == 20_000
        assert pragma(wrapper, "synchronous") == 1  # NORMAL: safe with WAL, far fewer fsyncs


def test_a_concurrent_sqlite_writer_waits_instead_of_failing(sqlite_file):
    """Two webhooks writing at once: the second waits for the first's commit."""
    holder, waiter = sqlite_file(), sqlite_file()
    waiter.inc_thread_sharing()  # used from the thread below, like a second worker
    with holder.cursor() as cursor:
        cursor.execute("CREATE TABLE hits (n INTEGER)")
    errors = []

    def write_while_locked() -> None:
        try:
            with waiter.cursor() as cursor:
                cursor.execute("INSERT INTO hits VALUES (2)")
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    holder.set_autocommit(False)
    with holder.cursor() as cursor:
        cursor.execute("INSERT INTO hits VALUES (1)")  # holds the write lock until commit
    thread = threading.Thread(target=write_while_locked)
    thread.start()
    time.sleep(0.5)
    holder.commit()
    holder.set_autocommit(True)
    thread.join(timeout=30)
    waiter.dec_thread_sharing()

    assert errors == []
    with holder.cursor() as cursor:
        cursor.execute("SELECT n FROM hits ORDER BY n")
        assert cursor.fetchall() == [(1,), (2,)]
