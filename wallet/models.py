"""What the wallet keeps about a customer besides the Customer row and their KYC record:
preferences (language, time zone), how they signed up and whether that was verified, the
consent they gave, and one-time codes. No identity data: that lives in KYC, by reference."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class WalletProfile(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "e-mail"
        PHONE = "phone", "mobile number"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallet_profile"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    contact_verified_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(max_length=8, blank=True, default="")
    time_zone = models.CharField(max_length=64, blank=True, default="")
    consent_version = models.CharField(max_length=16, blank=True, default="")
    consent_at = models.DateTimeField(null=True, blank=True)
    # "Log out everywhere": sessions that logged in before this instant are ended.
    sessions_valid_after = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"wallet profile {self.user_id}"


class VerificationCode(models.Model):
    """A six-digit code sent to the customer's e-mail or phone; only its keyed hash is kept.
    Used once, within WALLET_CODE_TTL_SECONDS, at most WALLET_CODE_MAX_ATTEMPTS wrong tries."""

    class Purpose(models.TextChoices):
        SIGN_UP = "sign_up"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallet_codes"
    )
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    code_hash = models.CharField(max_length=64)
    attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(attempts__lte=100), name="wallet_code_attempts")
        ]

    def __str__(self) -> str:
        return f"code {self.pk} for {self.user_id}"
