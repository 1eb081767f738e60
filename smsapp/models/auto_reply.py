"""How the app answers an inbound message: the auto-reply rules staff edit in the admin."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models.functions import Lower

from smsapp.lib.keywords import Keyword, keyword_of


class AutoReplyRuleQuerySet(models.QuerySet):
    def reply_for(
        self, body: str, *, opt_out_type: str = "", office_open: bool = True
    ) -> AutoReplyRule | None:
        """The rule that answers an inbound `body`: the first active rule by priority that
        matches, leaving out those limited to outside office hours while `office_open`.

        A keyword (smsapp.lib.keywords) gets no answer: Twilio answers opt-out and opt-in
        words itself, and a text marked with `OptOutType` was answered by Twilio's
        Advanced Opt-Out. HELP and INFO may be answered by a rule that matches them by
        their words, never by a catch-all ("any body") rule.

        Whether the patient may be texted at all, and the once-per-12-hours limit of
        after-hours rules, are smsapp.services.replies' to check."""
        keyword = keyword_of(body, opt_out_type=opt_out_type)
        if opt_out_type or keyword in (Keyword.OPT_OUT, Keyword.OPT_IN):
            return None
        rules = self.filter(is_active=True)
        if office_open:
            rules = rules.filter(only_outside_office_hours=False)
        if keyword == Keyword.HELP:
            rules = rules.exclude(match_kind=AutoReplyRule.MatchKind.ANY)
        # A handful of rules: matching in Python keeps every match kind in one place.
        return next((r for r in rules if r.matches(body)), None)


class AutoReplyRule(models.Model):
    """How the app answers an inbound message. The first active rule by priority that
    matches gives the reply."""

    # An after-hours rule answers one patient (on one of our numbers) at most this often.
    AFTER_HOURS_REPEAT = timedelta(hours=12)

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
    only_outside_office_hours = models.BooleanField(
        "only outside office hours",
        default=False,
        help_text="Answer only outside OFFICE_HOURS and on OFFICE_HOLIDAYS, and then at most "
        "once every 12 hours to the same patient.",
    )

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


class AfterHoursReply(models.Model):
    """When an after-hours rule last answered a patient on one of our numbers: it answers
    again only AutoReplyRule.AFTER_HOURS_REPEAT later (smsapp.services.replies)."""

    rule = models.ForeignKey(AutoReplyRule, on_delete=models.CASCADE, related_name="+")
    # As long as Message's: an inbound From may be a WhatsApp address.
    our_number = models.CharField(max_length=64)
    patient_number = models.CharField(max_length=64)
    answered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "our_number", "patient_number"], name="afterhoursreply_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} answered {self.patient_number} at {self.answered_at:%Y-%m-%d %H:%M}"

    @classmethod
    def claim(
        cls, *, rule: AutoReplyRule, our_number: str, patient_number: str, now: datetime
    ) -> bool:
        """Whether `rule` may answer this patient now, recording that it does. One
        conditional UPDATE (or the INSERT the unique constraint lets only one make), so of
        two texts arriving together only one is answered."""
        key = {"rule": rule, "our_number": our_number, "patient_number": patient_number}
        due = now - AutoReplyRule.AFTER_HOURS_REPEAT
        if cls.objects.filter(**key, answered_at__lte=due).update(answered_at=now):
            return True
        _, created = cls.objects.get_or_create(**key, defaults={"answered_at": now})
        return created
