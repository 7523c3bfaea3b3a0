"""Institutions on the network and what identifies them: signing keys, API credentials,
webhook endpoints; plus the reference tables every app uses (currencies, corridors)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Currency(models.Model):
    """ISO 4217 currencies the network knows; minor units decide every amount's scale."""

    code = models.CharField(max_length=3, primary_key=True)
    name = models.CharField(max_length=64)
    minor_units = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name_plural = "currencies"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Institution(models.Model):
    code = models.CharField(
        max_length=32,
        unique=True,
        help_text="Stable network code, e.g. VALYOU-MY. Appears in every statement it signs.",
    )
    name = models.CharField(max_length=128)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    is_sending = models.BooleanField(default=False)
    is_receiving = models.BooleanField(default=False)
    is_operator = models.BooleanField(default=False)
    hosted = models.BooleanField(
        default=False,
        help_text="The hub holds this institution's private signing key and signs for it.",
    )
    x25519_public_key = models.BinaryField(
        max_length=32,
        null=True,
        blank=True,
        editable=True,
        help_text="Raw X25519 public key KYC records are sealed to when shared.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[A-Z0-9][A-Z0-9-]{1,31}$"),
                name="institution_code_format",
            ),
            models.UniqueConstraint(
                fields=["is_operator"], condition=Q(is_operator=True), name="one_operator"
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def roles(self) -> list[str]:
        return [
            role
            for role, on in (
                ("sending", self.is_sending),
                ("receiving", self.is_receiving),
                ("operator", self.is_operator),
            )
            if on
        ]


class SigningKey(models.Model):
    """An Ed25519 key an institution signs ledger statements with.

    The public key is kept for every institution, forever (old statements must still verify).
    The private key is stored only for hosted institutions, wrapped by the KEK with this key's
    key_id as associated data. At most one active key per institution.
    """

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="keys")
    key_id = models.CharField(max_length=16, unique=True)
    public_key = models.BinaryField(max_length=32)
    wrapped_private_key = models.BinaryField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["institution_id", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution"], condition=Q(active=True), name="one_active_key"
            ),
            models.CheckConstraint(condition=Q(key_id__regex=r"^[0-9a-f]{16}$"), name="key_id_hex"),
        ]

    def __str__(self) -> str:
        return f"{self.institution_id}:{self.key_id}"


class ApiCredential(models.Model):
    """An API key. Only SHA-256 of the secret is stored; the key is shown once at creation.

    Keys are `rk_<prefix>_<secret>` with 256 bits of randomness, so a fast hash is the right
    tool (a slow password hash would only cost latency on every request)."""

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="credentials"
    )
    label = models.CharField(max_length=64, blank=True)
    prefix = models.CharField(max_length=12, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.institution_id} rk_{self.prefix}_…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Corridor(models.Model):
    """A country/currency lane money may move along, e.g. MY-PK (MYR → PKR)."""

    code = models.CharField(max_length=16, unique=True)
    source_country = models.CharField(max_length=2)
    destination_country = models.CharField(max_length=2)
    source_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    destination_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    active = models.BooleanField(default=True)
    opened_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


from institutions.idempotency import IdempotencyRecord  # noqa: E402  (model lives with its logic)

__all__ = [
    "ApiCredential",
    "Corridor",
    "Currency",
    "IdempotencyRecord",
    "Institution",
    "SigningKey",
]
