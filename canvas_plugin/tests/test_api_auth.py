"""Every route refuses a call that is not the app's, for that route, now, with that body:
401 with {"error": ...}, and no effect. The calls go through home-app's two passes
(authenticate without the body, then the request), as the SDK's own SimpleAPI tests do."""

import hashlib
import time
from http import HTTPStatus

import jwt
import pytest
from conftest import LAUNCH_KEY, call, other_effects, response_of
from twilio_sms_mms.handlers.api import SmsAppApi

ROUTES = {
    "directory": ("GET", "/directory", b""),
    "record": (
        "POST",
        "/record",
        b'{"sid":"SM00","patientId":"p1","direction":"inbound","body":"Hi","media":0,'
        b'"at":"2026-12-02T18:00:00+00:00","staffId":"","ourNumber":"+14155550100",'
        b'"patientNumber":"+14155550123"}',
    ),
    "badge": ("POST", "/badge", b'{"unread":3,"staffIds":[]}'),
}


def token(route: str, body: bytes, **changes) -> str:
    """A token like the app's for `route`, with some claims changed (None drops one)."""
    now = int(time.time())
    claims = {
        "iss": "smsapp",
        "aud": f"twilio_sms_mms:{route}",
        "iat": now,
        "exp": now + 60,
        "jti": "j1",
    }
    if ROUTES[route][0] == "POST":
        claims["bsh"] = hashlib.sha256(body).hexdigest()
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, LAUNCH_KEY, algorithm="HS256")


def refusal(route: str, secrets, bearer: str | None) -> tuple[int, dict, list]:
    method, path, body = ROUTES[route]
    effects = call(SmsAppApi, method, path, secrets=secrets, body=body, token=bearer)
    status, answer = response_of(effects)
    return status, answer, other_effects(effects)


@pytest.fixture(params=sorted(ROUTES))
def route(request) -> str:
    return request.param


def test_a_call_without_a_token_is_refused(route, secrets):
    status, answer, effects = refusal(route, secrets, None)

    assert status == HTTPStatus.UNAUTHORIZED
    assert answer["error"]
    assert effects == []


def test_a_token_signed_with_another_key_is_refused(route, secrets):
    body = ROUTES[route][2]
    bad = jwt.encode(jwt.decode(token(route, body), options={"verify_signature": False}), "x" * 32)

    status, answer, _ = refusal(route, secrets, bad)

    assert status == HTTPStatus.UNAUTHORIZED
    assert "Signature verification failed" in answer["error"]


def test_an_expired_token_is_refused(route, secrets):
    past = int(time.time()) - 200
    status, answer, _ = refusal(
        route, secrets, token(route, ROUTES[route][2], iat=past, exp=past + 60)
    )

    assert status == HTTPStatus.UNAUTHORIZED
    assert answer == {"error": "The bearer token has expired."}


def test_a_token_for_another_route_is_refused(route, secrets):
    other = "badge" if route != "badge" else "record"

    status, answer, _ = refusal(
        route, secrets, token(route, ROUTES[route][2], aud=f"twilio_sms_mms:{other}")
    )

    assert status == HTTPStatus.UNAUTHORIZED
    assert "audience" in answer["error"].lower()


@pytest.mark.parametrize("audience", ["smsapp", "smsapp:directory", "smsapp-api"])
def test_the_apps_own_tokens_are_refused(route, secrets, audience):
    """A launch token, a directory push token or the page's API token is no route token."""
    status, _, _ = refusal(route, secrets, token(route, ROUTES[route][2], aud=audience))

    assert status == HTTPStatus.UNAUTHORIZED


def test_a_token_from_another_issuer_is_refused(route, secrets):
    status, answer, _ = refusal(
        route, secrets, token(route, ROUTES[route][2], iss="canvas-plugin:twilio_sms_mms")
    )

    assert status == HTTPStatus.UNAUTHORIZED
    assert "issuer" in answer["error"].lower()


def test_a_token_valid_for_too_long_is_refused(route, secrets):
    now = int(time.time())

    status, answer, _ = refusal(
        route, secrets, token(route, ROUTES[route][2], iat=now, exp=now + 91)
    )

    assert status == HTTPStatus.UNAUTHORIZED
    assert answer == {"error": "The bearer token is valid for too long."}


def test_a_token_without_a_jti_is_refused(route, secrets):
    status, answer, _ = refusal(route, secrets, token(route, ROUTES[route][2], jti=None))

    assert status == HTTPStatus.UNAUTHORIZED
    assert "jti" in answer["error"]


def test_an_unsigned_token_is_refused(route, secrets):
    claims = jwt.decode(token(route, ROUTES[route][2]), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")

    status, _, _ = refusal(route, secrets, unsigned)

    assert status == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("route_name", ["record", "badge"])
def test_a_token_made_for_another_body_is_refused(route_name, secrets):
    method, path, body = ROUTES[route_name]
    other_body = body.replace(b"3", b"4").replace(b'"Hi"', b'"Bye"')

    effects = call(
        SmsAppApi, method, path, secrets=secrets, body=other_body, token=token(route_name, body)
    )

    assert response_of(effects) == (
        HTTPStatus.UNAUTHORIZED,
        {"error": "The bearer token was made for another body."},
    )
    assert other_effects(effects) == []


@pytest.mark.parametrize("route_name", ["record", "badge"])
def test_a_post_token_without_a_body_hash_is_refused(route_name, secrets):
    method, path, body = ROUTES[route_name]

    effects = call(
        SmsAppApi, method, path, secrets=secrets, body=body, token=token(route_name, body, bsh=None)
    )

    assert response_of(effects)[0] == HTTPStatus.UNAUTHORIZED


def test_without_its_key_the_plugin_refuses_every_call(route, secrets):
    secrets["SMS_LAUNCH_KEY"] = ""

    status, answer, _ = refusal(route, secrets, token(route, ROUTES[route][2]))

    assert status == HTTPStatus.UNAUTHORIZED
    assert "SMS_LAUNCH_KEY" in answer["error"]


def test_the_routes_are_served_under_the_plugins_api_path():
    """Canvas serves a plugin's SimpleAPI routes at /plugin-io/api/<plugin name><path>;
    the event carries the path after that prefix."""
    methods = {
        method: sorted(pattern.pattern for pattern, _ in routes)
        for method, routes in SmsAppApi._ROUTES.items()
    }
    assert methods == {"GET": ["/directory"], "POST": ["/badge", "/record"]}
