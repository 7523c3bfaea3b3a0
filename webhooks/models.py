"""Webhook endpoints, deliveries and their attempts (DESIGN.md §6, Standard Webhooks).

A delivery is one message to one endpoint. Its `message_id` is the `webhook-id` header and
never changes across retries, so receivers can dedupe on it; `payload` holds the exact bytes
sent every time. Deliveries outlive their endpoint (SET_NULL, with the URL copied) so the
audit trail survives an endpoint being deleted. Every attempt is a row: status code or error
class, latency, a response excerpt. Writes live in `webhooks.services`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from institutions.models import Institution

RESPONSE_EXCERPT_CHARS = 500


class WebhookEndpoint(models.Model):
    """Where an institution receives events. The `whsec_` secret is wrapped by the KEK (the hub
    must be able to sign with it, so a hash would not do)."""

    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    wrapped_secret = models.BinaryField()
    event_types = models.JSONField(
        default=list, blank=True, help_text="Event types to deliver; empty means all."
    )
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "institutions_webhookendpoint"  # the table predates the app
        ordering = ["institution_id", "pk"]

    def __str__(self) -> str:
        return f"{self.institution_id} → {self.url}"

    def wants(self, event_type: str) -> bool:
        return self.enabled and (not self.event_types or event_type in self.event_types)


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    message_id = models.CharField(
        max_length=40, unique=True, help_text="`webhook-id` header; stable across retries."
    )
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="webhook_deliveries"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    url = models.CharField(max_length=500, help_text="The endpoint's URL when this was queued.")
    event_type = models.CharField(max_length=64)
    payload = models.TextField(help_text="The exact JSON body sent on every attempt.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    retry_step = models.PositiveSmallIntegerField(
        default=0, help_text="Failed attempts since the schedule (re)started; a replay resets it."
    )
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When a sender may claim it next; set iff pending."
    )
    outcome = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "institutions_webhookdelivery"
        ordering = ["-pk"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["institution", "-created_at"], name="webhook_delivery_inst"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "delivered", "failed"]),
                name="webhook_delivery_status",
            ),
            models.CheckConstraint(
                condition=Q(status="pending", next_attempt_at__isnull=False)
                | (~Q(status="pending") & Q(next_attempt_at__isnull=True)),
                name="webhook_delivery_due_iff_pending",
            ),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(delivered_at__isnull=False),
                name="webhook_delivery_delivered_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.event_type} → {self.institution_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt: `status_code` when the receiver answered, else `error` (exception
    class, e.g. ConnectError, ReadTimeout)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField(help_text="1-based, over the delivery's life.")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=100, blank=True)
    latency_ms = models.PositiveIntegerField()
    response_excerpt = models.CharField(max_length=RESPONSE_EXCERPT_CHARS, blank=True)

    class Meta:
        db_table = "institutions_webhookattempt"
        ordering = ["delivery_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number"),
            models.CheckConstraint(
                condition=Q(status_code__isnull=False) | ~Q(error=""),
                name="webhook_attempt_has_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id}#{self.number} {self.status_code or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
