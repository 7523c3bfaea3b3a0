"""A priced MY→PK corridor with verified KYC parties, a funded partner (with a generous liquidity
limit) and a hosted wallet."""

from __future__ import annotations

import base64
import copy
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from core.money import Money
from institutions import services as inst
from kyc import services as kyc
from ledger.models import AccountKind
from ledger.services.accounts import account_open, prefund
from ledger.services.log import ledger_integrate
from ledger.services.money import TransferSpec, account_get_or_create, transfers_create_or_raise
from partner_sdk.wire import format_time, make_statement, sign_statement
from remittance.models import CorridorPricing, Customer
from settlement.rates import fx_rate_record
from settlement.services.liquidity import liquidity_limit_set
from tests.kyc.conftest import BENEFICIARY, SENDER


@dataclass
class Corridor:
    network: object
    sender_ref: str
    beneficiary_ref: str
    customer: Customer | None = None


def signed(member, kind: str, body: dict) -> dict:
    from datetime import UTC, datetime

    statement = make_statement(
        kind=kind,
        at=format_time(datetime.now(UTC)),
        signer=member.code,
        key_id=member.key_id,
        body=body,
    )
    return {
        "statement": statement,
        "signature": base64.b64encode(sign_statement(member.private_key, statement)).decode(),
    }


def fund(account, minor: int, currency: str = "MYR") -> None:
    funding = account_get_or_create(
        code=f"funding:test:{currency}", kind=AccountKind.FUNDING, currency=currency
    )
    transfers_create_or_raise(
        transfers=[
            TransferSpec(
                id=uuid.uuid4(),
                debit_account_id=funding.pk,
                credit_account_id=account.pk,
                amount=minor,
            )
        ]
    )


def verified_sender(owner, data=None):
    record = kyc.kyc_record_create(owner=owner, role="sender", data=copy.deepcopy(data or SENDER))
    return kyc.kyc_record_status_set(
        record=record, status="verified", reason="documents checked", actor="staff:test", tier=2
    )


@pytest.fixture
def corridor(network) -> Corridor:
    opened = inst.corridor_open(
        code="MY-PK",
        source_country="MY",
        destination_country="PK",
        source_currency="MYR",
        destination_currency="PKR",
    )
    CorridorPricing.objects.create(
        corridor=opened,
        receiving_institution=network.tmb.institution,
        margin_bps=100,
        fee_fixed_minor=500,
        fee_bps=50,
        min_send_minor=1000,
        max_send_minor=1_000_000,
        payout_methods=["mobile_wallet", "bank_account"],
        quote_ttl_seconds=1800,
    )
    fx_rate_record(base="MYR", quote="PKR", rate=Decimal("63.5"), source="test")
    fx_rate_record(base="MYR", quote="USD", rate=Decimal("0.2264"), source="test")
    sender = verified_sender(network.partner.institution)
    beneficiary = kyc.kyc_record_create(
        owner=network.partner.institution, role="beneficiary", data=copy.deepcopy(BENEFICIARY)
    )
    fund(account_open(prefund(network.partner.institution, "MYR")), 10_000_000)
    # an external sender needs a limit (LIQUIDITY_REQUIRE_LIMIT); this one is far above what any
    # test sends, so it never alerts: tests about limits set their own
    liquidity_limit_set(
        institution=network.partner.institution, amount=Money.parse("10000000.00", "MYR")
    )
    ledger_integrate()
    return Corridor(network=network, sender_ref=sender.kyc_ref, beneficiary_ref=beneficiary.kyc_ref)


@pytest.fixture
def wallet_customer(corridor):
    """A VALYOU-MY wallet user with RM 500.00 in the wallet."""
    network = corridor.network
    user = get_user_model().objects.create_user("aisha", password="pw-aisha-123")
    record = verified_sender(network.valyou.institution)
    wallet = account_get_or_create(
        code=f"wallet:{uuid.uuid4()}:MYR",
        kind=AccountKind.WALLET,
        currency="MYR",
        institution=network.valyou.institution,
        debits_must_not_exceed_credits=True,
    )
    fund(wallet, 50_000)
    customer = Customer.objects.create(
        user=user, institution=network.valyou.institution, kyc_ref=record.kyc_ref, wallet=wallet
    )
    corridor.customer = customer
    return customer
