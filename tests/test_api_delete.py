"""message_delete: Twilio first, then the mirror row, its media rows and cached files."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from smsapp.models import Media, Message, StatusEvent
from tests import twilio_payloads as tw
from tests.factories import MediaFactory, MessageFactory

pytestmark = pytest.mark.django_db(transaction=True)  # files go only once rows are committed

API = "/plugin-io/api/twilio_sms_mms/"


def _delete(client, sid):
    return client.delete(f"{API}message_delete/{sid}")


def _cached_mms():
    message = MessageFactory(num_media=2)
    names = []
    for content in (b"one", b"two"):
        item = MediaFactory(message=message)
        item.file.save(f"{item.sid}.jpg", ContentFile(content))
        names.append(item.file.name)
    return message, names


def test_it_deletes_on_twilio_then_the_row_media_and_files(staff_client, mocked_twilio):
    message, names = _cached_mms()
    keep = MessageFactory()
    StatusEvent.objects.create(message_id=message.sid, status="delivered", payload={})
    twilio = mocked_twilio.delete(tw.account_url(f"Messages/{message.sid}.json"), status=204)

    response = _delete(staff_client, message.sid)

    assert response.status_code == 200
    assert response.json() == {"sid": message.sid, "deleted": True}
    assert twilio.call_count == 1
    assert not Message.objects.filter(sid=message.sid).exists()
    assert not Media.objects.filter(message_id=message.id).exists()
    assert not any(default_storage.exists(name) for name in names)
    assert Message.objects.filter(pk=keep.pk).exists()
    # The delivery history stays: it holds no message text.
    assert StatusEvent.objects.filter(message_id=message.sid).count() == 1


def test_too_soon_to_delete_is_a_409_and_nothing_goes(staff_client, mocked_twilio):
    message, names = _cached_mms()
    tw.add_error(mocked_twilio, "DELETE", f"Messages/{message.sid}.json", 409, 20009,
                 "Cannot delete message because it has not yet completed")  # fmt: skip

    response = _delete(staff_client, message.sid)

    assert response.status_code == 409
    assert "wait a few minutes" in response.json()["information"]
    assert Message.objects.filter(sid=message.sid).exists()
    assert Media.objects.filter(message=message).count() == 2
    assert all(default_storage.exists(name) for name in names)


def test_a_message_twilio_already_forgot_leaves_the_mirror_too(staff_client, mocked_twilio):
    message, names = _cached_mms()
    tw.add_error(mocked_twilio, "DELETE", f"Messages/{message.sid}.json", 404, 20404)

    response = _delete(staff_client, message.sid)

    assert response.status_code == 200
    assert response.json() == {"sid": message.sid, "deleted": True}
    assert not Message.objects.filter(sid=message.sid).exists()
    assert not any(default_storage.exists(name) for name in names)


def test_a_message_only_twilio_knows_is_deleted_there(staff_client, mocked_twilio):
    sid = tw.message_sid(5)
    twilio = mocked_twilio.delete(tw.account_url(f"Messages/{sid}.json"), status=204)

    response = _delete(staff_client, sid)

    assert response.json() == {"sid": sid, "deleted": True}
    assert twilio.call_count == 1


def test_a_message_nobody_knows_is_a_404(staff_client, mocked_twilio):
    sid = tw.message_sid(6)
    tw.add_error(mocked_twilio, "DELETE", f"Messages/{sid}.json", 404, 20404)

    response = _delete(staff_client, sid)

    assert response.status_code == 404
    assert sid in response.json()["information"]


def test_a_malformed_sid_is_a_404_without_asking_twilio(staff_client, mocked_twilio):
    response = _delete(staff_client, "SM-not-a-sid")

    assert response.status_code == 404
    assert len(mocked_twilio.calls) == 0


def test_twilio_down_keeps_the_message(staff_client, mocked_twilio, settings):
    settings.TWILIO_MAX_RETRIES = 0
    message = MessageFactory()
    tw.add_error(mocked_twilio, "DELETE", f"Messages/{message.sid}.json", 503, 20503)

    response = _delete(staff_client, message.sid)

    assert response.status_code == 503
    assert Message.objects.filter(pk=message.pk).exists()


def test_only_delete_is_answered(staff_client, mocked_twilio):
    message = MessageFactory()

    response = staff_client.get(f"{API}message_delete/{message.sid}")

    assert response.status_code == 405
    assert response["Allow"] == "DELETE"
    assert Message.objects.filter(pk=message.pk).exists()
