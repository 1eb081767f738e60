"""What the app keeps about Canvas: the launch tokens that have opened the page."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

from smsapp.lib.launch import LAUNCH_LEEWAY


class LaunchTokenUseQuerySet(models.QuerySet):
    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete the rows of tokens past their expiry (and the leeway): the signature
        check refuses those tokens by itself. Returns how many were deleted."""
        stale = (now or timezone.now()) - timedelta(seconds=LAUNCH_LEEWAY + 60)
        return self.filter(expires_at__lt=stale).delete()[0]


class LaunchTokenUse(models.Model):
    """A Canvas launch token that has opened the page: its `jti` may not open it again.

    Kept until the token's own expiry has passed; a periodic job then removes it
    (smsapp.tasks.purge_launch_tokens)."""

    jti = models.CharField("token id", max_length=64, unique=True)
    staff_id = models.CharField(max_length=64)
    patient_id = models.CharField(max_length=64)
    used_at = models.DateTimeField()
    # Indexed for purge_expired.
    expires_at = models.DateTimeField(db_index=True)

    objects = LaunchTokenUseQuerySet.as_manager()

    class Meta:
        ordering = ["-used_at"]

    def __str__(self) -> str:
        return f"{self.jti} (staff {self.staff_id}, patient {self.patient_id})"
