"""Answers holding patients' data (messages, media, conversations, the page) are never
kept by the browser: a front-desk computer is shared, and its cache is readable by the
next person to use it."""

import pytest

from tests import twilio_payloads as tw
from tests.factories import MediaFactory, MessageFactory, PhoneFactory

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
US = "+14155550100"
PATIENT = "+14155550199"


@pytest.fixture
def mms(mocked_twilio):
    PhoneFactory(phone_number=US)
    message = MessageFactory(from_number=PATIENT, to_number=US, num_media=1)
    item = MediaFactory(message=message, content_type="image/jpeg")
    mocked_twilio.get(
        tw.account_url(f"Messages/{message.sid}/Media/{item.sid}"),
        body=b"\xff\xd8jpeg",
        content_type="image/jpeg",
    )
    return message, item


@pytest.mark.parametrize(
    "path",
    [
        "/",
        f"{API}phone_list",
        f"{API}message_list/{US}/to",
        f"{API}conversation/{US}/{PATIENT}",
        f"{API}message/{{message}}",
        f"{API}medias/{{message}}",
        f"{API}medias/{{message}}/{{media}}",
        f"{API}message/SM{'0' * 32}",  # an error answer too
    ],
)
def test_patient_data_is_never_stored_by_the_browser(staff_client, mms, path):
    message, item = mms

    response = staff_client.get(path.format(message=message.sid, media=item.sid))

    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert {"no-store", "private"} <= directives
    assert not any(d.startswith("max-age=") and d != "max-age=0" for d in directives)
