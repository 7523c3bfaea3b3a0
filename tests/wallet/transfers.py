"""Transfers for the wallet's tests, made through the real services: a recipient, an order
sent from the customer's wallet, and the receiving bank's answers signed with its own key."""

from __future__ import annotations

import copy
import uuid
from decimal import Decimal

from core.money import Money
from kyc import services as kyc
from ledger.services.log import ledger_integrate
from remittance.models import Customer, Recipient, RemittanceOrder
from remittance.services.orders import (
    AnswerRequest,
    SignedStatement,
    order_answer,
    order_reject,
    order_submit,
)
from remittance.services.quotes import quote_create
from tests.kyc.conftest import BENEFICIARY
from tests.remittance.conftest import signed


def recipient_add(customer: Customer, *, hint: str = "••••4567") -> Recipient:
    record = kyc.kyc_record_create(
        owner=customer.institution, role="beneficiary", data=copy.deepcopy(BENEFICIARY)
    )
    return Recipient.objects.create(
        customer=customer, kyc_ref=record.kyc_ref, payout_method="mobile_wallet", payout_hint=hint
    )


def transfer_send(
    customer: Customer, recipient: Recipient, amount: str = "100.00"
) -> RemittanceOrder:
    quote = quote_create(
        institution=customer.institution,
        customer=customer,
        corridor_code="MY-PK",
        payout_method=recipient.payout_method,
        send_amount=Money(Decimal(amount), "MYR"),
    )
    return order_submit(
        sending_institution=customer.institution,
        order_id=uuid.uuid4(),
        quote_id=quote.pk,
        sender_kyc_ref=customer.kyc_ref,
        beneficiary_kyc_ref=recipient.kyc_ref,
        customer=customer,
        recipient=recipient,
    )


def transfer_deliver(corridor, order: RemittanceOrder, payout_reference: str = "EP-1") -> None:
    tmb = corridor.network.tmb
    receive = Money.from_minor(order.receive_minor, "PKR")
    oid = str(order.pk)
    accepted = signed(tmb, "order.accepted", {"order_id": oid})
    order_answer(
        AnswerRequest(
            step="accept",
            institution=tmb.institution,
            order_id=order.pk,
            signed=SignedStatement.from_request(**accepted),
        )
    )
    credited = signed(
        tmb,
        "order.credited",
        {
            "order_id": oid,
            "payout_reference": payout_reference,
            "receive_amount": receive.to_wire(),
        },
    )
    order_answer(
        AnswerRequest(
            step="credit",
            institution=tmb.institution,
            order_id=order.pk,
            payout_reference=payout_reference,
            receive_amount=receive,
            signed=SignedStatement.from_request(**credited),
        )
    )
    ledger_integrate()


def transfer_reject(corridor, order: RemittanceOrder) -> None:
    tmb = corridor.network.tmb
    body = {"order_id": str(order.pk), "reason_code": "beneficiary_account_closed"}
    order_reject(
        institution=tmb.institution,
        order_id=order.pk,
        reason_code="beneficiary_account_closed",
        signed=SignedStatement.from_request(**signed(tmb, "order.rejected", body)),
    )
    ledger_integrate()
