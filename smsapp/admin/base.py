"""What the back office's pages share: how a record is shown when the app, not staff,
changes it, and how staff's changes reach the audit trail."""

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet

from smsapp.services import audit


class MirrorAdmin(admin.ModelAdmin):
    """Twilio is the source of truth for the mirror: an edit here would be overwritten by
    the next sync_twilio, or kept and shown as if Twilio had said it. Rows can be viewed
    and deleted (a later sync reads them again), except messages: see MessageAdmin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(MirrorAdmin):
    """Records the page and the jobs change (their state is what exactly-once rests on):
    shown, never added, edited or deleted here."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AuditedAdmin(admin.ModelAdmin):
    """Every add, change (the form's or the list's) and delete in the audit trail, in the
    transaction of the write (target: the row's id). `audit_actions`: the created,
    changed and deleted actions."""

    audit_actions: tuple[str, str, str]

    def save_model(self, request, obj, form, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if not change or form.has_changed():
                action = self.audit_actions[1 if change else 0]
                audit.record(action, target=str(obj.pk), request=request)

    def delete_model(self, request, obj) -> None:
        pk = obj.pk
        with transaction.atomic():
            super().delete_model(request, obj)
            audit.record(self.audit_actions[2], target=str(pk), request=request)

    def delete_queryset(self, request, queryset: QuerySet) -> None:
        """The list's "delete selected": one entry per row."""
        with transaction.atomic():
            pks = list(queryset.values_list("pk", flat=True))
            super().delete_queryset(request, queryset)
            for pk in pks:
                audit.record(self.audit_actions[2], target=str(pk), request=request)
