"""Wallet demo data for `seed_demo`, so every screen has something to show: a customer
half-way through onboarding (compliance asked for more information) and a customer with a few
past transfers (submitted here; the worker and the TMB-PK simulator deliver them once
`make run` starts, and one is cancelled and refunded). Invented people only."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from core.money import Money
from kyc import services as kyc
from kyc.validation import DocumentUpload
from ledger.models import Account
from remittance.demo import fund_account
from remittance.models import Customer, Recipient
from remittance.services.orders import order_cancel, order_submit
from remittance.services.quotes import quote_create
from wallet import services
from wallet.models import WalletProfile

ONBOARDING = ("nadia@example.com", "nadia-demo-pass")
NEEDS_INFO_REASON = (
    "The photo of your passport is blurred. Send a sharper photo of the page with your photo."
)
# A one-pixel PNG: the demo's "passport scan".
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def customer_mid_onboarding() -> Customer | None:
    """nadia@example.com: signed up, e-mail confirmed, identity sent, and compliance asked for
    a sharper passport photo (needs_info). None if she exists already."""
    username, password = ONBOARDING
    if get_user_model().objects.filter(username=username).exists():
        return None
    customer = services.customer_sign_up(
        username=username, channel=WalletProfile.Channel.EMAIL, password=password
    )
    WalletProfile.objects.filter(user=customer.user).update(contact_verified_at=customer.created_at)
    record = services.customer_kyc_submit(
        customer=customer,
        data={
            "name": {"given": "Nadia", "family": "Aslam", "original_script": "نادیہ اسلم"},
            "date_of_birth": "1996-05-21",
            "nationality": "PK",
            "address": {
                "line1": "Unit 7-2, Jalan Demo 12",
                "city": "Shah Alam",
                "region": "Selangor",
                "postcode": "40000",
                "country": "MY",
            },
            "id_documents": [
                {
                    "type": "passport",
                    "number": "DN7301552",
                    "issuing_country": "PK",
                    "expiry_date": "2031-05-20",
                }
            ],
            "phone": "+60123000777",
            "occupation": "Nurse",
            "source_of_funds": "salary",
        },
        documents=[
            DocumentUpload(
                kind="passport_scan", content_type="image/png", content=PNG, filename="p.png"
            )
        ],
    )
    kyc.kyc_record_status_set(
        record=record, status="needs_info", reason=NEEDS_INFO_REASON, actor="system:seed_demo"
    )
    return customer


def past_transfers(*, customer: Customer) -> int:
    """Three transfers to the customer's first recipient and one cancelled (refunded); none if
    the customer has any already. Returns how many were made."""
    if customer.orders.exists():
        return 0
    recipient = Recipient.objects.filter(customer=customer, removed_at__isnull=True).first()
    if recipient is None:
        return 0
    if customer.wallet_id is None:
        return 0
    wallet = Account.objects.get(pk=customer.wallet_id)
    fund_account(wallet, 50_000)  # the RM 500.00 these use, so the balance stays RM 2,000.00
    made = 0
    for amount in ("150.00", "80.00", "100.00", "50.00"):
        with transaction.atomic():
            quote = quote_create(
                institution=customer.institution,
                customer=customer,
                corridor_code="MY-PK",
                payout_method=recipient.payout_method,
                send_amount=Money(Decimal(amount), "MYR"),
            )
        order = order_submit(
            sending_institution=customer.institution,
            order_id=uuid.uuid4(),
            quote_id=quote.pk,
            sender_kyc_ref=customer.kyc_ref,
            beneficiary_kyc_ref=recipient.kyc_ref,
            customer=customer,
            recipient=recipient,
        )
        made += 1
        if amount == "50.00":
            order_cancel(
                order_id=order.pk,
                sending_institution=customer.institution,
                actor=f"customer:{customer.pk}",
            )
    return made
