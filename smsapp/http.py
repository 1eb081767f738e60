"""What every JSON route shares: the one error shape, and who may call."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from smsapp import launch

# The original Canvas plugin's public path: the JSON API and the Twilio webhooks live under
# it, so a proxy or the plugin can forward paths unchanged.
API_PREFIX = "plugin-io/api/twilio_sms_mms/"


def json_error(information: str, status: int, fields: dict[str, str] | None = None) -> JsonResponse:
    """The API's only error shape: `information` (the original plugin's key, one sentence a
    person can act on) and, for invalid input, `fields` ({name: sentence})."""
    payload: dict[str, object] = {"information": information}
    if fields:
        payload["fields"] = fields
    return JsonResponse(payload, status=status)


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer ...` header; None when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def api_token_user(token: str):
    """The active user an API token (smsapp.launch, issued by the Canvas embed) belongs
    to, and the token's claims. Raises launch.TokenError."""
    claims = launch.decode_api_token(token, key=launch.api_token_key(settings.SECRET_KEY))
    user = get_user_model().objects.filter(pk=claims.user_id, is_active=True).first()
    if user is None:
        raise launch.TokenError("unknown_user", "The API token's user no longer exists.")
    return user, claims


def _bearer_refused() -> JsonResponse:
    response = json_error(
        "Your SMS session has expired or is not valid; close SMS and open it again from "
        "the patient's chart.",
        401,
    )
    response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in staff only. Anonymous callers get 401 JSON (never a redirect to a login
    page a fetch() cannot follow); signed-in non-staff get 403.

    "Signed in" is either the session cookie or, for the page embedded in Canvas (where
    third-party cookies may be blocked), `Authorization: Bearer <API token>`. A request
    that carries a bearer token is judged by that token alone, never by a cookie, so a
    bad token is 401 even in a browser that is also signed in. The token's claims are
    left on `request.api_token` for views that need them (the embed's renew route)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        request.api_token = None
        token = bearer_token(request)
        if token is not None:
            try:
                request.user, request.api_token = api_token_user(token)
            except launch.TokenError:
                return _bearer_refused()
        user = request.user
        if not user.is_authenticated:
            return json_error("Sign in as a staff member to use this API.", 401)
        if not user.is_staff:
            return json_error("Your account is not a staff account; ask an administrator.", 403)
        return view(request, *args, **kwargs)

    return wrapper


# Methods that change something. A cross-site page can make a browser send these only as
# an HTML form (form-encoded, multipart or text/plain bodies, never DELETE) unless the
# target answers a CORS preflight, which this app never does.
_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def json_api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """CSRF defence for the JSON API that lets the original plugin's page work unchanged
    (plain fetch(), same-origin cookies, JSON bodies, no CSRF token header).

    Django's token check is switched off for these views (csrf_exempt) and replaced by:

    1. Unsafe methods with a body must say `Content-Type: application/json`, otherwise
       415. A cross-site HTML form can only send form-encoded, multipart or text/plain
       bodies; sending JSON cross-site needs a CORS preflight, which we never grant. A
       DELETE with no body passes: no form can send DELETE, and fetch() needs a
       preflight for it cross-site too.
    2. When the browser sends `Origin` on an unsafe method, it must be this site's own
       origin (scheme + request.get_host()), PUBLIC_BASE_URL's, or one listed in
       CSRF_TRUSTED_ORIGINS; otherwise 403. Browsers always send Origin on cross-site
       POST/DELETE, so this closes the gap even if a browser bug let a JSON body through;
       requests without Origin (same-origin in old browsers, curl, tests) pass.
    3. The session cookie is SameSite=Lax (settings), so a cross-site POST does not carry
       the staff member's session in the first place.

    Safe methods (GET, HEAD) change nothing and pass untouched. Requests with an
    `Authorization: Bearer` header skip the Origin check: a browser never adds that header
    on its own (it is not an ambient credential like a cookie, so there is nothing to
    forge), staff_required then judges them by the token alone, and the embedded page may
    run with an opaque "null" origin if Canvas frames it without allow-same-origin.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method in _UNSAFE_METHODS:
            origin = request.headers.get("Origin")
            if (
                origin is not None
                and bearer_token(request) is None
                and not _trusted_origin(request, origin)
            ):
                return json_error(
                    "This request came from another site and was refused; use the app's own page.",
                    403,
                )
            content_type = request.content_type or ""
            has_body = bool(request.body) or request.method != "DELETE"
            if has_body and content_type != "application/json":
                return json_error(
                    "Send the request body as JSON, with the header Content-Type: "
                    "application/json.",
                    415,
                )
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapper)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def _trusted_origin(request: HttpRequest, origin: str) -> bool:
    origin = origin.strip().lower()
    if origin in {"", "null"}:  # sandboxed frames, file: pages, privacy redirects
        return False
    allowed = {f"{request.scheme}://{request.get_host()}".lower()}
    if settings.PUBLIC_BASE_URL:
        allowed.add(_origin_of(settings.PUBLIC_BASE_URL))
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        trusted = trusted.lower()
        if "://*." in trusted:  # Django's form: https://*.example.org allows subdomains
            scheme, _, domain = trusted.partition("://*.")
            if origin.startswith(f"{scheme}://") and origin.endswith(f".{domain}"):
                return True
        allowed.add(trusted)
    return origin in allowed
