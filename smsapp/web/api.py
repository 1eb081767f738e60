"""The JSON API at the original Canvas plugin's routes, with its request and answer shapes
(docs/api.md).

Each view is small: check the input, call one function in smsapp.services, shape the
answer. Every failure is `{"information": ..., "fields": ...}` (api_view), never a 500.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlencode

from django.conf import settings
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    JsonResponse,
)
from django.urls import reverse
from django.utils.http import parse_etags

from smsapp.lib import hours, validation
from smsapp.lib.errors import InvalidInput, NotFound
from smsapp.lib.paging import page_size
from smsapp.lib.public_urls import inbound_webhook_url
from smsapp.models import Message, SendAttempt, SyncRun
from smsapp.services import (
    audit,
    chart,
    consent,
    directory,
    inbox,
    media,
    messages,
    phones,
    scheduled,
    sync,
    templates,
)
from smsapp.web.decorators import api_view, json_error
from smsapp.web.scope import (
    listed_counterpart,
    require_in_scope,
    require_message_in_scope,
    require_scheduled_in_scope,
)


def _page_response(request: HttpRequest, items: list[dict], next_cursor: str | None, url: str):
    """A JSON list (the original's shape) with the next page's relative URL in a header."""
    response = JsonResponse(items, safe=False)
    if next_cursor:
        query = {"before": next_cursor}
        if "limit" in request.GET:
            query["limit"] = request.GET["limit"]
        response["X-Next-Page"] = f"{url}?{urlencode(query)}"
    return response


def _etag(*parts: object) -> str:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]
    return f'W/"{digest}"'


def _not_modified(request: HttpRequest, etag: str) -> HttpResponse | None:
    """304 when the caller already holds this answer (If-None-Match), else None. The
    page's polls send it: unchanged answers cost one indexed lookup and no body."""
    held = request.headers.get("If-None-Match", "")
    if held and (held.strip() == "*" or etag in parse_etags(held)):
        response = HttpResponseNotModified()
        response["ETag"] = etag
        return response
    return None


# --- reads -----------------------------------------------------------------------------


@api_view("GET", perm="smsapp.view_phone", scope="any")
def phone_list(request: HttpRequest) -> JsonResponse:
    ours = inbound_webhook_url()
    return JsonResponse([p.to_dict(our_webhook=ours) for p in phones.phone_list()], safe=False)


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


def _opens(request: HttpRequest) -> bool:
    """Whether a conversation request is someone opening it, for the audit trail: a GET of
    its newest page. An older page (`before`), a look again at a thread already open
    (`refresh`, as the inbox's thread asks when its conversation changed) or a
    conditional request (If-None-Match, If-Modified-Since) is not recorded again."""
    return (
        request.method == "GET"
        and not any(key in request.GET for key in ("before", "refresh"))
        and not any(header in request.headers for header in ("If-None-Match", "If-Modified-Since"))
    )


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
        opened_by=audit.Actor.of(request) if _opens(request) else None,
    )
    url = reverse("smsapp:conversation", args=[number, counterpart])
    items = [Message.summary(r, whole_body=True) for r in rows]
    return _page_response(request, items, next_cursor, url)


@api_view("GET", scope="patient")
def conversations(request: HttpRequest, number: str) -> HttpResponse:
    """The inbox of one of our numbers, newest activity first; ETag-conditional."""
    number = validation.path_number(number)
    counterpart = request.GET.get("counterpart") or None
    if counterpart:
        counterpart = validation.path_number(counterpart, field="counterpart")
    counterparts = listed_counterpart(request, counterpart)
    limit = page_size(request.GET.get("limit"))
    version = inbox.list_version(our_number=number, counterparts=counterparts)
    etag = _etag("conversations", number, counterparts, version, request.GET.urlencode())
    if (unchanged := _not_modified(request, etag)) is not None:
        return unchanged
    items, next_cursor = inbox.conversation_page(
        our_number=number,
        filter=request.GET.get("filter") or "all",
        limit=limit,
        before=request.GET.get("before"),
        counterparts=counterparts,
    )
    consent.mark_opted_out(number, items)
    directory.mark_patients(items)
    response = _page_response(
        request, items, next_cursor, reverse("smsapp:conversations", args=[number])
    )
    response["ETag"] = etag
    return response


@api_view("GET", scope="patient")
def inbox_counts(request: HttpRequest) -> HttpResponse:
    """Conversations with unread texts and needing a reply, in all and per number of ours
    (in a session limited to a patient, that patient's only); ETag-conditional."""
    answer = inbox.counts(counterparts=listed_counterpart(request, None))
    etag = _etag("inbox_counts", json.dumps(answer, sort_keys=True))
    if (unchanged := _not_modified(request, etag)) is not None:
        return unchanged
    response = JsonResponse(answer)
    response["ETag"] = etag
    return response


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
    item, content, content_type = media.view_media(
        message_sid=message_sid, media_sid=media_sid, actor=audit.Actor.of(request)
    )
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
    messages.delete(sid=message_sid, actor=audit.Actor.of(request))
    return JsonResponse({"sid": message_sid, "deleted": True})


@api_view("POST", scope="patient")
def conversation_read(request: HttpRequest, number: str, counterpart: str) -> JsonResponse:
    """Staff read the conversation: up to `upto` (the newest message the page showed), or
    everything. Answers the texts still unread (newer than `upto`)."""
    number = validation.path_number(number)
    counterpart = validation.path_number(counterpart, field="counterpart")
    require_in_scope(request, number, counterpart)
    upto = validation.json_object(request.body).get("upto") or ""
    unread = inbox.mark_read(
        our_number=number,
        counterpart=counterpart,
        user=request.user,
        upto=upto,
        actor=audit.Actor.of(request),
    )
    chart.unread_changed()
    return JsonResponse({"unread": unread})


@api_view("POST", "DELETE", perm="smsapp.add_numberlink", scope="patient")
def conversation_patient(request: HttpRequest, number: str, counterpart: str) -> JsonResponse:
    """POST {"patientId"}: the counterpart's number belongs to that patient (the chart the
    page was opened from, or one of the charts that list the number); DELETE undoes it.
    Answers the conversation's `patient` and `patients` as the inbox lists them."""
    number = validation.path_number(number)
    counterpart = validation.path_number(counterpart, field="counterpart")
    require_in_scope(request, number, counterpart)
    actor = audit.Actor.of(request)
    if request.method == "DELETE":
        return JsonResponse(directory.unlink(number=counterpart, actor=actor))
    patient_id = validation.json_object(request.body).get("patientId")
    if not isinstance(patient_id, str) or not patient_id:
        raise InvalidInput({"patientId": "patientId must be the Canvas id of the patient."})
    claims = getattr(request, "api_token", None)
    answer = directory.link(
        number=counterpart,
        patient_id=patient_id,
        chart_patient_id=claims.patient_id if claims else "",
        user=request.user,
        actor=actor,
    )
    return JsonResponse(answer)


@api_view("POST", perm="smsapp.send_message", scope="patient")
def sms_send(request: HttpRequest) -> JsonResponse:
    """Send now, or with `sendAt` schedule it (202). A send whose outcome is unknown is
    a 202 too: it may have gone out, and the app is looking it up."""
    data = validation.send_request(validation.json_object(request.body))
    require_in_scope(request, data["to"])
    send_at = data.pop("send_at")
    if send_at is not None:
        item = scheduled.schedule(
            **data, send_at=send_at, user=request.user, actor=audit.Actor.of(request)
        )
        return JsonResponse(
            {"scheduled": str(item.pk), "sendAt": item.to_dict()["sendAt"], "state": item.state},
            status=202,
        )
    try:
        sent = messages.send(**data, user=request.user, actor=audit.Actor.of(request))
    except messages.OutcomeUnknown as unknown:
        attempt = unknown.attempt
        url = reverse("smsapp:send_attempt", args=[attempt.pk])
        return JsonResponse({**attempt.to_dict(), "status": "unknown", "url": url}, status=202)
    answer = sent.to_dict([])
    if sent.pk is None:  # Twilio accepted it; the mirror could not store it yet
        answer["mirrored"] = False
        answer["information"] = (
            "Sent: Twilio accepted this text, but the log could not record it yet; it will "
            "appear with the next status update or sync. Do not send it again."
        )
    return JsonResponse(answer)


@api_view("GET", scope="patient")
def send_attempt(request: HttpRequest, attempt_id: str) -> JsonResponse:
    """A send whose outcome was unknown: still being looked up, found, or not sent."""
    attempt = SendAttempt.objects.filter(pk=validation.uuid_or_404(attempt_id)).first()
    if attempt is None:
        raise NotFound(f"There is no send attempt {attempt_id[:40]!r}.")
    require_in_scope(request, attempt.to_number)
    return JsonResponse(attempt.to_dict())


def scheduled_route(request: HttpRequest, key: str) -> HttpResponse:
    """GET scheduled/<our_number> lists; DELETE scheduled/<id> cancels."""
    if request.method == "DELETE":
        return scheduled_cancel(request, key)
    return scheduled_list(request, key)


@api_view("GET", scope="patient")
def scheduled_list(request: HttpRequest, number: str) -> JsonResponse:
    number = validation.path_number(number)
    counterpart = request.GET.get("counterpart")
    if counterpart:
        counterpart = validation.path_number(counterpart, field="counterpart")
    require_in_scope(request, counterpart or "")  # a chart's session: its patient's only
    items = scheduled.pending(number=number, counterpart=counterpart)
    return JsonResponse([item.to_dict() for item in items], safe=False)


@api_view("DELETE", perm="smsapp.send_message", scope="patient")
def scheduled_cancel(request: HttpRequest, scheduled_id: str) -> JsonResponse:
    require_scheduled_in_scope(request, scheduled_id)
    item = scheduled.cancel(
        scheduled_id=scheduled_id, user=request.user, actor=audit.Actor.of(request)
    )
    return JsonResponse({"id": str(item.pk), "cancelled": True})


@api_view("GET", perm="smsapp.view_messagetemplate", scope="any")
def template_list(request: HttpRequest) -> JsonResponse:
    """The templates, filled with what is known: the clinic's name and, with `?from=`,
    the number the text will be sent from."""
    our_number = request.GET.get("from")
    if our_number:
        our_number = validation.path_number(our_number, field="from")
    return JsonResponse(templates.for_picker(our_number=our_number or ""), safe=False)


@api_view("GET", scope="any")
def time_zone(request: HttpRequest, number: str) -> JsonResponse:
    """Where "Send later" reads a time: the patient's zone when their chart or their number
    tells it; and the quiet hours in it, when the page asks before a send."""
    number = validation.path_number(number)
    zone, from_number = directory.time_zone_of(number)
    quiet = hours.quiet_window(settings.QUIET_HOURS)
    return JsonResponse(
        {
            "number": number,
            "timeZone": zone,
            "fromNumber": from_number,
            "clinicTimeZone": settings.TIME_ZONE,
            "quietHours": {"start": f"{quiet.start:%H:%M}", "end": f"{quiet.end:%H:%M}"}
            if quiet
            else None,
        }
    )


@api_view("GET", scope="patient")
def consent_state(request: HttpRequest, number: str) -> JsonResponse:
    """Whether a patient may be texted from `?from=<our number>`: the Send tab warns as
    soon as an opted-out number is typed, the conversation shows why."""
    number = validation.path_number(number)
    require_in_scope(request, number)
    our_number = validation.path_number(
        request.GET.get("from", ""), field="from", label="?from= (our number)"
    )
    found = consent.state(our_number=our_number, patient_number=number)
    return JsonResponse({**found.to_dict(), "from": our_number})


@api_view("POST", perm="smsapp.change_phone")
def inbound_webhook(request: HttpRequest, phone_sid: str) -> JsonResponse:
    url, method = validation.webhook_request(validation.json_object(request.body))
    phones.set_inbound_webhook(
        phone_sid=phone_sid, url=url, method=method, actor=audit.Actor.of(request)
    )
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
    phone = phones.set_inbound_webhook(
        phone_sid=phone_sid, url=url, method="POST", actor=audit.Actor.of(request)
    )
    return JsonResponse({"result": True, "url": phone.sms_url, "method": phone.sms_method})


@api_view("POST", perm="smsapp.sync_twilio")
def sync_now(request: HttpRequest) -> JsonResponse:
    """Queue an incremental sync for a worker, as `manage.py sync_twilio` (over the last
    FIRST_RUN_WINDOW when nothing was synced yet); sync/<id> follows it."""
    validation.json_object(request.body)
    try:
        run = sync.start_sync()
    except sync.SyncAlreadyRunning as running:
        extra = {"id": running.run.pk, "url": running.run.to_dict()["url"]} if running.run else {}
        return json_error(
            "A sync is already running; wait for it to finish (its progress is shown), then "
            "sync again if needed.",
            409,
            **extra,
        )
    return JsonResponse({"id": run.pk, "state": run.state, "url": run.to_dict()["url"]}, status=202)


@api_view("GET", perm="smsapp.sync_twilio")
def sync_run(request: HttpRequest, run_id: int) -> JsonResponse:
    run = SyncRun.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"There is no sync run {run_id}.")
    return JsonResponse(run.to_dict())
