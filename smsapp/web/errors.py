"""Django's answer to an exception no view expected (handler500 in project/urls.py):
the JSON API's error shape under the API's prefix, a short page elsewhere, both with the
request id that finds the traceback in the log."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.utils.html import escape

from smsapp.lib.public_urls import API_PREFIX
from smsapp.web.decorators import json_error

_SENTENCE = "Something went wrong on our side; try again, and if it keeps failing, give"


def server_error(request: HttpRequest) -> HttpResponse:
    request_id = getattr(request, "request_id", "")
    if request.path.startswith(f"/{API_PREFIX}"):
        return json_error(f"{_SENTENCE} the request id {request_id} to your administrator.", 500)
    return HttpResponseServerError(
        "<!doctype html><title>Server error</title><h1>Server error (500)</h1>"
        f"<p>{_SENTENCE} the request id <code>{escape(request_id)}</code> to your "
        "administrator.</p>"
    )
