"""What an order's parties are told by webhook (after commit, by the webhook app's worker)."""

from __future__ import annotations

from typing import Any

from core.money import money_wire
from institutions.models import Institution
from remittance.models import RemittanceOrder
from webhooks.services import webhook_events_publish


def webhook_data(order: RemittanceOrder, **changes: Any) -> dict[str, Any]:
    """Ids, state and amounts — never PII (the beneficiary is a KYC reference)."""
    return {
        "order_id": str(order.id),
        "status": order.status,
        "sending_institution": order.sending_institution.code,
        "receiving_institution": order.receiving_institution.code,
        "send_amount": money_wire(order.send_minor, order.send_currency),
        "receive_amount": money_wire(order.receive_minor, order.receive_currency),
        "beneficiary_kyc_ref": order.beneficiary_kyc_ref,
        "payout_method": order.payout_method,
        **changes,
    }


def order_publish(order: RemittanceOrder, event: str, *to: Institution) -> None:
    """Tell each of `to` (once each) about `event` on this order."""
    data = webhook_data(order)
    webhook_events_publish([(institution, event, data) for institution in dict.fromkeys(to)])
