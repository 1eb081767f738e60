"""What the Canvas plugin calls: POST canvas/directory, a patient's entry pushed on every
change in their chart (docs/canvas.md). The plugin signs each push with the shared
CANVAS_LAUNCH_KEY for this route and this body; nothing else is read before that check."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from smsapp.lib import canvas_contract as contract
from smsapp.services import directory
from smsapp.web.decorators import bearer_token, credential_post, json_error

log = logging.getLogger(__name__)


@credential_post  # no cookie is read: the signed bearer token is the credential
def directory_push(request: HttpRequest) -> JsonResponse:
    """200 {"applied", "ignored"}; 401 for a token that is not the plugin's for this body,
    400 for a body that is not a directory push, 503 without CANVAS_LAUNCH_KEY."""
    if not settings.CANVAS_LAUNCH_KEY:
        return json_error(
            "The Canvas link is not set up: set CANVAS_LAUNCH_KEY to the plugin's SMS_LAUNCH_KEY.",
            503,
        )
    body = request.body
    try:
        contract.verify_directory_push(
            bearer_token(request) or "",
            key=settings.CANVAS_LAUNCH_KEY,
            body=body,
        )
    except contract.ContractError as refused:
        log.warning("Canvas directory push refused: %s", refused)
        return json_error(f"{refused} Only the SMS Twilio plugin may update the directory.", 401)
    try:
        as_of, entries, _ = contract.read_directory(body)
    except contract.ContractError as problem:
        return json_error(str(problem), 400)
    applied, ignored = directory.apply(as_of, entries)
    return JsonResponse({"applied": applied, "ignored": ignored})
