"""What faces Canvas: the app's calls to the plugin's routes on CANVAS_INSTANCE_URL
(docs/canvas.md), each signed for its own purpose with CANVAS_LAUNCH_KEY. The only code
in the project that calls Canvas; the calls the plugin makes to the app arrive at
smsapp.web.canvas."""

from __future__ import annotations

import requests
from django.conf import settings

from smsapp.lib import canvas_contract as contract

TIMEOUT = 15  # seconds: a page of the directory is the slowest answer


class CanvasError(Exception):
    """A call to the plugin that did not succeed; the message says why, never with a
    message body. `status` is the HTTP status, None when Canvas did not answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def is_configured() -> bool:
    return bool(settings.CANVAS_INSTANCE_URL and settings.CANVAS_LAUNCH_KEY)


def call(purpose: str, *, body: bytes | None = None, params: dict | None = None) -> bytes:
    """GET (no `body`) or POST the plugin's route `purpose`; its answer's bytes on 200.
    Raises CanvasError."""
    if not is_configured():
        raise CanvasError(
            "Canvas is not configured: set CANVAS_INSTANCE_URL and CANVAS_LAUNCH_KEY."
        )
    token = contract.plugin_call_token(key=settings.CANVAS_LAUNCH_KEY, purpose=purpose, body=body)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    url = settings.CANVAS_INSTANCE_URL + contract.PLUGIN_API_PATH + purpose
    try:
        response = requests.request(
            "GET" if body is None else "POST",
            url,
            params=params,
            data=body,
            headers=headers,
            timeout=TIMEOUT,
        )
    except requests.RequestException as error:
        raise CanvasError(f"Canvas did not answer ({type(error).__name__}).") from None
    if response.status_code != 200:
        raise CanvasError(
            f"Canvas answered {response.status_code} to {purpose}: {_said(response)}",
            response.status_code,
        )
    return response.content


def _said(response: requests.Response) -> str:
    """The plugin's `error` sentence, or the start of whatever else came back."""
    try:
        said = response.json().get("error")
    except (ValueError, AttributeError):
        said = None
    return str(said or response.text or "no explanation")[:300]
