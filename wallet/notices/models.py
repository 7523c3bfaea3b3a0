"""Notices to customers. A notice points at an order or a KYC status change; its words are
rendered when shown or sent, in the reader's language, so nothing here needs translating."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class NoticeKind(models.TextChoices):
    DELIVERED = "delivered", "delivered"
    REFUNDED = "refunded", "refunded"
    NEEDS_INFO = "needs_info", "needs information"


class Notification(models.Model):
    """An in-app notice (and the e-mail sent with it) about one event for one customer.

    One per (user, kind, order) — an order is delivered or refunded once — and one per KYC
    status change, so a repeated hook or a retried task never notifies twice."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallet_notifications"
    )
    kind = models.CharField(max_length=16, choices=NoticeKind.choices)
    order = models.ForeignKey(
        "remittance.RemittanceOrder",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    kyc_change_id = models.BigIntegerField(
        null=True, blank=True, help_text="the KYC status change this notice is about"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "order"],
                condition=models.Q(order__isnull=False),
                name="wallet_notice_once_per_order",
            ),
            models.UniqueConstraint(
                fields=["user", "kyc_change_id"],
                condition=models.Q(kyc_change_id__isnull=False),
                name="wallet_notice_once_per_kyc_change",
            ),
        ]
        indexes = [
            models.Index(
                fields=["user"],
                condition=models.Q(read_at__isnull=True),
                name="wallet_notice_unread",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id}"
