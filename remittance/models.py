"""Customers, recipients, pricing, quotes, orders and their state machine (DESIGN.md §3).

Amounts are integers in minor units with their currency beside them. PII never sits here:
customers and recipients point at KYC records by `kyc_ref`."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class PayoutMethod(models.TextChoices):
    MOBILE_WALLET = "mobile_wallet", "Mobile wallet (MSISDN)"
    BANK_ACCOUNT = "bank_account", "Bank account (IBAN)"


class CorridorPricing(models.Model):
    """How a corridor is priced: margin on the mid rate, fixed + percentage fee, limits."""

    corridor = models.OneToOneField(
        "institutions.Corridor", on_delete=models.PROTECT, related_name="pricing"
    )
    receiving_institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="+"
    )
    margin_bps = models.PositiveIntegerField(help_text="customer rate = mid × (1 − margin)")
    fee_fixed_minor = models.BigIntegerField(default=0, help_text="source-currency minor units")
    fee_bps = models.PositiveIntegerField(default=0, help_text="percentage fee in basis points")
    min_send_minor = models.BigIntegerField()
    max_send_minor = models.BigIntegerField()
    payout_methods = models.JSONField(default=list)
    quote_ttl_seconds = models.PositiveIntegerField(default=1800)
    delivery_estimate = models.CharField(max_length=64, default="within seconds")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(min_send_minor__gt=0)
                & Q(max_send_minor__gte=models.F("min_send_minor")),
                name="pricing_send_limits",
            ),
            models.CheckConstraint(condition=Q(margin_bps__lt=10000), name="pricing_margin"),
        ]

    def __str__(self) -> str:
        return f"pricing {self.corridor_id}"


class Customer(models.Model):
    """A wallet user of a hosted sending institution. Identity lives in KYC (`kyc_ref`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="customer"
    )
    institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="customers"
    )
    kyc_ref = models.CharField(max_length=40, blank=True, default="")
    wallet = models.OneToOneField(
        "ledger.Account", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"customer {self.id}"


class Recipient(models.Model):
    """Someone a customer sends to. Name and payout details live in the beneficiary's KYC
    record; `payout_hint` is a masked hint for the UI (e.g. ••••4567), never a full number."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="recipients")
    kyc_ref = models.CharField(max_length=40)
    payout_method = models.CharField(max_length=16, choices=PayoutMethod.choices)
    payout_hint = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # Removed by the customer: kept for the orders that name it, no longer offered.
    removed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"recipient {self.id}"


class NameCheck(models.Model):
    """A sending institution asks the receiving bank whose wallet or account this is before
    its customer saves a recipient (docs/api.md, Name checks). The account identifier and the
    title the bank answers are PII: they are kept only encrypted (`sealed`: AES-256-GCM under
    the KEK, bound to the check's id), never in a webhook or a log. Short-lived: a check is
    for one sign-off by the customer; old ones may be deleted."""

    class Status(models.TextChoices):
        PENDING = "pending"
        MATCHED = "matched"
        NOT_FOUND = "not_found"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    requesting_institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="+"
    )
    receiving_institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="name_checks"
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="name_checks"
    )
    payout_method = models.CharField(max_length=16, choices=PayoutMethod.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    sealed = models.BinaryField(help_text="the identifier and title, wrapped by the current KEK")
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "matched", "not_found"]),
                name="name_check_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"name check {self.id} {self.status}"


class Terms(models.Model):
    """What a quote prices and its order carries: amounts in integer minor units."""

    payout_method = models.CharField(max_length=16, choices=PayoutMethod.choices)
    send_currency = models.CharField(max_length=3)
    send_minor = models.BigIntegerField()
    fee_minor = models.BigIntegerField()
    receive_currency = models.CharField(max_length=3)
    receive_minor = models.BigIntegerField()

    class Meta:
        abstract = True


class Quote(Terms):
    """A firm price until `expires_at`. Used by at most one order (OneToOne on the order)."""

    id = models.CharField(primary_key=True, max_length=40)
    institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="quotes"
    )
    customer = models.ForeignKey(
        "remittance.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="quotes",
        help_text="the hosted customer it was priced for; only that customer's order may use it",
    )
    corridor = models.ForeignKey(
        "institutions.Corridor", on_delete=models.PROTECT, related_name="+"
    )
    mid_rate = models.DecimalField(max_digits=20, decimal_places=10)
    rate = models.DecimalField(max_digits=20, decimal_places=10, help_text="customer rate")
    fx_rate = models.ForeignKey("settlement.FxRate", on_delete=models.PROTECT, related_name="+")
    delivery_estimate = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(send_minor__gt=0) & Q(receive_minor__gt=0) & Q(fee_minor__gte=0),
                name="quote_amounts",
            )
        ]

    def __str__(self) -> str:
        return self.id


class OrderStatus(models.TextChoices):
    """External states, stable for partners (DESIGN.md §3)."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    CREDITED = "credited"
    SETTLED = "settled"
    HELD = "held"
    REJECTED = "rejected"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    FAILED = "failed"


class RemittanceOrder(Terms):
    id = models.UUIDField(primary_key=True, help_text="chosen by the sender: idempotent")
    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, related_name="order")
    sending_institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="sent_orders"
    )
    receiving_institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="received_orders"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    recipient = models.ForeignKey(
        Recipient, on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    sender_kyc_ref = models.CharField(max_length=40)
    beneficiary_kyc_ref = models.CharField(max_length=40)
    rate = models.DecimalField(max_digits=20, decimal_places=10)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, db_index=True)
    source_account = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="+")
    pending_transfer_id = models.UUIDField(null=True, blank=True)
    payout_reference = models.CharField(max_length=64, blank=True, default="")
    reason_code = models.CharField(max_length=48, blank=True, default="")
    hold_reason = models.CharField(
        max_length=32, blank=True, default="", help_text="screening and/or liquidity, while held"
    )
    submitted_statement_ref = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    submitted_at = models.DateTimeField(
        null=True, blank=True, help_text="when it went to the receiving bank (after any hold)"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    credited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["sending_institution", "updated_at"], name="order_sender_upd"),
            models.Index(fields=["receiving_institution", "updated_at"], name="order_recv_upd"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(send_minor__gt=0) & Q(receive_minor__gt=0) & Q(fee_minor__gte=0),
                name="order_amounts",
            ),
            models.CheckConstraint(
                condition=~Q(status="credited") | ~Q(payout_reference=""),
                name="order_credited_has_payout_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.id} {self.status}"


class OrderStatusChange(models.Model):
    """One row per transition, written by the same transaction (append-only)."""

    order = models.ForeignKey(RemittanceOrder, on_delete=models.PROTECT, related_name="history")
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16)
    actor = models.CharField(max_length=64)
    reason = models.CharField(max_length=200, blank=True, default="")
    statement_ref = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '∅'} → {self.to_status}"
