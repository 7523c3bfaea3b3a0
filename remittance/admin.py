"""Orders for operations and compliance staff: history and status changes, money in major
units. Held orders are decided with four eyes (compliance/admin.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.money import Money
from remittance.models import (
    CorridorPricing,
    Customer,
    OrderStatusChange,
    Quote,
    Recipient,
    RemittanceOrder,
)


class StatusChangeInline(admin.TabularInline):
    model = OrderStatusChange
    fields = ("created_at", "from_status", "to_status", "actor", "reason", "statement_ref")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RemittanceOrder)
class RemittanceOrderAdmin(admin.ModelAdmin):
    """Read-only (no Save): a held order is released or rejected through a four-eyes
    proposal (compliance/admin.py adds those actions)."""

    list_display = (
        "id",
        "status",
        "hold_reason",
        "sending_institution",
        "receiving_institution",
        "send",
        "receive",
        "created_at",
        "updated_at",
    )
    list_filter = ("status", "hold_reason", "sending_institution", "receiving_institution")
    search_fields = ("=id", "=payout_reference", "=sender_kyc_ref", "=beneficiary_kyc_ref")
    inlines = [StatusChangeInline]
    show_full_result_count = False
    fields = (
        "id",
        "status",
        "hold_reason",
        "reason_code",
        "sending_institution",
        "receiving_institution",
        "send",
        "fee",
        "receive",
        "rate",
        "payout_method",
        "payout_reference",
        "sender_kyc_ref",
        "beneficiary_kyc_ref",
        "customer",
        "recipient",
        "quote",
        "source_account",
        "pending_transfer_id",
        "submitted_statement_ref",
        "created_at",
        "submitted_at",
        "accepted_at",
        "credited_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description="sends", ordering="send_minor")
    def send(self, obj: RemittanceOrder) -> str:
        return str(Money.from_minor(obj.send_minor, obj.send_currency))

    @admin.display(description="fee")
    def fee(self, obj: RemittanceOrder) -> str:
        return str(Money.from_minor(obj.fee_minor, obj.send_currency))

    @admin.display(description="recipient gets", ordering="receive_minor")
    def receive(self, obj: RemittanceOrder) -> str:
        return str(Money.from_minor(obj.receive_minor, obj.receive_currency))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Quote)
class QuoteAdmin(admin.ModelAdmin):
    list_display = ("id", "institution", "send", "fee", "receive", "rate", "expires_at")
    list_filter = ("institution",)

    @admin.display(description="sends")
    def send(self, obj: Quote) -> str:
        return str(Money.from_minor(obj.send_minor, obj.send_currency))

    @admin.display(description="fee")
    def fee(self, obj: Quote) -> str:
        return str(Money.from_minor(obj.fee_minor, obj.send_currency))

    @admin.display(description="recipient gets")
    def receive(self, obj: Quote) -> str:
        return str(Money.from_minor(obj.receive_minor, obj.receive_currency))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CorridorPricing)
class CorridorPricingAdmin(admin.ModelAdmin):
    list_display = (
        "corridor",
        "receiving_institution",
        "margin_bps",
        "fee_fixed_minor",
        "fee_bps",
        "min_send_minor",
        "max_send_minor",
    )


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "institution", "kyc_ref", "created_at")
    readonly_fields = ("wallet",)


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    list_display = ("id", "customer", "kyc_ref", "payout_method", "payout_hint")
