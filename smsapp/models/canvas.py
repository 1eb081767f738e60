"""What the app keeps about Canvas: the launch tokens that have opened the page."""

from __future__ import annotations

from django.db import models


class LaunchTokenUse(models.Model):
    """A Canvas launch token that has opened the page: its `jti` may not open it again.

    Kept until the token's own expiry has passed (after that the signature check refuses
    it anyway); smsapp.web.embed deletes older rows as it records new ones."""

    jti = models.CharField("token id", max_length=64, unique=True)
    staff_id = models.CharField(max_length=64)
    patient_id = models.CharField(max_length=64)
    used_at = models.DateTimeField()
    # Indexed for the clean-up in smsapp.web.embed._record_use.
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-used_at"]

    def __str__(self) -> str:
        return f"{self.jti} (staff {self.staff_id}, patient {self.patient_id})"
