"""The part of Twilio's REST API (version 2010-04-01) the app uses, with Twilio's JSON shapes,
status codes, error codes and paging. The gateway's real `twilio` client reaches these
views through a custom HTTP client (smsapp.twilio_gateway.SandboxHttpClient)."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, time
from email.utils import format_datetime
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import csrf_exempt

from smsapp.twilio_gateway.constants import API_VERSION, MAX_PAGE_SIZE
from twilio_sandbox import credentials, engine
from twilio_sandbox.models import SandboxMedia, SandboxMessage, SandboxNumber


def _error(code: int, message: str, status: int) -> JsonResponse:
    return JsonResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


def _authorized(request: HttpRequest) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        username, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    # The stand-in's own identity, not whatever the app's client is configured with.
    expected = {
        credentials.API_KEY: credentials.api_secret(settings.SECRET_KEY),
        credentials.ACCOUNT_SID: credentials.auth_token(settings.SECRET_KEY),
    }.get(username)
    return bool(expected) and hmac.compare_digest(expected, password)


def twilio_api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sandbox mode only; Basic auth with the sandbox's API key or auth token; the
    account in the path must be the sandbox's; SandboxError becomes Twilio's error JSON."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, account_sid: str, *args, **kwargs) -> HttpResponse:
        if not settings.TWILIO_SANDBOX:
            raise Http404("The Twilio sandbox is switched off.")
        if not _authorized(request) or account_sid != credentials.ACCOUNT_SID:
            return _error(20003, "Authentication Error - invalid username", 401)
        engine.ensure_seeded()
        try:
            return view(request, *args, **kwargs)
        except engine.SandboxError as exc:
            return _error(exc.code, exc.message, exc.status)

    return wrapper


def _date(value: datetime | None) -> str | None:
    return format_datetime(value) if value else None


def _base() -> str:
    return f"/{API_VERSION}/Accounts/{credentials.ACCOUNT_SID}"


def number_json(n: SandboxNumber) -> dict:
    return {
        "account_sid": credentials.ACCOUNT_SID,
        "address_requirements": "none",
        "api_version": API_VERSION,
        "beta": False,
        "capabilities": {"voice": n.voice, "sms": n.sms, "mms": n.mms, "fax": n.fax},
        "date_created": _date(n.date_created),
        "date_updated": _date(n.date_updated),
        "friendly_name": n.friendly_name,
        "origin": "twilio",
        "phone_number": n.phone_number,
        "sid": n.sid,
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": n.sms_method,
        "sms_url": n.sms_url,
        "status_callback": n.status_callback,
        "status_callback_method": "POST",
        "status": n.status,
        "uri": f"{_base()}/IncomingPhoneNumbers/{n.sid}.json",
    }


def message_json(m: SandboxMessage, num_media: int) -> dict:
    uri = f"{_base()}/Messages/{m.sid}"
    return {
        "account_sid": credentials.ACCOUNT_SID,
        "api_version": API_VERSION,
        "body": m.body,
        "date_created": _date(m.date_created),
        "date_sent": _date(m.date_sent),
        "date_updated": _date(m.date_updated),
        "direction": m.direction,
        "error_code": m.error_code,
        "error_message": m.error_message or None,
        "from": m.from_number,
        "messaging_service_sid": None,
        "num_media": str(num_media),
        "num_segments": str(m.num_segments),
        "price": m.price or None,
        "price_unit": "USD",
        "sid": m.sid,
        "status": m.status,
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "to": m.to_number,
        "uri": f"{uri}.json",
    }


def media_json(media: SandboxMedia, message_sid: str) -> dict:
    return {
        "account_sid": credentials.ACCOUNT_SID,
        "content_type": media.content_type,
        "date_created": _date(media.date_created),
        "date_updated": _date(media.date_created),
        "parent_sid": message_sid,
        "sid": media.sid,
        "uri": f"{_base()}/Messages/{message_sid}/Media/{media.sid}.json",
    }


def _not_found(request: HttpRequest) -> engine.SandboxError:
    return engine.SandboxError(20404, f"The requested resource {request.path} was not found", 404)


def _page_size(request: HttpRequest) -> int:
    try:
        size = int(request.GET.get("PageSize", 50))
    except ValueError:
        raise engine.SandboxError(20001, "PageSize must be an integer") from None
    return min(max(size, 1), MAX_PAGE_SIZE)


def _paged(request: HttpRequest, queryset, key: str, path_: str, render) -> JsonResponse:
    """Twilio's paging: PageSize, Page and an opaque PageToken; next_page_uri carries all
    three with the filters. The token is the last id served, so each page is a range scan."""
    size = _page_size(request)
    token = request.GET.get("PageToken", "")
    if token:
        if not token.startswith("PA") or not token[2:].isdigit():
            raise engine.SandboxError(20001, "Invalid PageToken")
        queryset = queryset.filter(id__lt=int(token[2:]))
    page = int(request.GET.get("Page", 0) or 0)
    rows = list(queryset.order_by("-id")[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    filters = {k: v for k, v in request.GET.items() if k not in {"PageSize", "Page", "PageToken"}}
    first = f"{path_}?{urlencode({**filters, 'PageSize': size, 'Page': 0})}"
    next_uri = None
    if has_more:
        query = {**filters, "PageSize": size, "Page": page + 1, "PageToken": f"PA{rows[-1].id}"}
        next_uri = f"{path_}?{urlencode(query)}"
    return JsonResponse(
        {
            key: render(rows),
            "end": page * size + len(rows) - 1 if rows else 0,
            "first_page_uri": first,
            "next_page_uri": next_uri,
            "page": page,
            "page_size": size,
            "previous_page_uri": None,
            "start": page * size,
            "uri": f"{path_}?{urlencode(request.GET)}",
        }
    )


# --- IncomingPhoneNumbers ---------------------------------------------------------------


@twilio_api
def numbers(request: HttpRequest) -> HttpResponse:
    path_ = f"{_base()}/IncomingPhoneNumbers.json"
    render = lambda rows: [number_json(n) for n in rows]  # noqa: E731
    return _paged(request, SandboxNumber.objects.all(), "incoming_phone_numbers", path_, render)


@twilio_api
def number(request: HttpRequest, sid: str) -> HttpResponse:
    n = SandboxNumber.objects.filter(sid=sid).first()
    if n is None:
        raise _not_found(request)
    if request.method == "POST":
        method = request.POST.get("SmsMethod", n.sms_method).upper()
        if method not in {"GET", "POST"}:
            raise engine.SandboxError(21220, "SmsMethod must be GET or POST")
        url = request.POST.get("SmsUrl", n.sms_url)
        if url and not url.startswith(("http://", "https://")):
            raise engine.SandboxError(21502, f"SmsUrl is not a valid URL: {url}")
        n.sms_url, n.sms_method = url, method
        n.status_callback = request.POST.get("StatusCallback", n.status_callback)
        n.friendly_name = request.POST.get("FriendlyName", n.friendly_name)
        n.save()
    return JsonResponse(number_json(n))


# --- Messages -----------------------------------------------------------------------------


def _date_filter(value: str, end_of_day: bool = False) -> datetime:
    parsed = parse_datetime(value.replace("Z", "+00:00")) if "T" in value else None
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise engine.SandboxError(20001, f"Invalid DateSent: {value}")
        parsed = datetime.combine(day, time.max if end_of_day else time.min)
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def _messages_json(rows: list[SandboxMessage]) -> list[dict]:
    counts = dict(
        SandboxMedia.objects.filter(message__in=rows)
        .values_list("message_id")
        .annotate(n=Count("id"))
        .values_list("message_id", "n")
    )
    return [message_json(m, counts.get(m.id, 0)) for m in rows]


@twilio_api
def messages(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        message = engine.create_message(
            from_=request.POST.get("From", ""),
            to=request.POST.get("To", ""),
            body=request.POST.get("Body", ""),
            media_urls=request.POST.getlist("MediaUrl"),
            status_callback=request.POST.get("StatusCallback", ""),
        )
        return JsonResponse(message_json(message, message.media.count()), status=201)
    queryset = SandboxMessage.objects.all()
    if to := request.GET.get("To"):
        queryset = queryset.filter(to_number=to)
    if from_ := request.GET.get("From"):
        queryset = queryset.filter(from_number=from_)
    if on := request.GET.get("DateSent"):
        day = _date_filter(on)
        queryset = queryset.filter(date_sent__date=day.date())
    if after := request.GET.get("DateSent>"):
        queryset = queryset.filter(date_sent__gte=_date_filter(after))
    if before := request.GET.get("DateSent<"):
        queryset = queryset.filter(date_sent__lte=_date_filter(before, end_of_day=True))
    return _paged(request, queryset, "messages", f"{_base()}/Messages.json", _messages_json)


@twilio_api
def message(request: HttpRequest, sid: str) -> HttpResponse:
    if request.method == "DELETE":
        engine.delete_message(sid)
        return HttpResponse(status=204)
    m = _message_or_404(request, sid)
    return JsonResponse(message_json(m, m.media.count()))


def _message_or_404(request: HttpRequest, sid: str) -> SandboxMessage:
    m = SandboxMessage.objects.filter(sid=sid).first()
    if m is None:
        raise _not_found(request)
    return m


@twilio_api
def media_list(request: HttpRequest, sid: str) -> HttpResponse:
    m = _message_or_404(request, sid)
    path_ = f"{_base()}/Messages/{sid}/Media.json"
    render = lambda rows: [media_json(x, sid) for x in rows]  # noqa: E731
    return _paged(request, m.media.all(), "media_list", path_, render)


def _media_or_404(request: HttpRequest, sid: str, media_sid: str) -> SandboxMedia:
    item = SandboxMedia.objects.filter(sid=media_sid, message__sid=sid).first()
    if item is None:
        raise _not_found(request)
    return item


@twilio_api
def media_item(request: HttpRequest, sid: str, media_sid: str) -> HttpResponse:
    return JsonResponse(media_json(_media_or_404(request, sid, media_sid), sid))


@twilio_api
def media_content(request: HttpRequest, sid: str, media_sid: str) -> HttpResponse:
    """Like Twilio: a redirect to a short-lived, pre-signed "CDN" address."""
    item = _media_or_404(request, sid, media_sid)
    token = signing.dumps(item.sid, salt="sandbox-cdn")
    return HttpResponseRedirect(reverse("twilio_sandbox:cdn", args=[token]))


def cdn(request: HttpRequest, token: str) -> HttpResponse:
    try:
        media_sid = signing.loads(token, salt="sandbox-cdn", max_age=300)
    except signing.BadSignature:
        return HttpResponse("This link has expired.", status=403, content_type="text/plain")
    item = SandboxMedia.objects.filter(sid=media_sid).first()
    if item is None or not settings.TWILIO_SANDBOX:
        raise Http404("No such media.")
    return HttpResponse(bytes(item.content), content_type=item.content_type)


ACCOUNT = f"sandbox/twilio/{API_VERSION}/Accounts/<str:account_sid>/"
app_name = "twilio_sandbox"
urlpatterns = [
    path(f"{ACCOUNT}IncomingPhoneNumbers.json", numbers),
    path(f"{ACCOUNT}IncomingPhoneNumbers/<str:sid>.json", number),
    path(f"{ACCOUNT}Messages.json", messages),
    path(f"{ACCOUNT}Messages/<str:sid>.json", message),
    path(f"{ACCOUNT}Messages/<str:sid>/Media.json", media_list),
    path(f"{ACCOUNT}Messages/<str:sid>/Media/<str:media_sid>.json", media_item),
    path(f"{ACCOUNT}Messages/<str:sid>/Media/<str:media_sid>", media_content),
    path("sandbox/cdn/<str:token>", cdn, name="cdn"),
]
