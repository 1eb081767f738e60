"""The audit trail: read-only for everyone, superusers included."""

from contextlib import suppress

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from smsapp.admin.base import ReadOnlyAdmin
from smsapp.lib import validation
from smsapp.lib.errors import InvalidInput
from smsapp.models import AuditEvent


class ActorFilter(admin.SimpleListFilter):
    """Jobs, Twilio, the Canvas plugin, no one signed in, or one user: from the users
    table, not a DISTINCT over every audit event on each page load."""

    title = "actor"
    parameter_name = "actor"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        users = get_user_model().objects.order_by("username").values_list("username", flat=True)
        return [(name, name) for name in (*AuditEvent.MACHINES, *users)]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        return queryset.filter(actor=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Who did what: read-only for everyone, superusers included (the database refuses
    changes anyway). Seen by superusers only, like its export (/audit/export.csv)."""

    list_display = ["at", "actor", "action", "target", "patient", "ip", "request_id"]
    list_filter = [ActorFilter, "action", ("at", admin.DateFieldListFilter)]
    search_fields = ["=target"]  # shows the search box; see get_search_results
    search_help_text = "A message SID, a patient's number, an id, or a Canvas patient id."
    show_full_result_count = False

    def get_search_results(self, request, queryset: QuerySet, search_term: str):
        """An exact match on target or patient, which their indexes answer; a phone
        number may be typed as people write it."""
        term = search_term.strip()
        if not term:
            return queryset, False
        with suppress(InvalidInput):  # else a SID, an id, a Canvas patient id
            term = validation.e164(term, field="q", label="The number", strict=False)
        return queryset.filter(Q(target=term) | Q(patient=term)), False
