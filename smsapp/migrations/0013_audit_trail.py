"""The audit trail (smsapp.models.audit), append-only in the database itself: triggers
refuse every UPDATE of an audit event, and every DELETE (on PostgreSQL also TRUNCATE) of
one younger than the retention the one-row table smsapp_auditretention holds. They read
that row when they run, so the retention can change after this migration (the purge job
sets it from AUDIT_RETENTION_DAYS); with no row, nothing can be deleted.

SQLite and PostgreSQL, the two databases the app runs on (project/settings.py refuses
others). A refusal is an integrity error on both (Django's IntegrityError).
"""

import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

SQLITE = [
    """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON smsapp_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END""",
    # Django stores SQLite datetimes as UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff', which
    # sorts as time does; strftime('now') is UTC too. No retention row: NULL, refused.
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON smsapp_auditevent
    WHEN NOT COALESCE(
        OLD.at < (SELECT strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || days || ' days')
                  FROM smsapp_auditretention WHERE id = 1),
        0)
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_event_no_update",
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
]

POSTGRESQL = [
    """CREATE FUNCTION smsapp_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        kept_since timestamptz := now() - make_interval(
            days => (SELECT days FROM smsapp_auditretention WHERE id = 1));
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF OLD.at < kept_since THEN
                RETURN OLD;
            END IF;
        END IF;
        -- TRUNCATE is a DELETE of every row: allowed only when every row may go.
        IF TG_OP = 'TRUNCATE' AND kept_since IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM smsapp_auditevent WHERE at >= kept_since) THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
            USING ERRCODE = 'restrict_violation',
                  HINT = 'Only events older than the retention may be deleted.';
    END $$""",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON smsapp_auditevent
    FOR EACH ROW EXECUTE FUNCTION smsapp_audit_append_only()""",
    """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON smsapp_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION smsapp_audit_append_only()""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_event_append_only ON smsapp_auditevent",
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON smsapp_auditevent",
    "DROP FUNCTION IF EXISTS smsapp_audit_append_only()",
]


def _run(schema_editor, statements: dict[str, list[str]]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements:
        raise RuntimeError(
            f"The audit trail's triggers exist for SQLite and PostgreSQL, not {vendor}."
        )
    for sql in statements[vendor]:
        schema_editor.execute(sql, params=None)


def create_triggers(apps, schema_editor):
    _run(schema_editor, {"sqlite": SQLITE, "postgresql": POSTGRESQL})


def drop_triggers(apps, schema_editor):
    _run(schema_editor, {"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE})


def set_retention(apps, schema_editor):
    AuditRetention = apps.get_model("smsapp", "AuditRetention")
    AuditRetention.objects.update_or_create(
        pk=1, defaults={"days": getattr(settings, "AUDIT_RETENTION_DAYS", 2190)}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("smsapp", "0012_after_hours_rule"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(default=django.utils.timezone.now)),
                ("actor", models.CharField(max_length=150)),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("message_sent", "message sent"),
                            ("message_send_unknown", "send attempted, outcome unknown"),
                            ("message_scheduled", "message scheduled"),
                            ("scheduled_cancelled", "scheduled message cancelled"),
                            ("message_deleted", "message deleted"),
                            ("conversation_opened", "conversation read (opened)"),
                            ("media_viewed", "media viewed"),
                            ("conversation_marked_read", "conversation marked read"),
                            ("webhook_changed", "number's webhook changed"),
                            ("rule_created", "auto-reply rule created"),
                            ("rule_changed", "auto-reply rule changed"),
                            ("rule_deleted", "auto-reply rule deleted"),
                            ("template_created", "template created"),
                            ("template_changed", "template changed"),
                            ("template_deleted", "template deleted"),
                            ("consent_recorded", "consent recorded by staff"),
                            ("number_linked", "number linked to a patient"),
                            ("launch_accepted", "embed launch accepted"),
                            ("launch_refused", "embed launch refused"),
                            ("export_downloaded", "audit export downloaded"),
                            ("signed_in", "signed in"),
                            ("signed_out", "signed out"),
                            ("sign_in_failed", "sign-in failed"),
                        ],
                        max_length=32,
                    ),
                ),
                ("target", models.CharField(blank=True, max_length=200)),
                (
                    "patient",
                    models.CharField(
                        blank=True, help_text="The patient's Canvas id, when known.", max_length=64
                    ),
                ),
                ("ip", models.GenericIPAddressField(blank=True, null=True, verbose_name="IP")),
                (
                    "request_id",
                    models.CharField(blank=True, max_length=64, verbose_name="request id"),
                ),
            ],
            options={
                "ordering": ["-at", "-id"],
                "indexes": [
                    models.Index(fields=["at", "id"], name="audit_at"),
                    models.Index(fields=["target"], name="audit_target"),
                    models.Index(fields=["patient"], name="audit_patient"),
                ],
            },
        ),
        migrations.CreateModel(
            name="AuditRetention",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False),
                ),
                ("days", models.PositiveIntegerField()),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("id", 1)), name="audit_retention_one_row"
                    )
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.RunPython(set_retention, migrations.RunPython.noop),
    ]
