"""Settings for the test suite: the app's own, with fake Twilio credentials so no test can
reach a real account (HTTP is mocked with `responses` anyway), and fast password hashing."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")

from project.settings import *  # noqa: E402, F403

TWILIO_ACCOUNT_SID = "AC" + "0" * 32
TWILIO_API_KEY = "SK" + "1" * 32
TWILIO_API_SECRET = "test-api-secret"
TWILIO_AUTH_TOKEN = "test-auth-token"
TWILIO_RETRY_BACKOFF = 0.0
TWILIO_VALIDATE_WEBHOOKS = True
TWILIO_SANDBOX = False  # tests that need the offline stand-in switch it on themselves
PUBLIC_BASE_URL = "https://sms.example.org"
SYNC_EVERY_MINUTES = 0  # tests of the reconciliation switch it on; others must not sync
CLINIC_NAME = "Sunrise Clinic"
CANVAS_LAUNCH_KEY = "test-canvas-launch-key-0123456789abcdef"
CANVAS_ORIGIN = "https://clinic.canvasmedical.com"
# Quiet hours hang on the wall clock (21:00-08:00 in San Francisco is most of a European
# day): a test about them sets them (test_quiet_hours.py); no other may be held by them.
QUIET_HOURS = ""

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the live server, the concurrency tests and the sandbox's
    # background threads each open their own connection and must all see one database.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"smsapp-test-{os.getpid()}.sqlite3")
    }

# Threads the tests start (live servers, the sandbox, concurrency tests) must not keep
# sessions open past their request, or the test database cannot be dropped at the end.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="smsapp-test-media-")
STATIC_ROOT = tempfile.mkdtemp(prefix="smsapp-test-static-")  # whitenoise warns if it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
