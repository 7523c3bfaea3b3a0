"""Admin for the money ledger: read-only by design.

Balances change only through `ledger.services.money` (under account locks, with a signed
statement), and transfers are immutable (database triggers), so the admin may look and search
but never add, change or delete. Importing this module registers both admins.
"""

from __future__ import annotations

from django.contrib import admin

from core.money import Money
from institutions.admin_base import ReadOnlyAdmin
from ledger.models import Account, Transfer


def _money(minor: int, currency: str) -> str:
    """Minor units as the admin shows money: major units with the currency."""
    return str(Money.from_minor(minor, currency))


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = (
        "code",
        "kind",
        "currency",
        "institution",
        "balance",
        "reserved",
        "available_money",
        "flags",
        "created_at",
    )
    list_filter = ("kind", "currency", "debits_must_not_exceed_credits", "institution")
    search_fields = ("code", "institution__code")
    list_select_related = ("institution",)
    show_full_result_count = False
    readonly_fields = (
        "code",
        "kind",
        "currency",
        "institution",
        "debits_must_not_exceed_credits",
        "credits_must_not_exceed_debits",
        "debits_pending_money",
        "debits_posted_money",
        "credits_pending_money",
        "credits_posted_money",
        "balance",
        "available_money",
        "created_at",
    )

    @admin.display(description="balance (posted)")
    def balance(self, obj: Account) -> str:
        return _money(obj.balance_posted, obj.currency_id)

    @admin.display(description="reserved (pending debits)")
    def reserved(self, obj: Account) -> str:
        return _money(obj.debits_pending, obj.currency_id)

    @admin.display(description="available")
    def available_money(self, obj: Account) -> str:
        return _money(obj.available, obj.currency_id)

    @admin.display(description="debits pending")
    def debits_pending_money(self, obj: Account) -> str:
        return _money(obj.debits_pending, obj.currency_id)

    @admin.display(description="debits posted")
    def debits_posted_money(self, obj: Account) -> str:
        return _money(obj.debits_posted, obj.currency_id)

    @admin.display(description="credits pending")
    def credits_pending_money(self, obj: Account) -> str:
        return _money(obj.credits_pending, obj.currency_id)

    @admin.display(description="credits posted")
    def credits_posted_money(self, obj: Account) -> str:
        return _money(obj.credits_posted, obj.currency_id)

    @admin.display(description="flags")
    def flags(self, obj: Account) -> str:
        if obj.debits_must_not_exceed_credits:
            return "no overdraft"
        if obj.credits_must_not_exceed_debits:
            return "credits ≤ debits"
        return ""


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "debit_account",
        "credit_account",
        "amount_money",
        "code",
        "reference",
        "pending",
        "expires_at",
        "created_at",
    )
    list_filter = ("kind", "currency", "code")
    # Exact lookups on indexed columns only: the table is large and append-only.
    search_fields = (
        "=id",
        "=reference",
        "=pending__id",
        "=debit_account__code",
        "=credit_account__code",
    )
    list_select_related = ("debit_account", "credit_account")
    show_full_result_count = False
    date_hierarchy = "created_at"
    readonly_fields = (
        "id",
        "kind",
        "debit_account",
        "credit_account",
        "amount_money",
        "pending",
        "expires_at",
        "code",
        "reference",
        "linked_group",
        "created_at",
    )

    @admin.display(description="amount")
    def amount_money(self, obj: Transfer) -> str:
        return _money(obj.amount, obj.currency_id)
