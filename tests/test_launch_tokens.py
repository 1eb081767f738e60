"""smsapp.lib.launch: the Canvas launch token's checks and the embedded page's API token.

Pure functions, no database. Tokens are minted here with PyJWT the way the plugin mints
them (canvas_plugin/twilio_sms_mms/handlers/sms_app.py); the plugin's own tests check
the plugin's real tokens with decode_launch_token in the plugin's virtualenv."""

import time
import uuid

import jwt
import pytest

from smsapp.lib import launch

KEY = "test-canvas-launch-key-0123456789abcdef"  # tests/settings.py CANVAS_LAUNCH_KEY
STAFF_ID = "4150cd20de8a470aa570a852859ac87e"
PATIENT_ID = "b8dcbc2ea7c34b13aec67ba4a4c66bd1"


def launch_token(*, key: str = KEY, drop: tuple[str, ...] = (), algorithm="HS256", **claims):
    """A launch token as the plugin makes it; keyword arguments override claims."""
    now = int(time.time())
    payload = {
        "iss": launch.LAUNCH_ISSUER,
        "aud": launch.LAUNCH_AUDIENCE,
        "sub": STAFF_ID,
        "patient": PATIENT_ID,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    for name in drop:
        payload.pop(name)
    return jwt.encode(payload, key, algorithm=algorithm)


def reason_for(token: str, **options) -> str:
    with pytest.raises(launch.TokenError) as refused:
        launch.decode_launch_token(token, key=KEY, **options)
    assert refused.value.message  # always a sentence for the person
    return refused.value.reason


def test_a_good_token_gives_staff_patient_and_id():
    token = launch_token(jti="launch-1")

    claims = launch.decode_launch_token(token, key=KEY)

    assert (claims.staff_id, claims.patient_id, claims.jti) == (STAFF_ID, PATIENT_ID, "launch-1")


def test_a_phone_claim_from_an_old_plugin_is_not_read():
    claims = launch.decode_launch_token(launch_token(phone="+14155550199"), key=KEY)

    assert "+14155550199" not in repr(claims)


def test_an_expired_token_is_refused():
    past = int(time.time()) - 400
    assert reason_for(launch_token(iat=past, exp=past + 300)) == "expired"


def test_a_little_clock_skew_is_forgiven():
    now = int(time.time())
    token = launch_token(iat=now - 310, exp=now - 10)

    assert launch.decode_launch_token(token, key=KEY, leeway=30).jti
    assert reason_for(token, leeway=0) == "expired"


def test_a_token_signed_with_another_key_is_refused():
    assert reason_for(launch_token(key="someone-elses-key-0123456789abcdef")) == "bad_signature"


def test_a_tampered_token_is_refused():
    header, payload, signature = launch_token().split(".")
    other_payload = launch_token(patient="someone-else").split(".")[1]

    assert reason_for(f"{header}.{other_payload}.{signature}") == "bad_signature"


def test_a_token_for_another_audience_is_refused():
    assert reason_for(launch_token(aud="another-app")) == "wrong_audience"


def test_a_token_from_another_issuer_is_refused():
    assert reason_for(launch_token(iss="canvas-plugin:something_else")) == "wrong_issuer"


@pytest.mark.parametrize("claim", ["sub", "patient", "jti", "exp", "iat", "aud", "iss"])
def test_a_token_missing_a_claim_is_refused(claim):
    assert reason_for(launch_token(drop=(claim,))) in {"invalid", "wrong_audience", "wrong_issuer"}


@pytest.mark.parametrize("claim", ["sub", "patient", "jti"])
@pytest.mark.parametrize("value", ["", "a b", "x" * 65, "id\n", "../etc"])
def test_ids_that_cannot_be_a_username_or_key_are_refused(claim, value):
    assert reason_for(launch_token(**{claim: value})) == "invalid"


def test_no_token_is_missing():
    assert reason_for("") == "missing"


@pytest.mark.parametrize(
    "garbage", ["not-a-token", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "null", "\x00" * 10]
)
def test_garbage_is_refused(garbage):
    # A well-formed header with an empty signature fails as a signature, the rest earlier.
    assert reason_for(garbage) in {"invalid", "bad_signature"}


def test_unsigned_and_other_algorithms_are_refused():
    unsigned = jwt.encode(jwt.decode(launch_token(), KEY, audience="smsapp", algorithms=["HS256"]),
                          None, algorithm="none")  # fmt: skip
    assert reason_for(unsigned) == "invalid"
    assert reason_for(launch_token(key=KEY * 2, algorithm="HS512")) == "invalid"


def test_a_token_valid_for_too_long_is_refused():
    now = int(time.time())
    assert reason_for(launch_token(iat=now, exp=now + 24 * 3600)) == "invalid"


def test_a_token_dated_in_the_future_is_refused():
    now = int(time.time())
    assert reason_for(launch_token(iat=now + 600, exp=now + 900)) == "invalid"


# --- the API token --------------------------------------------------------------------

API_KEY = launch.api_token_key("tests-only-not-a-secret")


def test_the_api_key_is_derived_not_the_secret_key_itself():
    assert API_KEY != "tests-only-not-a-secret"
    assert launch.api_token_key("tests-only-not-a-secret") == API_KEY
    assert launch.api_token_key("another-secret") != API_KEY


def test_an_api_token_round_trips():
    token = launch.issue_api_token(key=API_KEY, user_id=7, patient_id=PATIENT_ID)

    claims = launch.decode_api_token(token, key=API_KEY)

    assert (claims.user_id, claims.patient_id) == (7, PATIENT_ID)
    assert "phone" not in jwt.decode(token, options={"verify_signature": False})
    assert claims.expires_at - claims.session_started == launch.API_TOKEN_LIFETIME


def test_an_expired_api_token_is_refused():
    old = int(time.time()) - launch.API_TOKEN_LIFETIME - 1
    token = launch.issue_api_token(key=API_KEY, user_id=7, now=old)

    with pytest.raises(launch.TokenError) as refused:
        launch.decode_api_token(token, key=API_KEY)
    assert refused.value.reason == "expired"


def test_a_launch_token_is_not_an_api_token():
    for key in (KEY, API_KEY):
        with pytest.raises(launch.TokenError):
            launch.decode_api_token(launch_token(key=key), key=API_KEY)


def test_an_api_token_is_not_a_launch_token():
    token = launch.issue_api_token(key=KEY, user_id=7)

    assert reason_for(token) in {"invalid", "wrong_audience"}  # it has no jti either


def test_renewal_keeps_user_patient_and_session_start():
    started = int(time.time()) - 3600
    claims = launch.decode_api_token(
        launch.issue_api_token(
            key=API_KEY, user_id=7, patient_id=PATIENT_ID, now=started + 3000,
            session_started=started,
        ),
        key=API_KEY,
    )  # fmt: skip

    token, lifetime = launch.renew_api_token(claims, key=API_KEY)
    renewed = launch.decode_api_token(token, key=API_KEY)

    assert (renewed.user_id, renewed.patient_id, renewed.session_started) == (
        7, PATIENT_ID, started,
    )  # fmt: skip
    assert renewed.expires_at > claims.expires_at
    assert lifetime == launch.API_TOKEN_LIFETIME


def test_renewal_stops_after_the_maximum_session_age():
    started = int(time.time()) - launch.API_SESSION_MAX_AGE - 60
    claims = launch.decode_api_token(
        launch.issue_api_token(key=API_KEY, user_id=7, session_started=started), key=API_KEY
    )

    with pytest.raises(launch.TokenError) as refused:
        launch.renew_api_token(claims, key=API_KEY)
    assert refused.value.reason == "session_too_old"


def test_a_renewed_token_never_outlives_the_session():
    """Renewed 5 minutes before the 12 hours are up, the token lasts those 5 minutes, not
    15: the session ends exactly API_SESSION_MAX_AGE after the launch."""
    started = int(time.time()) - launch.API_SESSION_MAX_AGE + 300
    claims = launch.decode_api_token(
        launch.issue_api_token(key=API_KEY, user_id=7, session_started=started), key=API_KEY
    )

    token, lifetime = launch.renew_api_token(claims, key=API_KEY, now=started + 12 * 3600 - 300)

    assert lifetime == 300
    renewed = launch.decode_api_token(token, key=API_KEY)
    assert renewed.expires_at == started + launch.API_SESSION_MAX_AGE
    with pytest.raises(launch.TokenError):
        launch.renew_api_token(renewed, key=API_KEY, now=started + launch.API_SESSION_MAX_AGE)
