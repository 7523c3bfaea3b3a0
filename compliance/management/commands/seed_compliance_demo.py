"""The compliance console's demo (run by `seed_demo`; safe to run again): one login per role,
the synthetic sample sanctions lists, a set of monitoring rules enabled, and a wallet user
whose transfer to a listed name is held — so the four-eyes release can be tried.

Logins (password `<name>-demo-pass`): ops (operator), compliance (compliance officer),
mlro (MLRO), auditor (auditor), support (partner support)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from compliance import roles

ROLE_USERS = [
    ("ops", roles.OPERATOR),
    ("compliance", roles.OFFICER),
    ("mlro", roles.MLRO),
    ("auditor", roles.AUDITOR),
    ("support", roles.SUPPORT),
]
DEMO_RULES = [
    "sender-amount-day",
    "structuring-3000-day",
    "round-1000",
    "new-recipient-large",
    "history-outlier-10x",
    "fan-in-day",
    "fan-out-day",
    "near-miss",
]
HELD_USER = "hamza"
LISTED_NAME = {"given": "Mohammed Abdulrahman", "family": "Qurayshi"}  # a sample-list alias


class Command(BaseCommand):
    help = "Demo logins per role, sample sanctions lists, rules and a held transfer."

    def handle(self, *args: Any, **options: Any) -> None:
        self._users()
        self._lists()
        self._rules()
        self._held_transfer()

    def _users(self) -> None:
        User = get_user_model()
        for username, role in ROLE_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created or not user.has_usable_password():
                user.set_password(f"{username}-demo-pass")
            user.is_staff, user.is_superuser = True, False
            user.save()
            # exactly the role: the older KYC-only `compliance` group (kyc/0003) would give
            # the officer erasure, which is the MLRO's
            user.groups.set([Group.objects.get(name=role)])
            if created:
                self.stdout.write(f"user {username} / {username}-demo-pass ({role})")

    def _lists(self) -> None:
        from kyc.models import ScreeningImport
        from kyc.services import screening_list_import

        if ScreeningImport.objects.exists():
            return
        samples = Path(__file__).resolve().parents[3] / "kyc" / "samples"
        un = screening_list_import(
            fmt="un-xml",
            content=(samples / "un_consolidated.xml").read_bytes(),
            actor="system:seed_demo",
        )
        ofac = screening_list_import(
            fmt="ofac-csv",
            content=(samples / "ofac_sdn.csv").read_bytes(),
            alt_content=(samples / "ofac_alt.csv").read_bytes(),
            actor="system:seed_demo",
        )
        self.stdout.write(
            f"sanctions lists: synthetic UN sample ({un.entries}), OFAC sample ({ofac.entries})"
        )

    def _rules(self) -> None:
        from compliance.models import Rule
        from compliance.services.rules import rule_save

        if Rule.objects.filter(enabled=True).exists():
            return  # the operator's choice stands
        for rule in Rule.objects.filter(code__in=DEMO_RULES):
            rule.enabled = True
            rule_save(rule=rule, actor="system:seed_demo", created=False)
        self.stdout.write(f"monitoring: {len(DEMO_RULES)} rules enabled")

    def _held_transfer(self) -> None:
        from core.money import Money
        from kyc import services as kyc
        from remittance.demo import wallet_user_create
        from remittance.models import PayoutMethod, Recipient
        from remittance.services.orders import order_submit
        from remittance.services.quotes import quote_create

        if get_user_model().objects.filter(username=HELD_USER).exists():
            return
        customer = wallet_user_create(username=HELD_USER, password=f"{HELD_USER}-demo-pass")
        listed = kyc.kyc_record_create(
            owner=customer.institution,
            role="beneficiary",
            data={
                "name": LISTED_NAME,
                "address": {"line1": "House 7, Demo Colony", "city": "Multan", "country": "PK"},
                "phone": "+923009990001",
                "account": {
                    "type": "wallet",
                    "identifier": "+923009990001",
                    "institution": "TMB-PK",
                },
            },
        )
        recipient = Recipient.objects.create(
            customer=customer,
            kyc_ref=listed.kyc_ref,
            payout_method=PayoutMethod.MOBILE_WALLET,
            payout_hint="••••0001",
        )
        quote = quote_create(
            institution=customer.institution,
            customer=customer,
            corridor_code="MY-PK",
            payout_method=recipient.payout_method,
            send_amount=Money.parse("500.00", "MYR"),
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
        self.stdout.write(
            f"wallet user {HELD_USER} / {HELD_USER}-demo-pass: RM 500.00 to a listed name, "
            f"order {order.pk} is {order.status} ({order.hold_reason})"
        )
