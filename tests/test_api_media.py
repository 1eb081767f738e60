"""medias/<message_sid> and medias/<message_sid>/<media_sid>: bytes fetched from Twilio
once, cached in Django's storage, served so no attachment can run in our origin."""

import pytest
from django.core.files.storage import default_storage

from smsapp.models import Media
from tests import twilio_payloads as tw
from tests.factories import MediaFactory, MessageFactory

pytestmark = pytest.mark.django_db

API = "/plugin-io/api/twilio_sms_mms/"
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg bytes" * 10
PNG = b"\x89PNG\r\n\x1a\n" + b"png bytes" * 10


def _bytes_on_twilio(mocked_twilio, item: Media, content: bytes, content_type: str):
    """Twilio answers a media address with a redirect to its CDN, as it really does."""
    cdn = f"https://s3-external-1.amazonaws.com/media.twiliocdn.com/{item.sid}"
    mocked_twilio.get(
        tw.account_url(f"Messages/{item.message.sid}/Media/{item.sid}"),
        status=307,
        headers={"Location": cdn},
    )
    return mocked_twilio.get(cdn, body=content, content_type=content_type)


def _content(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def mms(db):
    message = MessageFactory(num_media=2, direction="inbound")
    first = MediaFactory(message=message, content_type="image/jpeg")
    second = MediaFactory(message=message, content_type="image/png")
    return message, first, second


def test_the_first_item_is_served_with_its_content_type(staff_client, mocked_twilio, mms):
    message, first, _ = mms
    _bytes_on_twilio(mocked_twilio, first, JPEG, "image/jpeg")

    response = staff_client.get(f"{API}medias/{message.sid}")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert _content(response) == JPEG
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")


def test_each_item_of_a_message_with_several_media_has_its_route(staff_client, mocked_twilio, mms):
    message, first, second = mms
    _bytes_on_twilio(mocked_twilio, first, JPEG, "image/jpeg")
    _bytes_on_twilio(mocked_twilio, second, PNG, "image/png")

    one = staff_client.get(f"{API}medias/{message.sid}/{first.sid}")
    two = staff_client.get(f"{API}medias/{message.sid}/{second.sid}")

    assert (_content(one), one["Content-Type"]) == (JPEG, "image/jpeg")
    assert (_content(two), two["Content-Type"]) == (PNG, "image/png")


def test_bytes_are_fetched_once_then_served_from_storage(staff_client, mocked_twilio, mms):
    message, first, _ = mms
    cdn = _bytes_on_twilio(mocked_twilio, first, JPEG, "image/jpeg")

    answers = [_content(staff_client.get(f"{API}medias/{message.sid}")) for _ in range(3)]

    assert answers == [JPEG] * 3
    assert cdn.call_count == 1
    first.refresh_from_db()
    assert first.file.name.startswith("mms/")
    assert default_storage.open(first.file.name).read() == JPEG


def test_a_cached_file_removed_from_storage_is_fetched_again(staff_client, mocked_twilio, mms):
    message, first, _ = mms
    cdn = _bytes_on_twilio(mocked_twilio, first, JPEG, "image/jpeg")
    staff_client.get(f"{API}medias/{message.sid}")
    first.refresh_from_db()
    default_storage.delete(first.file.name)

    response = staff_client.get(f"{API}medias/{message.sid}")

    assert _content(response) == JPEG
    assert cdn.call_count == 2
    # ... and cached again: the next request does not go back to Twilio.
    assert _content(staff_client.get(f"{API}medias/{message.sid}")) == JPEG
    assert cdn.call_count == 2


def test_a_media_sid_of_another_message_is_a_404(staff_client, mocked_twilio, mms):
    message, _, _ = mms
    stranger = MediaFactory()  # belongs to another message

    response = staff_client.get(f"{API}medias/{message.sid}/{stranger.sid}")

    assert response.status_code == 404
    assert stranger.sid in response.json()["information"]
    assert len(mocked_twilio.calls) == 0


def test_media_of_a_message_not_in_the_mirror_is_a_404_without_twilio(staff_client, mocked_twilio):
    response = staff_client.get(f"{API}medias/{tw.UNKNOWN_MESSAGE_SID}")

    assert response.status_code == 404
    assert len(mocked_twilio.calls) == 0


def test_a_message_without_media_is_a_404(staff_client, mocked_twilio):
    message = MessageFactory(num_media=0)

    response = staff_client.get(f"{API}medias/{message.sid}")

    assert response.status_code == 404
    assert response.json()["information"] == f"Message {message.sid} has no media."
    assert len(mocked_twilio.calls) == 0


def test_missing_media_metadata_is_read_from_twilio_once(staff_client, mocked_twilio):
    message = MessageFactory(num_media=1)  # mirrored by a webhook, no media rows yet
    listing = mocked_twilio.get(
        tw.account_url(f"Messages/{message.sid}/Media.json"),
        json={
            "media_list": [tw.media_json(message.sid, 5, content_type="image/gif")],
            "next_page_uri": None, "page": 0, "page_size": 1000,
            "uri": tw.account_path(f"Messages/{message.sid}/Media.json"),
        },
    )  # fmt: skip
    item = Media(sid=tw.media_sid(5), message=message)
    cdn = _bytes_on_twilio(mocked_twilio, item, b"GIF89a", "image/gif")

    first = staff_client.get(f"{API}medias/{message.sid}")
    second = staff_client.get(f"{API}medias/{message.sid}")

    assert (_content(first), first["Content-Type"]) == (b"GIF89a", "image/gif")
    assert _content(second) == b"GIF89a"
    assert (listing.call_count, cdn.call_count) == (1, 1)


@pytest.mark.parametrize(
    "content_type",
    ["image/jpeg", "image/png", "image/gif", "image/webp", "audio/amr", "video/mp4"],
)
def test_raster_images_sound_and_video_are_served_inline_with_their_type(
    staff_client, mocked_twilio, content_type
):
    item = MediaFactory(content_type=content_type)
    _bytes_on_twilio(mocked_twilio, item, b"bytes", content_type)

    response = staff_client.get(f"{API}medias/{item.message.sid}/{item.sid}")

    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].split(";")[0] == "inline"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "content_type",
    [
        "image/svg+xml",
        "text/html",
        "application/javascript",
        "text/javascript",
        "application/pdf",
        "text/vcard",
        "image/bmp",
        "application/x-unknown-kind",
        "",
    ],
)
def test_everything_else_is_served_as_bytes_to_download_that_cannot_run(
    staff_client, mocked_twilio, content_type
):
    """Content-Disposition alone does not stop a <script src> or an SVG's <script href>
    from running an attachment served as JavaScript: the type itself must not be
    runnable, and nosniff keeps the browser from guessing one."""
    item = MediaFactory(content_type=content_type)
    _bytes_on_twilio(mocked_twilio, item, b"<script>alert(1)</script>", content_type or "")

    response = staff_client.get(f"{API}medias/{item.message.sid}/{item.sid}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith(f'attachment; filename="{item.sid}')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_media_answers_are_never_cached(staff_client, mocked_twilio, mms):
    """Patients' pictures must not stay in the browser's cache of a shared computer."""
    message, first, _ = mms
    _bytes_on_twilio(mocked_twilio, first, JPEG, "image/jpeg")

    response = staff_client.get(f"{API}medias/{message.sid}")

    assert "no-store" in response["Cache-Control"]
    assert "max-age=86400" not in response["Cache-Control"]


def test_a_content_type_unfit_for_a_header_is_served_as_bytes(staff_client, mocked_twilio):
    item = MediaFactory(content_type="text/html\r\nSet-Cookie: x=1")
    _bytes_on_twilio(mocked_twilio, item, b"<b>hi</b>", "text/html")

    response = staff_client.get(f"{API}medias/{item.message.sid}/{item.sid}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


def test_twilio_failing_to_give_the_bytes_is_a_json_error(staff_client, mocked_twilio, settings):
    settings.TWILIO_MAX_RETRIES = 0
    item = MediaFactory()
    mocked_twilio.get(tw.account_url(f"Messages/{item.message.sid}/Media/{item.sid}"), status=404)

    response = staff_client.get(f"{API}medias/{item.message.sid}/{item.sid}")

    assert response.status_code == 404
    assert "information" in response.json()
    item.refresh_from_db()
    assert not item.file


def test_media_larger_than_the_limit_is_refused(staff_client, mocked_twilio, settings):
    settings.TWILIO_MEDIA_MAX_BYTES = 10
    item = MediaFactory()
    _bytes_on_twilio(mocked_twilio, item, b"x" * 100, "image/jpeg")

    response = staff_client.get(f"{API}medias/{item.message.sid}/{item.sid}")

    assert response.status_code == 502
    assert "larger than" in response.json()["information"]
