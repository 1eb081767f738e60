"""The original Canvas plugin's two auto-replies, as editable rules."""

from django.db import migrations

# The image the original plugin attached to its "Hello!" reply.
HELLO_IMAGE = (
    "https://img.freepik.com/free-psd/hand-drawn-summer-frame-illustration_23-2151631028.jpg"
)

DEFAULTS = [
    {
        "name": "Greeting",
        "match_kind": "contains",
        "pattern": "hello",
        "reply_text": "Hello! ♥️",
        "media_url": HELLO_IMAGE,
        "priority": 10,
    },
    {
        "name": "Fallback",
        "match_kind": "any",
        "pattern": "",
        "reply_text": "Say hello! 👻",
        "media_url": "",
        "priority": 1000,
    },
]


def create_defaults(apps, schema_editor):
    AutoReplyRule = apps.get_model("smsapp", "AutoReplyRule")
    for rule in DEFAULTS:
        AutoReplyRule.objects.get_or_create(name=rule["name"], defaults=rule)


def remove_defaults(apps, schema_editor):
    AutoReplyRule = apps.get_model("smsapp", "AutoReplyRule")
    AutoReplyRule.objects.filter(name__in=[r["name"] for r in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("smsapp", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]
