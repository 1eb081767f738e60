"""The JSON API at the original Canvas plugin's routes, with its request and answer shapes.

Each view is small: check the input, call one function in smsapp.messaging, shape the
answer. Reads come from the local mirror; writes go to Twilio, then to the mirror. Every
failure is `{"information": ..., "fields": ...}` from smsapp.http.json_error, never a 500.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from functools import wraps
from urllib.parse import urlencode

from django.db import DatabaseError
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control

from smsapp import messaging, sync, validation
from smsapp.http import API_PREFIX, json_api, json_error, staff_required
from smsapp.messaging import NotFound
from smsapp.models import Message, Phone
from smsapp.twilio_gateway import TwilioError
from smsapp.validation import InvalidInput

View = Callable[..., HttpResponse]
PAGE_SYNC_WINDOW = timedelta(days=7)


def endpoint(*methods: str) -> Callable[[View], View]:
    """The methods a route answers (405 JSON otherwise), and the one place where the
    domain's exceptions become the API's error shape."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in allowed:
                response = json_error(f"This route answers {' or '.join(methods)} only.", 405)
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            try:
                return view(request, *args, **kwargs)
            except InvalidInput as problem:
                return json_error(problem.information, 400, problem.fields)
            except NotFound as problem:
                return json_error(str(problem), 404)
            except TwilioError as error:  # TwilioNotConfigured included: 503
                fields = {error.field: error.message} if error.field else None
                return json_error(error.message, error.http_status, fields)

        return wrapper

    return decorate


def _page_response(request: HttpRequest, items: list[dict], next_cursor: str | None, url: str):
    """A JSON list (the original's shape) with the next page's relative URL in a header."""
    response = JsonResponse(items, safe=False)
    if next_cursor:
        query = {"before": next_cursor}
        if "limit" in request.GET:
            query["limit"] = request.GET["limit"]
        response["X-Next-Page"] = f"{url}?{urlencode(query)}"
    return response


# --- reads -----------------------------------------------------------------------------


@json_api
@staff_required
@endpoint("GET")
def phone_list(request: HttpRequest) -> JsonResponse:
    ours = messaging.inbound_webhook_url()
    phones = [messaging.phone_to_dict(p, our_webhook=ours) for p in Phone.objects.all()]
    return JsonResponse(phones, safe=False)


@json_api
@staff_required
@endpoint("GET")
def message_list(request: HttpRequest, number: str, direction: str) -> JsonResponse:
    number = validation.path_number(number)
    if direction not in ("from", "to"):
        raise InvalidInput({"direction": "The direction must be `from` or `to`."})
    messages, next_cursor = messaging.message_page(
        number=number,
        direction=direction,
        limit=messaging.page_size(request.GET.get("limit")),
        before=request.GET.get("before"),
    )
    url = reverse("smsapp:message_list", args=[number, direction])
    return _page_response(
        request, [messaging.message_summary(m) for m in messages], next_cursor, url
    )


@json_api
@staff_required
@endpoint("GET")
def conversation(request: HttpRequest, number: str, counterpart: str) -> JsonResponse:
    number = validation.path_number(number)
    counterpart = validation.path_number(counterpart, field="counterpart")
    messages, next_cursor = messaging.conversation_page(
        number=number,
        counterpart=counterpart,
        limit=messaging.page_size(request.GET.get("limit")),
        before=request.GET.get("before"),
    )
    url = reverse("smsapp:conversation", args=[number, counterpart])
    return _page_response(
        request, [messaging.message_summary(m) for m in messages], next_cursor, url
    )


@json_api
@staff_required
@endpoint("GET")
def message(request: HttpRequest, message_sid: str) -> JsonResponse:
    found, media = messaging.get_message(sid=message_sid)
    return JsonResponse(messaging.message_to_dict(found, media))


@json_api
@staff_required
@endpoint("GET")
def medias(request: HttpRequest, message_sid: str, media_sid: str | None = None) -> HttpResponse:
    """A media item's bytes. Served as a download unless it is an image, sound or video a
    browser cannot run (never HTML or SVG inline from our origin), with nosniff so the
    browser keeps to the declared type."""
    item = messaging.find_media(message_sid=message_sid, media_sid=media_sid)
    content, content_type = messaging.media_content(item)
    inline = messaging.shows_inline(content_type)
    filename = f"{item.sid}{_extension(content_type)}"
    response = FileResponse(
        content, content_type=content_type, as_attachment=not inline, filename=filename
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    # A media item never changes; patient data stays out of shared caches.
    patch_cache_control(response, private=True, max_age=86400)
    return response


def _extension(content_type: str) -> str:
    return mimetypes.guess_extension(content_type) or ""


# --- writes ----------------------------------------------------------------------------


@json_api
@staff_required
@endpoint("DELETE")
def message_delete(request: HttpRequest, message_sid: str) -> JsonResponse:
    messaging.delete(sid=message_sid)
    return JsonResponse({"sid": message_sid, "deleted": True})


@json_api
@staff_required
@endpoint("POST")
def sms_send(request: HttpRequest) -> JsonResponse:
    data = validation.send_request(validation.json_object(request.body))
    sent: Message = messaging.send(**data)
    return JsonResponse(messaging.message_to_dict(sent, []))


@json_api
@staff_required
@endpoint("POST")
def inbound_webhook(request: HttpRequest, phone_sid: str) -> JsonResponse:
    url, method = validation.webhook_request(validation.json_object(request.body))
    messaging.set_inbound_webhook(phone_sid=phone_sid, url=url, method=method)
    return JsonResponse({"result": True})


@json_api
@staff_required
@endpoint("POST")
def inbound_webhook_this_app(request: HttpRequest, phone_sid: str) -> JsonResponse:
    """Point the number's SMS webhook at this app's inbound_treatment route (POST)."""
    validation.json_object(request.body)  # `{}`; anything but JSON is still refused
    url = messaging.inbound_webhook_url()
    if not url:
        return json_error(
            "PUBLIC_BASE_URL is not set, so Twilio cannot be told where this app is; set it "
            "to the app's public https address and try again.",
            503,
        )
    phone = messaging.set_inbound_webhook(phone_sid=phone_sid, url=url, method="POST")
    return JsonResponse({"result": True, "url": phone.sms_url, "method": phone.sms_method})


@json_api
@staff_required
@endpoint("POST")
def sync_now(request: HttpRequest) -> JsonResponse:
    """Bring the mirror up to date from Twilio, incrementally, as `manage.py sync_twilio`
    does (or over the last PAGE_SYNC_WINDOW when nothing was synced yet): the page calls
    it when the mirror has no numbers yet, and from a button."""
    validation.json_object(request.body)
    running = sync.running_sync()
    if running is not None:
        return json_error(
            f"A sync started at {running.started_at:%H:%M} UTC is still running; wait for it "
            "to finish, then reload.",
            409,
        )
    # Bounded: a web request must not read an account's whole history (a worker timeout
    # would kill it halfway); `manage.py sync_twilio --full` is there for that.
    since = sync.incremental_start() or (timezone.now() - PAGE_SYNC_WINDOW).date()
    try:
        result = sync.sync_all(since=since)
    except DatabaseError:
        return json_error("The database is busy; try the sync again in a minute.", 503)
    counts = {kind: asdict(getattr(result, kind)) for kind in ("phones", "messages", "media")}
    return JsonResponse({**counts, "pages": result.pages})


urlpatterns = [
    path(f"{API_PREFIX}phone_list", phone_list, name="phone_list"),
    path(f"{API_PREFIX}sync", sync_now, name="sync"),
    path(
        f"{API_PREFIX}message_list/<str:number>/<str:direction>",
        message_list,
        name="message_list",
    ),
    path(
        f"{API_PREFIX}conversation/<str:number>/<str:counterpart>",
        conversation,
        name="conversation",
    ),
    path(f"{API_PREFIX}message/<str:message_sid>", message, name="message"),
    path(f"{API_PREFIX}medias/<str:message_sid>", medias, name="medias"),
    path(f"{API_PREFIX}medias/<str:message_sid>/<str:media_sid>", medias, name="media_item"),
    path(f"{API_PREFIX}message_delete/<str:message_sid>", message_delete, name="message_delete"),
    path(f"{API_PREFIX}sms_send", sms_send, name="sms_send"),
    path(f"{API_PREFIX}inbound_webhook/<str:phone_sid>", inbound_webhook, name="inbound_webhook"),
    path(
        f"{API_PREFIX}inbound_webhook/<str:phone_sid>/this_app",
        inbound_webhook_this_app,
        name="inbound_webhook_this_app",
    ),
]
