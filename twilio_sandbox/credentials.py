"""The sandbox account's identity. Imported by settings, so plain Python only.

The secrets are derived from SECRET_KEY: stable across restarts, different per install, and
never written anywhere."""

import hashlib
import hmac

ACCOUNT_SID = "AC" + hashlib.sha256(b"twilio-sandbox-account").hexdigest()[:32]
API_KEY = "SK" + hashlib.sha256(b"twilio-sandbox-api-key").hexdigest()[:32]


def derived_secret(secret_key: str, purpose: str) -> str:
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).hexdigest()[:32]


def api_secret(secret_key: str) -> str:
    return derived_secret(secret_key, "api-secret")


def auth_token(secret_key: str) -> str:
    return derived_secret(secret_key, "auth-token")
