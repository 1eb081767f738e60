"""The documented production environment (deploy/.env.example) for tests that start the
app in a process of its own, as a server would: `manage.py check`, `manage.py work`,
gunicorn with deploy/gunicorn.conf.py."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
GUNICORN = Path(sys.executable).parent / "gunicorn"


def example_settings() -> dict[str, str]:
    """The settings deploy/.env.example sets (not the defaults it shows commented out)."""
    settings = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            settings[name.strip()] = value.strip().strip('"')
    return settings


def production_env(folder: Path, **overrides: str) -> dict[str, str]:
    """deploy/.env.example with what differs on this machine (a secret key, a database and
    folders of the test's own), then `overrides`; nothing else from this process's
    environment, so no test setting leaks in."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(folder)),
        "LANG": "C.UTF-8",
        **example_settings(),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "STATIC_ROOT": str(folder / "static"),
        "MEDIA_ROOT": str(folder / "media"),
        **overrides,
    }


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own commands
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run([sys.executable, "manage.py", *args], env)
