"""What faces Twilio: the only code in the project that imports `twilio`.

    calls.py      how one call is made: retries, and every failure as a TwilioError
    client.py     the REST client, and the transport to the offline sandbox
    rest.py       phone numbers, messages and media, as plain records
    webhooks.py   the signature check and TwiML answers
    constants.py  Twilio's API address and limits

The rest of the app imports the names below from here.
"""

from smsapp.twilio_gateway.calls import NOT_CONFIGURED, TwilioError, TwilioNotConfigured
from smsapp.twilio_gateway.client import is_configured
from smsapp.twilio_gateway.rest import (
    delete_message,
    download_media,
    fetch_message,
    iter_message_pages,
    list_media,
    list_phone_numbers,
    media_content_url,
    send_message,
    update_sms_webhook,
)
from smsapp.twilio_gateway.webhooks import (
    empty_twiml,
    sign_webhook,
    signature_is_valid,
    twiml_reply,
)

__all__ = [
    "NOT_CONFIGURED",
    "TwilioError",
    "TwilioNotConfigured",
    "delete_message",
    "download_media",
    "empty_twiml",
    "fetch_message",
    "is_configured",
    "iter_message_pages",
    "list_media",
    "list_phone_numbers",
    "media_content_url",
    "send_message",
    "sign_webhook",
    "signature_is_valid",
    "twiml_reply",
    "update_sms_webhook",
]
