"""What the views share, as decorators: `api_view` for every JSON route (the one error
shape, who may call, the CSRF rules, the methods), `credential_post` for the routes Canvas
calls with a token of its own, and `twilio_webhook` for Twilio's calls (the signature
check). No view module imports from another."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from smsapp import twilio_gateway
from smsapp.lib import launch, logs
from smsapp.lib.client_ip import client_ip
from smsapp.lib.errors import Conflict, Forbidden, InvalidInput, NotFound
from smsapp.twilio_gateway import TwilioError
from smsapp.web.scope import OUT_OF_SCOPE, limited_to

logger = logging.getLogger(__name__)
View = Callable[..., HttpResponse]


def json_error(
    information: str, status: int, fields: dict[str, str] | None = None, **extra: object
) -> JsonResponse:
    """The API's only error shape: `information` (the original plugin's key, one sentence a
    person can act on), for invalid input `fields` ({name: sentence}), `extra` keys where
    a route documents more (e.g. the sync already running), and `requestId`, the id in
    the server's log lines for this request."""
    payload: dict[str, object] = {"information": information, **extra}
    if fields:
        payload["fields"] = fields
    if request_id := logs.current_request_id():
        payload["requestId"] = request_id
    return JsonResponse(payload, status=status)


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer ...` header; None when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def api_token_user(token: str):
    """The active user an API token (smsapp.lib.launch, issued by the Canvas embed) belongs
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


def _signed_in(request: HttpRequest) -> HttpResponse | None:
    """A signed-in, active user: None when the caller may go on, else the refusal.
    Anonymous callers get 401 JSON (never a redirect to a login page a fetch() cannot
    follow).

    "Signed in" is either the session cookie or, for the page embedded in Canvas (where
    third-party cookies may be blocked), `Authorization: Bearer <API token>`. A request
    that carries a bearer token is judged by that token alone, never by a cookie, so a
    bad token is 401 even in a browser that is also signed in. The token's claims are
    left on `request.api_token` for views that need them (the embed's renew route)."""
    request.api_token = None
    token = bearer_token(request)
    if token is not None:
        try:
            request.user, request.api_token = api_token_user(token)
        except launch.TokenError:
            return _bearer_refused()
    if not (request.user.is_authenticated and request.user.is_active):
        return json_error("Sign in to use this API.", 401)
    return None


def may(user, perm: str) -> bool:
    """Whether `user` holds `perm` (smsapp.roles: an SMS agent or administrator)."""
    return user.has_perm(perm)


def _forbidden(perm: str) -> JsonResponse:
    app_label, codename = perm.split(".", 1)
    name = (
        Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        .values_list("name", flat=True)
        .first()
        or perm
    )
    what = name.removeprefix("Can ").rstrip(".")
    return json_error(
        f"Your role does not allow you to {what}; ask an SMS administrator if you need to.",
        403,
    )


# Methods that change something. A cross-site page can make a browser send these only as
# an HTML form (form-encoded, multipart or text/plain bodies, never DELETE) unless the
# target answers a CORS preflight, which this app never does.
_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _cross_site(request: HttpRequest) -> HttpResponse | None:
    """The JSON API's CSRF defence (docs/api.md, "CSRF"), which lets the original plugin's
    page work unchanged (plain fetch(), same-origin cookies, JSON bodies, no CSRF token):
    an unsafe method must carry a JSON body and, when the browser names an Origin, come
    from this site. None when the request may go on, else the refusal."""
    if request.method not in _UNSAFE_METHODS:
        return None
    origin = request.headers.get("Origin")
    # A bearer token is not an ambient credential a browser adds by itself, and the
    # embedded page may run with an opaque "null" origin: no Origin check for it.
    if (
        origin is not None
        and bearer_token(request) is None
        and not _trusted_origin(request, origin)
    ):
        return json_error(
            "This request came from another site and was refused; use the app's own page.", 403
        )
    has_body = bool(request.body) or request.method != "DELETE"
    if has_body and (request.content_type or "") != "application/json":
        return json_error(
            "Send the request body as JSON, with the header Content-Type: application/json.",
            415,
        )
    return None


def api_view(
    *methods: str, perm: str | None = "smsapp.view_message", scope: str = "clinic"
) -> Callable[[View], View]:
    """A JSON API view: the CSRF rules, a signed-in user holding `perm` (None: any signed-in
    user), the methods it answers (405 JSON otherwise), and the one place where the
    domain's refusals become the API's error shape, never a 500.

    `scope` says what the route reaches (smsapp.web.scope): "clinic", beyond one
    patient's conversation, so a session limited to a patient is refused; "patient", the
    view checks the numbers it is asked about; "any", nothing of any patient's.

    Every answer is `no-store`: they hold patients' messages, numbers and pictures, which
    must not stay in the browser's cache on a shared front-desk computer."""
    allowed = _answered(methods)
    if scope not in ("clinic", "patient", "any"):
        raise ValueError(f"api_view scope must be clinic, patient or any, not {scope!r}")

    def decorate(view: View) -> View:
        @csrf_exempt  # replaced by _cross_site, which the original plugin's page passes
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            response = _answer(request, *args, **kwargs)
            add_never_cache_headers(response)
            return response

        def _answer(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            refused = _cross_site(request) or _signed_in(request)
            if refused is not None:
                return refused
            if perm is not None and not may(request.user, perm):
                return _forbidden(perm)
            if scope == "clinic" and limited_to(request) is not None:
                return json_error(OUT_OF_SCOPE, 403)
            if request.method not in allowed:
                return _not_allowed(methods)
            try:
                return view(request, *args, **kwargs)
            except InvalidInput as problem:
                return json_error(problem.information, 400, problem.fields)
            except Forbidden as problem:
                return json_error(str(problem), 403)
            except NotFound as problem:
                return json_error(str(problem), 404)
            except Conflict as problem:  # OptedOut included: `fields` names numberTo
                return json_error(str(problem), 409, problem.fields)
            except TwilioError as error:  # TwilioNotConfigured included: 503
                fields = {error.field: error.message} if error.field else None
                return json_error(error.message, error.http_status, fields)

        return wrapper

    return decorate


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


# --- Twilio's webhooks ----------------------------------------------------------------------

# Twilio's webhooks are a few kilobytes (an SMS body is at most 1600 characters, an MMS
# carries at most 10 media URLs); anything this large is not from Twilio.
WEBHOOK_MAX_BYTES = 64 * 1024

_warned: set[str] = set()


def warn_once(key: str, message: str, *args: Any) -> None:
    """A configuration warning, once per process: gunicorn does not run system checks,
    so the first webhook a worker handles says it in the log (checks.py says it at
    start-up for manage.py)."""
    if key not in _warned:
        _warned.add(key)
        logger.warning(message, *args)


def _public_url(request: HttpRequest) -> str:
    """The URL Twilio called. Behind a TLS-terminating proxy the request reaches Django as
    http on another host and port, so the configured public address is the truth."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + request.get_full_path()
    warn_once(
        "no-public-base-url",
        "PUBLIC_BASE_URL is not set: webhook signatures are checked against the Host "
        "header and scheme this server sees, which fails behind a TLS-terminating proxy.",
    )
    return request.build_absolute_uri()


def _signed_params(request: HttpRequest) -> QueryDict | dict:
    """What Twilio signed besides the URL: every POST parameter (the QueryDict keeps
    repeated keys); for GET the parameters are in the URL's query string already."""
    return request.POST if request.method == "POST" else {}


def _refuse(request: HttpRequest, reason: str) -> HttpResponse:
    # The path and the caller only: the payload is a patient's message.
    logger.warning(
        "Refused Twilio webhook %s from %s: %s",
        request.path,
        client_ip(request.META, trusted_proxies=settings.BEHIND_PROXY),
        reason,
    )
    return json_error("This request is not signed by Twilio for this account.", 403)


def _too_large(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False  # Django reads no body when the length is unreadable
    return length > WEBHOOK_MAX_BYTES


def _twilio_signed(request: HttpRequest) -> HttpResponse | None:
    """None when Twilio signed the request for this account, else the refusal.

    The size is checked before the body is parsed, so an oversized post gets 413 and
    never reaches Django's own limits (DATA_UPLOAD_MAX_*), which would answer 400.
    """
    if _too_large(request):
        return json_error(
            f"Webhook bodies are limited to {WEBHOOK_MAX_BYTES // 1024} KiB; this one is "
            "larger, so it is not from Twilio.",
            413,
        )
    try:
        params = _signed_params(request)
    except RequestDataTooBig:
        return json_error("This webhook body is too large.", 413)
    except TooManyFieldsSent:
        return json_error("This webhook has too many parameters to be from Twilio.", 400)
    if not settings.TWILIO_VALIDATE_WEBHOOKS:
        warn_once(
            "validation-off",
            "TWILIO_VALIDATE_WEBHOOKS is false: webhooks are accepted WITHOUT checking "
            "Twilio's signature. Anyone can post fake messages and statuses.",
        )
        return None
    if not settings.TWILIO_AUTH_TOKEN:
        warn_once(
            "no-auth-token",
            "TWILIO_AUTH_TOKEN is not set: every Twilio webhook is refused with 403.",
        )
        return _refuse(request, "TWILIO_AUTH_TOKEN is not set")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return _refuse(request, "no X-Twilio-Signature header")
    if not twilio_gateway.signature_is_valid(_public_url(request), params, signature):
        return _refuse(request, "the signature does not match")
    return None


def _answered(methods: tuple[str, ...]) -> set[str]:
    return set(methods) | ({"HEAD"} if "GET" in methods else set())


def _not_allowed(methods: tuple[str, ...]) -> JsonResponse:
    """405 in the API's error shape, with the methods the route answers in `Allow`."""
    response = json_error(f"This route answers {' or '.join(methods)} only.", 405)
    response["Allow"] = ", ".join(sorted(_answered(methods)))
    return response


def credential_post(view: View) -> View:
    """A JSON route another party calls with a credential of its own in the request, never
    a cookie (the Canvas launch token in the body, the plugin's bearer token): POST only
    (405 in the API's shape otherwise), no CSRF token (there is no ambient credential for
    another site to ride on), every answer `no-store`."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "POST":
            response = view(request, *args, **kwargs)
        else:
            response = _not_allowed(("POST",))
        add_never_cache_headers(response)
        return response

    return wrapper


def twilio_webhook(*methods: str) -> Callable[[View], View]:
    """A view Twilio calls: only requests Twilio signed for this account (X-Twilio-Signature,
    an HMAC of the URL it called and every parameter, keyed with the account's Auth Token)
    reach it. Twilio posts without a CSRF token; the signature is the proof of origin."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            return _twilio_signed(request) or view(request, *args, **kwargs)

        return csrf_exempt(require_http_methods(list(methods))(wrapper))

    return decorate
