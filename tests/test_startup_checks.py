"""Start-up checks (smsapp/checks.py): with DEBUG off, the usual mistakes of a production
start stop `manage.py check`, runserver and `manage.py work` with a sentence naming the
fix: static files not collected, PUBLIC_BASE_URL not https, webhook signatures unchecked.
(gunicorn refusing too: tests/test_deploy.py.)"""

import json

import pytest
from django.contrib.staticfiles import finders

from smsapp.checks import public_address_is_https, static_files_collected
from smsapp.checks import webhook_signature_settings as webhook_signatures
from tests.production import manage, production_env

MANIFEST_STORAGE = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "project.storage.StaticStorage"},
}


@pytest.fixture
def production(settings, tmp_path):
    """This process's settings as production's: DEBUG off, the manifest storage, an
    empty STATIC_ROOT."""
    settings.DEBUG = False
    settings.STORAGES = MANIFEST_STORAGE
    settings.STATIC_ROOT = tmp_path
    return settings


def _write_manifest(folder, paths: list[str]) -> None:
    manifest = {"paths": {path: path for path in paths}, "version": "1.1", "hash": "x"}
    (folder / "staticfiles.json").write_text(json.dumps(manifest))


def _app_static_files() -> list[str]:
    ignored = ["CVS", ".*", "*~"]
    return sorted(path for f in finders.get_finders() for path, _ in f.list(ignored))


def test_static_files_not_collected_stop_a_production_start(production):
    [error] = static_files_collected()

    assert error.id == "smsapp.E003"
    assert "run manage.py collectstatic" in error.msg
    assert "Missing staticfiles manifest entry" in error.msg


def test_a_file_added_since_the_last_collectstatic_stops_it_too(production, tmp_path):
    files = _app_static_files()
    _write_manifest(tmp_path, [f for f in files if f != "smsapp/page/main.js"])

    [error] = static_files_collected()

    assert "newer than the last collectstatic (such as smsapp/page/main.js)" in error.msg


def test_collected_static_files_pass(production, tmp_path):
    _write_manifest(tmp_path, _app_static_files())

    assert static_files_collected() == []


def test_debug_serves_static_files_from_the_apps_folders(production):
    production.DEBUG = True

    assert static_files_collected() == []


@pytest.mark.parametrize("address", ["http://sms.example.org", ""])
def test_a_production_address_must_be_https(production, address):
    production.PUBLIC_BASE_URL = address

    [error] = public_address_is_https()

    assert error.id == "smsapp.E002"
    assert "https://sms.example.org" in error.hint


def test_unchecked_webhook_signatures_stop_a_production_start(production):
    production.TWILIO_VALIDATE_WEBHOOKS = False

    [error] = webhook_signatures()
    assert error.id == "smsapp.E001" and error.is_serious()

    production.DEBUG = True  # a local experiment: a warning only
    [warning] = webhook_signatures()
    assert warning.id == "smsapp.W001" and not warning.is_serious()


# --- the commands refuse, naming the fix (each in a process of its own, as started) ----


@pytest.mark.parametrize(
    ("setting", "fix"),
    [
        ({}, "run manage.py collectstatic"),
        ({"PUBLIC_BASE_URL": "http://sms.example.org"}, "Set PUBLIC_BASE_URL to the https"),
        ({"TWILIO_VALIDATE_WEBHOOKS": "false"}, "Set TWILIO_VALIDATE_WEBHOOKS=true"),
    ],
)
def test_manage_py_check_refuses_naming_the_fix(tmp_path, collected_static, setting, fix):
    # Static files collected, except in the first case: each error is alone.
    static = {} if not setting else {"STATIC_ROOT": str(collected_static)}
    result = manage("check", env=production_env(tmp_path, **static, **setting))

    assert result.returncode == 1
    assert fix in result.stderr
    assert result.stderr.count("(smsapp.E00") == 1


def test_the_task_worker_refuses_to_start_too(tmp_path):
    result = manage("work", "--once", env=production_env(tmp_path))

    assert result.returncode == 1
    assert "run manage.py collectstatic" in result.stderr
