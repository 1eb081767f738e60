"""POST badge, with the real SDK: the app's unread total broadcast on the SMS
application's icon to the staff it names (or to everyone)."""

import json
from http import HTTPStatus

import pytest
from canvas_sdk.effects import EffectType
from conftest import APP_ID, LAUNCH_KEY, call, other_effects, response_of
from twilio_sms_mms.handlers.api import SmsAppApi


def post_badge(contract, secrets, body: bytes) -> list:
    token = contract.plugin_call_token(key=LAUNCH_KEY, purpose="badge", body=body)
    return call(SmsAppApi, "POST", "/badge", secrets=secrets, body=body, token=token)


def badge_of(effects) -> dict:
    (effect,) = other_effects(effects)
    assert effect.type == EffectType.SET_APPLICATION_NOTIFICATION_BADGE
    return json.loads(effect.payload)["data"]


def test_the_unread_count_is_broadcast_to_the_staff_named(contract, secrets, application):
    effects = post_badge(contract, secrets, contract.badge_body(unread=12, staff_ids=["s1", "s2"]))

    assert response_of(effects) == (HTTPStatus.OK, {"unread": 12})
    assert badge_of(effects) == {
        "application_identifier": APP_ID,
        "count": 12,
        "staff_ids": ["s1", "s2"],
        "patient_ids": [],
    }


def test_no_staff_ids_broadcast_to_everyone(contract, secrets, application):
    effects = post_badge(contract, secrets, contract.badge_body(unread=0, staff_ids=[]))

    badge = badge_of(effects)
    assert badge["count"] == 0  # clears the badge
    assert badge["staff_ids"] == []


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"unread": -1, "staffIds": []}, '"unread" must be from 0'),
        ({"unread": "3", "staffIds": []}, '"unread" must be a whole number'),
        ({"unread": True, "staffIds": []}, '"unread" must be a whole number'),
        ({"staffIds": []}, '"unread" must be a whole number'),
        ({"unread": 3, "staffIds": "s1"}, '"staffIds" must be a list'),
        ({"unread": 3, "staffIds": [""]}, '"staffIds" must be a list'),
        ({"unread": 3}, '"staffIds" must be a list'),
        ([3], '"unread" must be a whole number'),
    ],
)
def test_a_body_it_cannot_read_says_what_to_fix(contract, secrets, application, data, complaint):
    effects = post_badge(contract, secrets, json.dumps(data).encode())

    status, answer = response_of(effects)
    assert status == HTTPStatus.BAD_REQUEST
    assert complaint in answer["error"]
    assert other_effects(effects) == []
