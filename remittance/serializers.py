from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.money import (
    AMOUNT_PATTERN,
    CURRENCY_PATTERN,
    ISO4217,
    Money,
    MoneyError,
    money_wire,
    rate_str,
)
from kyc.serializers import KycRefField
from remittance.models import OrderStatus, PayoutMethod, Quote, RemittanceOrder


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            "amount": {"type": "string", "pattern": AMOUNT_PATTERN, "example": "1000.00"},
            "currency": {
                "type": "string",
                "pattern": CURRENCY_PATTERN,
                "enum": sorted(ISO4217),
                "example": "MYR",
            },
        },
        "required": ["amount", "currency"],
        "additionalProperties": False,
    }
)
class MoneyField(serializers.Field):
    """`{"amount": "1000.00", "currency": "MYR"}` ↔ Money. Never a float."""

    default_error_messages = {
        "invalid": 'expected {{"amount": "<decimal string>", "currency": "<ISO 4217>"}}: {reason}'
    }

    def to_internal_value(self, data: Any) -> Money:
        if not isinstance(data, dict) or set(data) != {"amount", "currency"}:
            self.fail("invalid", reason="an object with amount and currency")
        if not isinstance(data["amount"], str) or not isinstance(data["currency"], str):
            self.fail("invalid", reason="amount must be a decimal string")
        try:
            return Money.parse(data["amount"], data["currency"])
        except MoneyError as exc:
            self.fail("invalid", reason=str(exc))

    def to_representation(self, value: Money) -> dict[str, str]:
        return value.to_wire()


class QuoteIn(serializers.Serializer):
    exactly_one_of = ("send_amount", "receive_amount")  # the OpenAPI schema says so too

    corridor = serializers.CharField(max_length=16, default="MY-PK")
    payout_method = serializers.ChoiceField(choices=PayoutMethod.choices)
    send_amount = MoneyField(required=False)
    receive_amount = MoneyField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if sum(name in attrs for name in self.exactly_one_of) != 1:
            raise serializers.ValidationError("give exactly one of send_amount, receive_amount")
        return attrs


def quote_out(quote: Quote) -> dict[str, Any]:
    return {
        "id": quote.id,
        "corridor": quote.corridor.code,
        "payout_method": quote.payout_method,
        "send_amount": money_wire(quote.send_minor, quote.send_currency),
        "fee": money_wire(quote.fee_minor, quote.send_currency),
        "total_to_pay": money_wire(quote.send_minor + quote.fee_minor, quote.send_currency),
        "receive_amount": money_wire(quote.receive_minor, quote.receive_currency),
        "rate": rate_str(quote.rate),
        "mid_rate": rate_str(quote.mid_rate),
        "expires_at": quote.expires_at.isoformat().replace("+00:00", "Z"),
        "delivery_estimate": quote.delivery_estimate,
        "created_at": quote.created_at.isoformat().replace("+00:00", "Z"),
    }


class QuoteOut(serializers.Serializer):
    id = serializers.CharField()
    corridor = serializers.CharField()
    payout_method = serializers.CharField()
    send_amount = serializers.DictField(child=serializers.CharField())
    fee = serializers.DictField(child=serializers.CharField())
    total_to_pay = serializers.DictField(child=serializers.CharField())
    receive_amount = serializers.DictField(child=serializers.CharField())
    rate = serializers.CharField()
    mid_rate = serializers.CharField()
    expires_at = serializers.DateTimeField()
    delivery_estimate = serializers.CharField()
    created_at = serializers.DateTimeField()


class SignedIn(serializers.Serializer):
    statement = serializers.DictField(help_text="the ledger statement the caller signed")
    signature = serializers.CharField(help_text="base64 Ed25519 signature over it (§4)")


# A quote id as the hub issues it (remittance/services/quotes.py): any other string is not found.
QUOTE_ID_PATTERN = r"^qt_[0-9a-f]{24}$"


@extend_schema_field({"type": "string", "pattern": QUOTE_ID_PATTERN})
class QuoteIdField(serializers.CharField):
    pass


class OrderIn(SignedIn):
    order_id = serializers.UUIDField(help_text="chosen by the sender; retries reuse it")
    quote_id = QuoteIdField(max_length=40)
    sender_kyc_ref = KycRefField(max_length=40)
    beneficiary_kyc_ref = KycRefField(max_length=40)


class RejectIn(SignedIn):
    reason_code = serializers.RegexField(r"^[a-z][a-z0-9_]{1,47}$")


class CreditIn(SignedIn):
    payout_reference = serializers.CharField(max_length=64)
    receive_amount = MoneyField()


def order_out(order: RemittanceOrder) -> dict[str, Any]:
    def stamp(value: Any) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value else None

    return {
        "id": str(order.id),
        "status": order.status,
        "quote_id": order.quote_id,
        "sending_institution": order.sending_institution.code,
        "receiving_institution": order.receiving_institution.code,
        "payout_method": order.payout_method,
        "send_amount": money_wire(order.send_minor, order.send_currency),
        "fee": money_wire(order.fee_minor, order.send_currency),
        "receive_amount": money_wire(order.receive_minor, order.receive_currency),
        "rate": rate_str(order.rate),
        "sender_kyc_ref": order.sender_kyc_ref,
        "beneficiary_kyc_ref": order.beneficiary_kyc_ref,
        "payout_reference": order.payout_reference or None,
        "reason_code": order.reason_code or None,
        "created_at": stamp(order.created_at),
        "updated_at": stamp(order.updated_at),
        "accepted_at": stamp(order.accepted_at),
        "credited_at": stamp(order.credited_at),
    }


class OrderOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    quote_id = serializers.CharField()
    sending_institution = serializers.CharField()
    receiving_institution = serializers.CharField()
    payout_method = serializers.CharField()
    send_amount = serializers.DictField(child=serializers.CharField())
    fee = serializers.DictField(child=serializers.CharField())
    receive_amount = serializers.DictField(child=serializers.CharField())
    rate = serializers.CharField()
    sender_kyc_ref = serializers.CharField()
    beneficiary_kyc_ref = serializers.CharField()
    payout_reference = serializers.CharField(allow_null=True)
    reason_code = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    credited_at = serializers.DateTimeField(allow_null=True)


class OrderListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    since = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False, max_length=200)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


class OrderPage(serializers.Serializer):
    results = OrderOut(many=True)
    next = serializers.CharField(allow_null=True)
