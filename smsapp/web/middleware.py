"""Security headers for every HTML response of the app, and each request's id.

The page is the only thing meant to be framed (inside the patient's chart in Canvas), so
the Content-Security-Policy's `frame-ancestors` allows 'self' and CANVAS_ORIGIN only on
responses marked `xframe_options_exempt` (render_page marks its own); every other HTML
response (the admin included) gets `frame-ancestors 'none'`, matching the X-Frame-Options
DENY that XFrameOptionsMiddleware still adds to them. Browsers prefer frame-ancestors over
X-Frame-Options, so the two must never disagree.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from smsapp.lib import logs

# No inline script and no inline style: every script and stylesheet is a file served by
# whitenoise from our origin. blob: lets the page show media it fetched with a bearer token
# (inside Canvas there are no cookies, so <img src> alone could not authenticate).
_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
)


def content_security_policy(*, frameable: bool) -> str:
    """The policy for one HTML response; `frameable` lets the Canvas origin frame it."""
    ancestors = f"'self' {settings.CANVAS_ORIGIN}".strip() if frameable else "'none'"
    return "; ".join([*_POLICY, f"frame-ancestors {ancestors}"])


class SecurityHeadersMiddleware:
    """Adds the Content-Security-Policy to HTML responses that do not set their own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        is_html = response.get("Content-Type", "").startswith("text/html")
        if is_html and "Content-Security-Policy" not in response:
            frameable = getattr(response, "xframe_options_exempt", False)
            response["Content-Security-Policy"] = content_security_policy(frameable=frameable)
        return response


class RequestIdMiddleware:
    """Gives each request an id: the proxy's X-Request-ID when short and plain, else a new
    one. It is `request.request_id`, on every log line written while the request is
    answered, in the JSON API's error answers (`requestId`) and in the response's
    X-Request-ID header (gunicorn's access line logs it from there). Outside a request,
    smsapp.lib.logs.current_request_id() is None."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = logs.request_id_from(request.headers.get("X-Request-ID"))
        token = logs.set_request_id(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            logs.reset_request_id(token)
        response["X-Request-ID"] = request.request_id
        return response
