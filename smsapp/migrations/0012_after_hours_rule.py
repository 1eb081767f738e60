"""An after-hours auto-reply, switched off: an administrator reads it, adapts it to the
clinic and switches it on in the admin ("Auto-reply rules")."""

from django.db import migrations

AFTER_HOURS = {
    "name": "After hours",
    "match_kind": "any",
    "pattern": "",
    "reply_text": (
        "Thank you for your message. We are closed right now and will reply when the office "
        "opens. If this is an emergency, call 911."
    ),
    "media_url": "",
    # Before the greeting: outside office hours this answers, whatever the text says.
    "priority": 5,
    "is_active": False,
    "only_outside_office_hours": True,
}


def create_rule(apps, schema_editor):
    AutoReplyRule = apps.get_model("smsapp", "AutoReplyRule")
    if not AutoReplyRule.objects.filter(name__iexact=AFTER_HOURS["name"]).exists():
        AutoReplyRule.objects.create(**AFTER_HOURS)


def remove_rule(apps, schema_editor):
    AutoReplyRule = apps.get_model("smsapp", "AutoReplyRule")
    AutoReplyRule.objects.filter(name=AFTER_HOURS["name"], only_outside_office_hours=True).delete()


class Migration(migrations.Migration):
    dependencies = [("smsapp", "0011_consent")]

    operations = [migrations.RunPython(create_rule, remove_rule)]
