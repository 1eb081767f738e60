"""Message templates (quick replies): texts staff pick, fill in and edit before sending."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from smsapp.lib.placeholders import PLACEHOLDERS, fill, listed, unknown_placeholders
from smsapp.twilio_gateway.constants import MAX_BODY_LENGTH


class MessageTemplate(models.Model):
    """A quick reply. Its body may use {first_name}, {clinic_name} and {our_number}; the
    page fills in the ones it knows and staff edit the rest before sending."""

    name = models.CharField(max_length=100, unique=True)
    body = models.TextField(
        max_length=MAX_BODY_LENGTH,
        help_text="May use " + listed([f"{{{name}}}" for name in PLACEHOLDERS]) + ".",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        unknown = unknown_placeholders(self.body or "")
        if unknown:
            allowed = listed([f"{{{name}}}" for name in PLACEHOLDERS])
            raise ValidationError(
                {
                    "body": f"This app cannot fill {listed(unknown)}; use {allowed}, or "
                    "remove the braces."
                }
            )

    def to_dict(self, values: dict[str, str]) -> dict[str, Any]:
        """An item of `templates`: `text` is the body with the known `values` filled in."""
        return {
            "id": self.pk,
            "name": self.name,
            "body": self.body,
            "text": fill(self.body, values),
        }
