"""The JSON API at the original Canvas plugin's routes, with its request and answer shapes
(docs/api.md).

Each view is small: check the input, call one function in smsapp.services, shape the
answer. Every failure is `{"information": ..., "fields": ...}` (api_view), never a 500.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.db import DatabaseError
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone

from smsapp.lib import validation
from smsapp.lib.errors import InvalidInput
from smsapp.lib.paging import page_size
from smsapp.lib.public_urls import inbound_webhook_url
from smsapp.models import Message, Phone
from smsapp.services import media, messages, phones, sync
from smsapp.web.decorators import api_view, json_error
from smsapp.web.scope import require_in_scope, require_message_in_scope

# A web request must not read an account's whole history (a worker timeout would kill it
# halfway); `manage.py sync_twilio --full` is there for that.
PAGE_SYNC_WINDOW = timedelta(days=7)


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


@api_view("GET", perm="smsapp.view_phone", scope="any")
def phone_list(request: HttpRequest) -> JsonResponse:
    ours = inbound_webhook_url()
    return JsonResponse([p.to_dict(our_webhook=ours) for p in Phone.objects.all()], safe=False)


@api_view("GET")
def message_list(request: HttpRequest, number: str, direction: str) -> JsonResponse:
    number = validation.path_number(number)
    if direction not in ("from", "to"):
        raise InvalidInput({"direction": "The direction must be `from` or `to`."})
    rows, next_cursor = messages.message_page(
        number=number,
        direction=direction,
        limit=page_size(request.GET.get("limit")),
        before=request.GET.get("before"),
    )
    url = reverse("smsapp:message_list", args=[number, direction])
    return _page_response(request, [Message.summary(r) for r in rows], next_cursor, url)


@api_view("GET", scope="patient")
def conversation(request: HttpRequest, number: str, counterpart: str) -> JsonResponse:
    number = validation.path_number(number)
    counterpart = validation.path_number(counterpart, field="counterpart")
    require_in_scope(request, number, counterpart)
    rows, next_cursor = messages.conversation_page(
        number=number,
        counterpart=counterpart,
        limit=page_size(request.GET.get("limit")),
        before=request.GET.get("before"),
    )
    url = reverse("smsapp:conversation", args=[number, counterpart])
    return _page_response(request, [Message.summary(r) for r in rows], next_cursor, url)


@api_view("GET", scope="patient")
def message(request: HttpRequest, message_sid: str) -> JsonResponse:
    require_message_in_scope(request, message_sid)
    found, items = messages.get_message(sid=message_sid)
    return JsonResponse(found.to_dict(items))


@api_view("GET", scope="patient")
def medias(request: HttpRequest, message_sid: str, media_sid: str | None = None) -> HttpResponse:
    """A media item's bytes: a raster image, sound or video inline with its own type;
    anything else (SVG, HTML, JavaScript, PDF, unknown) as an octet-stream download. With
    nosniff and a sandboxing policy, no attachment can run in our origin."""
    require_message_in_scope(request, message_sid)
    item = media.find_media(message_sid=message_sid, media_sid=media_sid)
    content, content_type = media.media_content(item)
    served = media.served_type(content_type)
    response = FileResponse(
        content,
        content_type=served,
        as_attachment=not media.shows_inline(content_type),
        filename=f"{item.sid}{media.extension(content_type)}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- writes ----------------------------------------------------------------------------


@api_view("DELETE", perm="smsapp.delete_message", scope="patient")
def message_delete(request: HttpRequest, message_sid: str) -> JsonResponse:
    require_message_in_scope(request, message_sid)
    messages.delete(sid=message_sid)
    return JsonResponse({"sid": message_sid, "deleted": True})


@api_view("POST", perm="smsapp.send_message", scope="patient")
def sms_send(request: HttpRequest) -> JsonResponse:
    data = validation.send_request(validation.json_object(request.body))
    require_in_scope(request, data["to"])
    sent = messages.send(**data)
    return JsonResponse(sent.to_dict([]))


@api_view("POST", perm="smsapp.change_phone")
def inbound_webhook(request: HttpRequest, phone_sid: str) -> JsonResponse:
    url, method = validation.webhook_request(validation.json_object(request.body))
    phones.set_inbound_webhook(phone_sid=phone_sid, url=url, method=method)
    return JsonResponse({"result": True})


@api_view("POST", perm="smsapp.change_phone")
def inbound_webhook_this_app(request: HttpRequest, phone_sid: str) -> JsonResponse:
    """Point the number's SMS webhook at this app's inbound_treatment route (POST)."""
    validation.json_object(request.body)  # `{}`; anything but JSON is still refused
    url = inbound_webhook_url()
    if not url:
        return json_error(
            "PUBLIC_BASE_URL is not set, so Twilio cannot be told where this app is; set it "
            "to the app's public https address and try again.",
            503,
        )
    phone = phones.set_inbound_webhook(phone_sid=phone_sid, url=url, method="POST")
    return JsonResponse({"result": True, "url": phone.sms_url, "method": phone.sms_method})


@api_view("POST", perm="smsapp.sync_twilio")
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
    since = sync.incremental_start() or (timezone.now() - PAGE_SYNC_WINDOW).date()
    try:
        result = sync.sync_all(since=since)
    except DatabaseError:
        return json_error("The database is busy; try the sync again in a minute.", 503)
    return JsonResponse({**result.counts(), "pages": result.pages})
