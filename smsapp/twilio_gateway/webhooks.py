"""What Twilio's webhooks need from the SDK: the signature check, and TwiML answers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from twilio.request_validator import RequestValidator
from twilio.request_validator import compare as compare_signatures
from twilio.twiml.messaging_response import MessagingResponse


def signature_is_valid(url: str, params: Any, signature: str) -> bool:
    """Whether `signature` (X-Twilio-Signature) is Twilio's for a request to `url` with
    `params` (the POST parameters; a QueryDict keeps repeated keys, as Twilio signs
    them). Always False without an Auth Token: an empty key would accept anyone's HMAC."""
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    validator = RequestValidator(token)
    # validate() also tries the URL with and without the default port (Twilio is not
    # consistent there), two HMACs per request; the URL as given matches almost always.
    if compare_signatures(validator.compute_signature(url, params), signature):
        return True
    return validator.validate(url, params, signature)


def sign_webhook(url: str, params: dict[str, str], auth_token: str) -> str:
    """X-Twilio-Signature for a request to `url` with `params`, as Twilio computes it (the
    offline sandbox signs its callbacks with this)."""
    return RequestValidator(auth_token).compute_signature(url, params)


def twiml_reply(text: str, media_url: str = "", status_callback: str = "") -> str:
    """TwiML that answers an inbound message with `text` (and an image, for MMS). Body and
    Media as nested nouns: Twilio's documented form for a message that carries both.
    `status_callback` becomes the <Message> verb's `action`: where Twilio reports the
    reply's delivery status, so the mirror follows auto-replies as it follows sends."""
    response = MessagingResponse()
    message = (
        response.message(action=status_callback, method="POST")
        if status_callback
        else response.message()
    )
    message.body(text)
    if media_url:
        message.media(media_url)
    return str(response)


def empty_twiml() -> str:
    """TwiML that sends nothing back: `<Response />`."""
    return str(MessagingResponse())
