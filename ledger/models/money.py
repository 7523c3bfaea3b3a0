"""The money ledger: double-entry accounts and immutable transfers, TigerBeetle style.

Amounts are integers in the currency's minor units. An account's balances change only through
`ledger.services.money` under row locks taken in pk order. Transfers are never updated or
deleted (triggers, migration 0002); a mistake is corrected by another transfer. A two-phase
transfer is a `pending` row followed by at most one `post_pending` or `void_pending` row naming
it (unique `pending_id`), so it can never be resolved twice.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q


class AccountKind(models.TextChoices):
    WALLET = "wallet", "Customer wallet"
    POSITION = "position", "Institution settlement position"
    FEE_INCOME = "fee_income", "Fee income"
    FX_POSITION = "fx_position", "FX position"
    SUSPENSE = "suspense", "Suspense"
    FUNDING = "funding", "Funding / external cash"


class Account(models.Model):
    code = models.CharField(
        max_length=96,
        unique=True,
        help_text="Stable opaque name used on the log, e.g. wallet:<uuid>:MYR. Never PII.",
    )
    kind = models.CharField(max_length=16, choices=AccountKind.choices)
    institution = models.ForeignKey(
        "institutions.Institution",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="accounts",
    )
    currency = models.ForeignKey(
        "institutions.Currency", on_delete=models.PROTECT, related_name="+"
    )
    debits_must_not_exceed_credits = models.BooleanField(default=False)
    credits_must_not_exceed_debits = models.BooleanField(default=False)
    debits_pending = models.BigIntegerField(default=0)
    debits_posted = models.BigIntegerField(default=0)
    credits_pending = models.BigIntegerField(default=0)
    credits_posted = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(debits_pending__gte=0)
                & Q(debits_posted__gte=0)
                & Q(credits_pending__gte=0)
                & Q(credits_posted__gte=0),
                name="account_balances_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(debits_must_not_exceed_credits=False)
                | Q(credits_must_not_exceed_debits=False),
                name="account_flags_exclusive",
            ),
            models.CheckConstraint(
                condition=Q(debits_must_not_exceed_credits=False)
                | Q(debits_pending__lte=F("credits_posted") - F("debits_posted")),
                name="account_debits_within_credits",
            ),
            models.CheckConstraint(
                condition=Q(credits_must_not_exceed_debits=False)
                | Q(credits_pending__lte=F("debits_posted") - F("credits_posted")),
                name="account_credits_within_debits",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def balance_posted(self) -> int:
        """Credits minus debits, posted only (what a wallet holder owns), in minor units."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """Posted balance less pending debits: what can still be reserved."""
        return self.credits_posted - self.debits_posted - self.debits_pending


class TransferKind(models.TextChoices):
    SINGLE = "single", "Single-phase (posted at once)"
    PENDING = "pending", "Pending (reserved)"
    POST_PENDING = "post_pending", "Post a pending transfer"
    VOID_PENDING = "void_pending", "Void a pending transfer"


class Transfer(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, help_text="client-chosen")
    kind = models.CharField(max_length=16, choices=TransferKind.choices)
    debit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    credit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(help_text="minor units, > 0")
    currency = models.ForeignKey(
        "institutions.Currency", on_delete=models.PROTECT, related_name="+"
    )
    pending = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resolution",
        help_text="for post_pending / void_pending: the pending transfer it resolves (once)",
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="pending only")
    code = models.CharField(max_length=32, blank=True, default="", help_text="why, e.g. order.fee")
    reference = models.CharField(max_length=64, blank=True, default="")
    linked_group = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="transfer_amount_positive"),
            models.CheckConstraint(
                condition=~Q(debit_account=F("credit_account")), name="transfer_distinct_accounts"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["single", "pending"], pending__isnull=True)
                | Q(kind__in=["post_pending", "void_pending"], pending__isnull=False),
                name="transfer_pending_link",
            ),
            models.CheckConstraint(
                condition=Q(kind="pending") | Q(expires_at__isnull=True),
                name="transfer_expiry_only_pending",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=Q(kind="pending"),
                name="transfer_pending_expiry",
            ),
            models.Index(fields=["reference"], name="transfer_reference"),
            models.Index(
                fields=["linked_group"],
                condition=Q(linked_group__isnull=False),
                name="transfer_linked_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency_id} {self.id}"
