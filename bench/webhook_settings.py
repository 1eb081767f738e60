"""Settings for bench/webhook_load.py: the app's own, plus the bare view's URLconf and a
known Auth Token, so the load script can sign callbacks as Twilio does. The database comes
from DATABASE_URL (the script points it at a temporary SQLite file)."""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")

from project.settings import *  # noqa: E402, F403

ROOT_URLCONF = "bench.webhook_urls"
TWILIO_AUTH_TOKEN = "bench-auth-token"
TWILIO_VALIDATE_WEBHOOKS = True
# Signed for the public address while the requests reach gunicorn on loopback, as behind
# a TLS-terminating proxy.
PUBLIC_BASE_URL = "https://sms.example.org"
