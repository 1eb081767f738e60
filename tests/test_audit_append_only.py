"""The audit trail is append-only in the database itself (SQLite and PostgreSQL, whichever
the suite runs on): triggers refuse UPDATE and DELETE, except a DELETE of entries older
than the retention, which the daily purge sets from AUDIT_RETENTION_DAYS first."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from smsapp.models import AuditEvent, AuditRetention
from smsapp.services import audit
from smsapp.tasks import periodic_jobs
from tests.test_settings import start

pytestmark = pytest.mark.django_db

TABLE = AuditEvent._meta.db_table


def _entry(days_old: float = 0, target: str = "SM1") -> AuditEvent:
    at = timezone.now() - timedelta(days=days_old)
    return AuditEvent.objects.create(at=at, actor="staff", action="message_sent", target=target)


def _refused(sql: str, params=()) -> None:
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)


def test_a_raw_update_is_refused(db):
    entry = _entry()

    _refused(f"UPDATE {TABLE} SET actor = 'someone else' WHERE id = %s", [entry.pk])  # noqa: S608

    entry.refresh_from_db()
    assert entry.actor == "staff"


def test_a_raw_delete_of_a_recent_entry_is_refused(db):
    entry = _entry(days_old=30)

    _refused(f"DELETE FROM {TABLE} WHERE id = %s", [entry.pk])  # noqa: S608

    assert AuditEvent.objects.filter(pk=entry.pk).exists()


def test_the_orms_update_and_delete_are_refused_too(db):
    entry = _entry()

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=entry.pk).update(target="SM2")
    with pytest.raises(DatabaseError), transaction.atomic():
        entry.delete()

    assert AuditEvent.objects.get(pk=entry.pk).target == "SM1"


def test_an_entry_past_the_retention_may_be_deleted(db):
    AuditRetention.objects.update_or_create(pk=1, defaults={"days": 2190})  # as migrated
    old = _entry(days_old=2191)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [old.pk])  # noqa: S608

    assert not AuditEvent.objects.filter(pk=old.pk).exists()


def test_without_a_retention_row_nothing_may_be_deleted(db):
    AuditRetention.objects.all().delete()
    ancient = _entry(days_old=20_000)

    _refused(f"DELETE FROM {TABLE} WHERE id = %s", [ancient.pk])  # noqa: S608


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_a_truncate_is_refused_while_any_entry_is_recent(db):
    _entry(days_old=3000)
    _entry()

    _refused(f"TRUNCATE {TABLE}")

    assert AuditEvent.objects.count() == 2


@override_settings(AUDIT_RETENTION_DAYS=400)
def test_the_purge_deletes_what_is_past_the_retention_of_the_setting(db, monkeypatch):
    monkeypatch.setattr(audit, "PURGE_BATCH", 2)  # several batches
    old = [_entry(days_old=401 + n, target=f"old {n}") for n in range(5)]
    kept = [_entry(days_old=399), _entry(days_old=1)]

    deleted = audit.purge()

    assert deleted == len(old)
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == {e.pk for e in kept}
    assert AuditRetention.objects.get().days == 400
    # The trigger holds to the new retention: 399 days old is still too young.
    _refused(f"DELETE FROM {TABLE} WHERE id = %s", [kept[0].pk])  # noqa: S608


def test_the_purge_runs_daily_on_the_workers(db, run_jobs):
    _entry(days_old=2200)
    _entry()

    job = periodic_jobs()["purge_audit_events"]
    run_jobs()

    assert job.every == timedelta(days=1)
    assert AuditEvent.objects.filter(target="SM1").count() == 1


def test_a_retention_under_a_year_stops_start_up():
    result = start(AUDIT_RETENTION_DAYS="90")

    assert result.returncode != 0
    assert "AUDIT_RETENTION_DAYS must be at least 365 (got 90)" in result.stderr
