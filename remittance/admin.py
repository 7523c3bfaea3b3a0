"""Orders for operations and compliance staff: history, held orders (release or reject with a
reason, audited through the status-change rows and the ledger)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import DomainError
from institutions.admin_base import staff_actor
from remittance.models import (
    CorridorPricing,
    Customer,
    OrderStatusChange,
    Quote,
    Recipient,
    RemittanceOrder,
)
from remittance.services.orders import order_hold_decide


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
    list_display = (
        "id",
        "status",
        "sending_institution",
        "receiving_institution",
        "send_minor",
        "send_currency",
        "created_at",
        "updated_at",
    )
    list_filter = ("status", "sending_institution", "receiving_institution")
    search_fields = ("=id", "=payout_reference", "=sender_kyc_ref", "=beneficiary_kyc_ref")
    inlines = [StatusChangeInline]
    actions = ["release_held", "reject_held"]
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _decide(self, request: HttpRequest, queryset: QuerySet, release: bool) -> None:
        reason = request.POST.get("reason") or (
            "released after review" if release else "rejected after review"
        )
        for order in queryset:
            try:
                order_hold_decide(
                    order_id=order.pk,
                    release=release,
                    actor=staff_actor(request),
                    reason=reason,
                )
            except DomainError as exc:
                self.message_user(request, f"{order.pk}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, f"{order.pk}: {'released' if release else 'rejected'}")

    @admin.action(description="Release held orders to the receiving bank")
    def release_held(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, release=True)

    @admin.action(description="Reject held orders and refund the sender")
    def reject_held(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, release=False)


@admin.register(Quote)
class QuoteAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "institution",
        "send_minor",
        "send_currency",
        "receive_minor",
        "receive_currency",
        "rate",
        "expires_at",
    )
    list_filter = ("institution",)

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
