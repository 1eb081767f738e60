"""How the app answers an inbound message: the auto-reply rules staff edit in the admin."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower


class AutoReplyRuleQuerySet(models.QuerySet):
    def reply_for(self, body: str, *, opt_out_type: str = "") -> AutoReplyRule | None:
        """The rule that answers an inbound `body`: none for an opt-out word (Twilio
        answers those itself and the patient asked us to stop), nor for a keyword that
        Twilio's Advanced Opt-Out already answered (it marks them with `OptOutType`);
        otherwise the first active rule by priority that matches."""
        if opt_out_type or body.strip().upper() in AutoReplyRule.OPT_OUT_WORDS:
            return None
        # A handful of rules: matching in Python keeps every match kind in one place.
        return next((r for r in self.filter(is_active=True) if r.matches(body)), None)


class AutoReplyRule(models.Model):
    """How the app answers an inbound message. The first active rule by priority that
    matches gives the reply."""

    # Twilio's default opt-out keywords; it answers them itself and blocks our replies.
    OPT_OUT_WORDS = frozenset(
        {"STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL"}
    )

    class MatchKind(models.TextChoices):
        CONTAINS = "contains", "Body contains the text"
        EXACT = "exact", "Body is exactly the text"
        STARTS_WITH = "starts_with", "Body starts with the text"
        ANY = "any", "Any body (fallback)"

    name = models.CharField(max_length=100)
    match_kind = models.CharField(max_length=16, choices=MatchKind.choices)
    pattern = models.CharField(
        max_length=255, blank=True, help_text="Compared case-insensitively, ignoring outer spaces."
    )
    reply_text = models.TextField()
    media_url = models.URLField(blank=True, help_text="Optional image sent with the reply (MMS).")
    priority = models.PositiveIntegerField(default=100, help_text="Lower numbers are tried first.")
    is_active = models.BooleanField(default=True)

    objects = AutoReplyRuleQuerySet.as_manager()

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="autoreplyrule_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def matches(self, body: str) -> bool:
        text = body.strip().casefold()
        pattern = self.pattern.strip().casefold()
        match self.match_kind:
            case self.MatchKind.CONTAINS:
                return pattern in text
            case self.MatchKind.EXACT:
                return text == pattern
            case self.MatchKind.STARTS_WITH:
                return text.startswith(pattern)
            case self.MatchKind.ANY:
                return True
        return False
