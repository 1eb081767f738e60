"""What a session opened from a patient's chart may reach: the one place of that rule.

EMBED_SCOPE=clinic (the default): everything the user's role allows, since Canvas staff
may open any chart. EMBED_SCOPE=patient: a session opened from a chart (a request with an
API token) reaches only messages with the launched patient's numbers (the patient
directory's, smsapp.services.directory.numbers_of): reading them, their media, sending to
and deleting them. Routes that reach beyond one conversation (the per-number logs,
webhooks, sync) are refused outright.

api_view applies the route-level part (`scope=`); views whose answer depends on which
numbers a request names call `require_in_scope` or `require_message_in_scope`, and the
inbox's listings show only what `listed_counterpart` allows.
Sessions signed in with a cookie are never limited.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from smsapp.lib.errors import Forbidden
from smsapp.lib.validation import uuid_or_404
from smsapp.models import Message, ScheduledMessage
from smsapp.services import directory

OUT_OF_SCOPE = (
    "This SMS session was opened from a patient's chart and reaches only that patient's "
    "messages; open SMS from the other patient's chart instead."
)


def limited_to(request: HttpRequest) -> list[str] | None:
    """The numbers the request's messages must involve one of, or None when it is not
    limited. [] (a chart with no mobile number) reaches no message at all. Read once per
    request."""
    claims = getattr(request, "api_token", None)
    if claims is None or settings.EMBED_SCOPE != "patient":
        return None
    if not hasattr(request, "_patient_numbers"):
        request._patient_numbers = directory.numbers_of(claims.patient_id)
    return request._patient_numbers


def require_in_scope(request: HttpRequest, *numbers: str) -> None:
    """Forbidden unless the request may reach messages between `numbers`."""
    allowed = limited_to(request)
    if allowed is not None and not set(allowed) & set(numbers):
        raise Forbidden(OUT_OF_SCOPE)


def listed_counterpart(request: HttpRequest, counterpart: str | None) -> list[str] | None:
    """The counterparts a listing of conversations may show: the one asked for (None:
    every one), or in a session limited to a patient that patient's numbers ([] when the
    chart had none: nothing); asking there for another number is Forbidden."""
    allowed = limited_to(request)
    if allowed is None:
        return None if counterpart is None else [counterpart]
    if counterpart is not None:
        if counterpart not in allowed:
            raise Forbidden(OUT_OF_SCOPE)
        return [counterpart]
    return allowed


def require_message_in_scope(request: HttpRequest, sid: str) -> None:
    """Forbidden unless the request may reach the mirrored message `sid` (a limited session
    reaches only messages in the mirror: those are the ones the page shows)."""
    if limited_to(request) is None:
        return
    numbers = Message.objects.filter(sid=sid).values_list("from_number", "to_number").first()
    require_in_scope(request, *(numbers or ()))


def require_scheduled_in_scope(request: HttpRequest, scheduled_id: str) -> None:
    """Forbidden unless the request may reach the scheduled text `scheduled_id`."""
    if limited_to(request) is None:
        return
    key = uuid_or_404(scheduled_id)
    item = ScheduledMessage.objects.filter(pk=key).values_list("to_number").first()
    require_in_scope(request, *(item or ()))
