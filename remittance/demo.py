"""Demo people and money for `seed_demo`, the simulator and the benchmarks. Invented data
only: names and numbers that belong to nobody."""

from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model
from django.db import transaction

from institutions.models import Institution
from kyc import services as kyc
from ledger.models import Account, AccountKind
from ledger.services.money import TransferSpec, account_get_or_create, transfers_create_or_raise
from remittance.models import Customer, PayoutMethod, Recipient

GIVEN = ["Ahmad Faisal", "Bilal", "Imran", "Nadia", "Saima", "Tariq", "Usman", "Zainab"]
FAMILY = ["Chaudhry", "Qureshi", "Malik", "Butt", "Awan", "Rana", "Siddiqui", "Mirza"]


def demo_sender(*, owner: Institution, index: int):
    data = {
        "name": {"given": GIVEN[index % 8], "family": FAMILY[index % 8]},
        "date_of_birth": f"19{80 + index % 15}-0{1 + index % 9}-1{index % 9}",
        "place_of_birth": {"city": "Lahore", "country": "PK"},
        "nationality": "PK",
        "address": {
            "line1": f"Unit {index + 1}-2, Jalan Demo {index}",
            "city": "Kuala Lumpur",
            "postcode": "50450",
            "country": "MY",
        },
        "id_documents": [
            {"type": "passport", "number": f"DM{1000000 + index}", "issuing_country": "PK"}
        ],
        "phone": f"+6012{3000000 + index:07d}",
        "account": {
            "type": "wallet",
            "identifier": f"+6012{3000000 + index:07d}",
            "institution": owner.code,
        },
    }
    record = kyc.kyc_record_create(owner=owner, role="sender", data=data)
    return kyc.kyc_record_status_set(
        record=record, status="verified", tier=2, reason="demo customer", actor="system:seed_demo"
    )


def demo_beneficiary(*, owner: Institution, index: int):
    msisdn = f"+92300{4000000 + index:07d}"
    data = {
        "name": {"given": GIVEN[(index + 3) % 8], "family": FAMILY[(index + 5) % 8]},
        "address": {
            "line1": f"House {index + 10}, Demo Mohalla",
            "city": "Lahore",
            "country": "PK",
        },
        "phone": msisdn,
        "account": {"type": "wallet", "identifier": msisdn, "institution": "TMB-PK"},
    }
    return kyc.kyc_record_create(owner=owner, role="beneficiary", data=data)


def fund_account(account: Account, minor: int) -> None:
    """Cash in from outside the network (a bank transfer into the wallet, a prefund wire)."""
    funding = account_get_or_create(
        code=f"funding:external:{account.currency_id}",
        kind=AccountKind.FUNDING,
        currency=account.currency_id,
    )
    transfers_create_or_raise(
        transfers=[
            TransferSpec(
                id=uuid.uuid4(),
                debit_account_id=funding.pk,
                credit_account_id=account.pk,
                amount=minor,
                code="funding",
                reference=account.code,
            )
        ]
    )


@transaction.atomic
def wallet_user_create(*, username: str, password: str, index: int | None = None) -> Customer:
    """A VALYOU-MY wallet user with verified KYC, RM 2,000.00, and one recipient."""
    valyou = Institution.objects.get(code="VALYOU-MY")
    user = get_user_model().objects.create_user(username=username, password=password)
    n = index if index is not None else user.pk
    sender = demo_sender(owner=valyou, index=n)
    wallet = account_get_or_create(
        code=f"wallet:{uuid.uuid4()}:MYR",
        kind=AccountKind.WALLET,
        currency="MYR",
        institution=valyou,
        debits_must_not_exceed_credits=True,
    )
    fund_account(wallet, 200_000)
    customer = Customer.objects.create(
        user=user, institution=valyou, kyc_ref=sender.kyc_ref, wallet=wallet
    )
    beneficiary = demo_beneficiary(owner=valyou, index=n)
    Recipient.objects.create(
        customer=customer,
        kyc_ref=beneficiary.kyc_ref,
        payout_method=PayoutMethod.MOBILE_WALLET,
        payout_hint=f"••••{str(4000000 + n)[-4:]}",
    )
    return customer
