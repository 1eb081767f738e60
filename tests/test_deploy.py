"""The deployment recipe in deploy/: its .env.example names every setting and is a clean
production configuration for `manage.py check --deploy`, and gunicorn started with its
config refuses to serve when a start-up check fails.

The whole recipe runs end to end in deploy/rehearse.sh (CI, on PostgreSQL)."""

import re
import subprocess

from tests.production import GUNICORN, ROOT, example_settings, manage, production_env, run

# Every way project/settings.py reads a variable: env.str("X"...), _bool("X"...), ...
_READS = re.compile(r"(?:env\.\w+|_bool|_number|_base_url)\(\s*\"([A-Z][A-Z0-9_]*)\"")


def test_env_example_names_every_setting_the_app_reads():
    read = set(_READS.findall((ROOT / "project" / "settings.py").read_text()))
    example = (ROOT / "deploy" / ".env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))

    assert len(read) > 25  # the pattern still finds them
    assert read - named == set()


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path, collected_static):
    env = production_env(tmp_path, STATIC_ROOT=str(collected_static))

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert example_settings()["DEBUG"] == "false"


def test_without_the_https_settings_check_deploy_warns(tmp_path, collected_static):
    env = production_env(
        tmp_path,
        STATIC_ROOT=str(collected_static),
        SECURE_HSTS_SECONDS="0",
        SECURE_SSL_REDIRECT="false",
    )

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 1
    assert "(security.W004)" in result.stderr and "(security.W008)" in result.stderr


def test_gunicorn_with_the_shipped_config_refuses_to_start_naming_the_fix(tmp_path):
    env = production_env(tmp_path, PUBLIC_BASE_URL="http://sms.example.org")
    config = str(ROOT / "deploy" / "gunicorn.conf.py")

    result = run([str(GUNICORN), "-c", config, "--bind", "127.0.0.1:0"], env)

    assert result.returncode == 1
    assert "manage.py check refused to start the server" in result.stderr
    assert "run manage.py collectstatic" in result.stderr
    assert "Set PUBLIC_BASE_URL to the https address" in result.stderr
    assert "Booting worker" not in result.stderr


def test_env_example_reads_the_same_in_a_shell_as_in_the_app():
    """The rehearsal (and systemd's EnvironmentFile) read it too: a value with spaces
    must be quoted, or sh runs its second word as a command."""
    result = subprocess.run(
        ["/bin/sh", "-c", "set -a; . deploy/.env.example; env"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    shell = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    for name, value in example_settings().items():
        assert shell[name] == value, name
