"""The audit trail's export, for superusers: who did what, as CSV (docs/api.md)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone

from smsapp.lib import validation
from smsapp.services import audit
from smsapp.web.decorators import api_view, json_error


@api_view("GET", perm=None)
def export(request: HttpRequest) -> HttpResponse:
    """GET audit/export.csv?since=YYYY-MM-DD&until=YYYY-MM-DD: the entries of those days
    (in TIME_ZONE, both included; by default the last 30 days), oldest first, streamed,
    so a million rows take no more memory than a hundred. The download is audited."""
    if not request.user.is_superuser:
        return json_error(
            "Only a superuser may download the audit trail; ask one to export it for you.", 403
        )
    since, until = validation.date_range(request.GET, today=timezone.localdate())
    rows = audit.export(since=since, until=until, actor=audit.Actor.of(request))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{since}-{until}.csv"'
    return response
