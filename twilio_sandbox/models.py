"""The stand-in's own state: what "Twilio" knows in sandbox mode. Kept in the database
so a restart keeps it, and apart from the app's mirror (smsapp), which learns about it
only through the REST API and the webhooks, exactly as it would from Twilio."""

from django.db import models


class SandboxNumber(models.Model):
    sid = models.CharField(max_length=34, unique=True)
    phone_number = models.CharField(max_length=20, unique=True)
    friendly_name = models.CharField(max_length=255, blank=True)
    sms = models.BooleanField(default=True)
    mms = models.BooleanField(default=False)
    voice = models.BooleanField(default=True)
    fax = models.BooleanField(default=False)
    status = models.CharField(max_length=32, default="in-use")
    sms_url = models.CharField(max_length=1024, blank=True)
    sms_method = models.CharField(max_length=4, default="POST")
    status_callback = models.CharField(max_length=1024, blank=True)
    date_created = models.DateTimeField(auto_now_add=True)
    date_updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.phone_number


class SandboxMessage(models.Model):
    sid = models.CharField(max_length=34, unique=True)
    direction = models.CharField(max_length=16)
    from_number = models.CharField(max_length=64)
    to_number = models.CharField(max_length=64)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=24)
    error_code = models.IntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    num_segments = models.PositiveIntegerField(default=1)
    price = models.CharField(max_length=16, blank=True)
    status_callback = models.CharField(max_length=1024, blank=True)
    date_created = models.DateTimeField()
    date_sent = models.DateTimeField(null=True, blank=True)
    date_updated = models.DateTimeField()

    class Meta:
        # Twilio lists newest first; pages continue below the last id (see api._paged).
        ordering = ["-id"]
        indexes = [
            # api.messages filters To / From and pages by id.
            models.Index(fields=["to_number", "-id"], name="sandbox_msg_to"),
            models.Index(fields=["from_number", "-id"], name="sandbox_msg_from"),
        ]

    def __str__(self) -> str:
        return f"{self.sid} ({self.status})"


class SandboxMedia(models.Model):
    sid = models.CharField(max_length=34, unique=True)
    message = models.ForeignKey(SandboxMessage, on_delete=models.CASCADE, related_name="media")
    content_type = models.CharField(max_length=128)
    content = models.BinaryField()
    date_created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.sid
