"""Settings, read once from the environment (and an optional `.env` beside manage.py).

Every variable is listed with its default in README.md ("Configuration"). A value that
cannot be parsed stops start-up with ImproperlyConfigured naming the variable, instead of
failing at the first request.
"""

import logging
import math
import secrets
import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from smsapp.lib import hours, logs

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(name: str, default: bool) -> bool:
    """django-environ reads any unknown word as False; a typo must not silently switch
    a security setting, so anything but a clear yes/no is refused."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (got {raw!r}).")


def _number(name: str, default: float, cast=float, *, positive: bool = False):
    """A number from the environment; `positive` refuses 0 too (a 0 s timeout fails every
    call). "nan" and "inf" parse as floats but are not settings anyone means."""
    kind = "a whole number" if cast is int else "a number"
    try:
        value = cast(env.str(name, default=str(default)))
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {kind} (got {env.str(name)!r}).") from None
    if not math.isfinite(value):
        raise ImproperlyConfigured(f"{name} must be {kind} (got {env.str(name)!r}).")
    if value < 0 or (positive and value == 0):
        limit = "greater than 0" if positive else "0 or more"
        raise ImproperlyConfigured(f"{name} must be {limit} (got {env.str(name)!r}).")
    return value


def _base_url(name: str) -> str:
    value = env.str(name, default="").strip().rstrip("/")
    if value and not value.startswith(("https://", "http://")):
        raise ImproperlyConfigured(f"{name} must be a full URL such as https://sms.example.org.")
    return value


DEBUG = _bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Put a long random value in the environment or in .env "
            "(`make run` writes one for you)."
        )
    # Never a fixed key: anyone could forge API tokens and sandbox webhooks with it.
    SECRET_KEY = secrets.token_urlsafe(50)
    warnings.warn(
        "SECRET_KEY is not set: this process uses a random key of its own, so sign-ins and "
        "API tokens end when it restarts (and another process, such as the task worker, "
        "cannot check them). Set SECRET_KEY in .env.",
        stacklevel=1,
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The public https address Twilio and Canvas reach this app at, without a trailing slash.
# Webhook signatures are checked against it, so TLS-terminating proxies work.
PUBLIC_BASE_URL = _base_url("PUBLIC_BASE_URL")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "smsapp",
    "twilio_sandbox",
]

# Background jobs: Django's Tasks API with the database backend, so jobs live in the app's
# own database and `manage.py work` runs them (smsapp/tasks.py, smsapp/worker.py).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# Minutes between the workers' incremental syncs with a real Twilio account (Twilio's
# status callbacks can be lost); 0 switches the periodic reconciliation off.
SYNC_EVERY_MINUTES = _number("SYNC_EVERY_MINUTES", 15, int)
# What {clinic_name} in a message template becomes; empty leaves it for staff to fill.
CLINIC_NAME = env.str("CLINIC_NAME", default="").strip()

# --- consent and hours (smsapp/services/consent.py, smsapp/lib/hours.py) ------------------
# `account`: a patient's STOP to any of the clinic's numbers stops texts from all of them
# (what the patient means); `number`: only from the number they texted (Twilio's own rule).
CONSENT_SCOPE = env.str("CONSENT_SCOPE", default="account").strip().lower()
if CONSENT_SCOPE not in ("account", "number"):
    raise ImproperlyConfigured(f"CONSENT_SCOPE must be account or number (got {CONSENT_SCOPE!r}).")


def _hours_setting(name: str, default: str, parse) -> str:
    """A schedule setting, kept as text (smsapp.lib.hours parses it where it is used) but
    parsed now, so a typo stops start-up instead of every after-hours reply."""
    value = env.str(name, default=default).strip()
    try:
        parse(value)
    except ValueError as problem:
        raise ImproperlyConfigured(f"{name}: {problem} (got {value!r}).") from None
    return value


# When the office is open, in TIME_ZONE: auto-replies limited to outside office hours.
OFFICE_HOURS = _hours_setting("OFFICE_HOURS", "mon-fri 08:00-17:00", hours.parse_office_hours)
# Public holidays the office is closed on (the holidays package: US, US-CA; empty: none).
OFFICE_HOLIDAYS = _hours_setting("OFFICE_HOLIDAYS", "", hours.holiday_calendar)
# When the app texts no patient on its own, in the patient's local time (empty: never).
QUIET_HOURS = _hours_setting("QUIET_HOURS", "21:00-08:00", hours.parse_window)

MIDDLEWARE = [
    # First, so every response (a redirect or an error too) carries X-Request-ID and every
    # log line written while answering carries the same id.
    "smsapp.web.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Content-Security-Policy (frame-ancestors included) on every HTML response.
    "smsapp.web.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dict:
    url = env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for a bad URL
        raise ImproperlyConfigured(f"DATABASE_URL could not be parsed: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        # WAL lets readers work while a webhook writes; the busy timeout makes concurrent
        # writers wait instead of failing with "database is locked"; IMMEDIATE takes the
        # write lock at BEGIN so two transactions never deadlock upgrading a read lock.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        # A new SQLite connection re-reads the whole schema on its first query, which cost
        # a webhook more than its own work (bench/README.md): keep connections open.
        config.setdefault("CONN_MAX_AGE", 600)
    elif engine == "django.db.backends.postgresql":
        config.setdefault("CONN_MAX_AGE", 60)
        config["CONN_HEALTH_CHECKS"] = True
    else:
        raise ImproperlyConfigured(
            "DATABASE_URL must start with sqlite:/// or postgres:// "
            "(for example postgres://user:password@127.0.0.1:5432/sms)."
        )
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# The app's own sign-in page: agents are not staff of the admin site, whose login refuses them.
LOGIN_URL = "smsapp:login"
LOGIN_REDIRECT_URL = "smsapp:page"
LOGOUT_REDIRECT_URL = "smsapp:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "project.storage.StaticStorage"
        )
    },
}

SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
if PUBLIC_BASE_URL.startswith("https://"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# How many proxies in front of the app to trust (0: clients connect to it directly). Only
# then are their X-Forwarded-Proto (https) and X-Forwarded-For (the client's address, in
# logs) believed: without a proxy, any client could send them.
BEHIND_PROXY = _number("BEHIND_PROXY", 0, int)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# HTTPS only. Off by default: HSTS makes browsers refuse plain http to this host for
# SECURE_HSTS_SECONDS, and a redirect needs the proxy's X-Forwarded-Proto to be trusted.
# deploy/.env.example turns them on for production (manage.py check --deploy is clean).
SECURE_HSTS_SECONDS = _number("SECURE_HSTS_SECONDS", 0, int)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", False)
# Health checks come from load balancers and monitors on the private network, over http;
# the sandbox's stand-in for Twilio is called by this same app at SANDBOX_BASE_URL.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^sandbox/"]

# --- Twilio ------------------------------------------------------------------------------
# The REST client authenticates with an API key (TWILIO_API_KEY + TWILIO_API_SECRET);
# webhook signatures can only be checked with the account's Auth Token.
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_API_KEY = env.str("TWILIO_API_KEY", default="")
TWILIO_API_SECRET = env.str("TWILIO_API_SECRET", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_TIMEOUT = _number("TWILIO_TIMEOUT", 10.0, positive=True)
# Seconds one call to Twilio may take in all, retries included (smsapp/twilio_gateway/calls.py).
TWILIO_DEADLINE = _number("TWILIO_DEADLINE", 15.0, positive=True)
TWILIO_MAX_RETRIES = _number("TWILIO_MAX_RETRIES", 3, int)
TWILIO_RETRY_BACKOFF = _number("TWILIO_RETRY_BACKOFF", 0.5)
TWILIO_MEDIA_MAX_BYTES = _number("TWILIO_MEDIA_MAX_BYTES", 5 * 1024 * 1024, int, positive=True)
TWILIO_VALIDATE_WEBHOOKS = _bool("TWILIO_VALIDATE_WEBHOOKS", True)

# /readyz fails when no task worker (manage.py work) reported in or took a job this long ago.
QUEUE_WORKER_STALE_SECONDS = _number("QUEUE_WORKER_STALE_SECONDS", 300, int, positive=True)

# --- Offline sandbox ---------------------------------------------------------------------
# With no Twilio account configured, the app talks to a local stand-in for Twilio (the
# twilio_sandbox app, served by this same server under /sandbox/twilio/), so it runs and
# demos with no account and no internet. TWILIO_SANDBOX=false switches that off (the app
# then answers 503 "Twilio is not configured"); true forces it on.
if env.str("TWILIO_SANDBOX", default="auto").strip().lower() == "auto":
    TWILIO_SANDBOX = not TWILIO_ACCOUNT_SID
else:
    TWILIO_SANDBOX = _bool("TWILIO_SANDBOX", False)
# Where this app itself is reachable from its own process (the stand-in is served here).
SANDBOX_BASE_URL = _base_url("SANDBOX_BASE_URL") or "http://127.0.0.1:8000"
# Seconds between a sandbox message's status steps (queued → sent → delivered).
SANDBOX_STEP_SECONDS = _number("SANDBOX_STEP_SECONDS", 1.5)
if TWILIO_SANDBOX:
    from twilio_sandbox import credentials as _sandbox_credentials

    TWILIO_ACCOUNT_SID = _sandbox_credentials.ACCOUNT_SID
    TWILIO_API_KEY = _sandbox_credentials.API_KEY
    TWILIO_API_SECRET = _sandbox_credentials.api_secret(SECRET_KEY)
    TWILIO_AUTH_TOKEN = _sandbox_credentials.auth_token(SECRET_KEY)
    PUBLIC_BASE_URL = PUBLIC_BASE_URL or SANDBOX_BASE_URL

# --- Canvas ------------------------------------------------------------------------------
# Signs the plugin's launch tokens (HS256): a short key could be guessed offline from one
# launch URL, so it is refused at start-up rather than trusted.
CANVAS_LAUNCH_KEY = env.str("CANVAS_LAUNCH_KEY", default="").strip()
if CANVAS_LAUNCH_KEY and len(CANVAS_LAUNCH_KEY) < 32:
    raise ImproperlyConfigured(
        "CANVAS_LAUNCH_KEY must be at least 32 characters; make one with "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'."
    )
CANVAS_ORIGIN = _base_url("CANVAS_ORIGIN")
# The Canvas instance the plugin is installed on (https://<clinic>.canvasmedical.com): where
# the app reads the patient directory and records texts in charts (docs/canvas.md). Empty:
# the app never calls Canvas (no names from the directory but what the plugin pushes, no
# texts in charts, no badge).
CANVAS_INSTANCE_URL = _base_url("CANVAS_INSTANCE_URL")
# The role (smsapp.roles) a Canvas user gets on their first launch.
CANVAS_DEFAULT_GROUP = env.str("CANVAS_DEFAULT_GROUP", default="SMS agents")
# What a session opened from a chart reaches: `clinic`, every conversation (Canvas staff
# may open any chart), or `patient`, only the launched patient's (smsapp/web/scope.py).
EMBED_SCOPE = env.str("EMBED_SCOPE", default="clinic").strip().lower()
if EMBED_SCOPE not in ("clinic", "patient"):
    raise ImproperlyConfigured(f"EMBED_SCOPE must be clinic or patient (got {EMBED_SCOPE!r}).")

# --- the audit trail (smsapp/services/audit.py) -------------------------------------------
# Days an audit event is kept before the daily purge deletes it: six years, as HIPAA asks
# of a covered entity's records. Fewer than 365 is refused: a purge cannot be undone, so a
# mistyped value must stop start-up rather than delete years of the trail.
AUDIT_RETENTION_DAYS = _number("AUDIT_RETENTION_DAYS", 2190, int)
if AUDIT_RETENTION_DAYS < 365:
    raise ImproperlyConfigured(
        f"AUDIT_RETENTION_DAYS must be at least 365 (got {AUDIT_RETENTION_DAYS}); the "
        "default, 2190, keeps six years."
    )

# One line per record, phone numbers masked, with the request id; LOG_FORMAT=json gives
# one JSON object per line for log collectors (smsapp/lib/logs.py).
try:
    LOGGING = logs.logging_config(
        level=env.str("LOG_LEVEL", default="INFO"),
        log_format=env.str("LOG_FORMAT", default="plain").strip().lower(),
    )
except ValueError as problem:
    raise ImproperlyConfigured(str(problem)) from None
logging.captureWarnings(True)
