"""Demo network: the operator, a hosted sending institution, an external sending partner (with
its prefunding and liquidity limit), an external receiving bank, the MY→PK corridor and demo
logins. Safe to run again.

For each external institution writes var/demo/<CODE>.json — what a partner bank is handed at
onboarding: {"institution", "hub_url", "api_key", "signing_key", "key_id", "webhook_secret",
"kyc_private_key", "log_key"} — and registers it as a witness of the log (`log_key` is the
operator's checkpoint key its witness pins).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from institutions import services as inst
from institutions.crypto import ed25519_private_raw
from institutions.models import Corridor, Institution, SigningKey
from ledger.services.log import ledger_integrate
from webhooks import services as hooks
from webhooks.models import WebhookEndpoint

INSTITUTIONS: list[dict[str, Any]] = [
    {
        "code": "HUB",
        "name": "Remit Network Hub",
        "country": "MY",
        "currency": "MYR",
        "is_operator": True,
        "hosted": True,
    },
    {
        "code": "VALYOU-MY",
        "name": "Valyou Remittance (demo)",
        "country": "MY",
        "currency": "MYR",
        "is_sending": True,
        "hosted": True,
    },
    {
        "code": "PARTNER-MY",
        "name": "Partner Remit Malaysia (demo)",
        "country": "MY",
        "currency": "MYR",
        "is_sending": True,
        "hosted": False,
        "webhook_port": 8101,
    },
    {
        "code": "TMB-PK",
        "name": "Telenor Microfinance Bank / Easypaisa (demo)",
        "country": "PK",
        "currency": "PKR",
        "is_receiving": True,
        "hosted": False,
        "webhook_port": 8100,
    },
]

DEMO_USERS = [
    # username, password, is_superuser, is_staff
    ("operator", "operator-demo-pass", True, True),
    ("compliance", "compliance-demo-pass", False, True),
]


class Command(BaseCommand):
    help = "Create (or complete) the demo network. Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        demo_dir = Path(settings.VAR_DIR) / "demo"
        demo_dir.mkdir(parents=True, exist_ok=True)
        for spec in INSTITUTIONS:
            self._institution(spec, demo_dir)
        if not Corridor.objects.filter(code="MY-PK").exists():
            inst.corridor_open(
                code="MY-PK",
                source_country="MY",
                destination_country="PK",
                source_currency="MYR",
                destination_currency="PKR",
            )
            self.stdout.write("corridor MY-PK opened (MYR → PKR)")
        self._users()
        self._pricing_and_rates()
        self._partner_customers(demo_dir)
        self._partner_liquidity()
        self._wallet_users()
        integrated = ledger_integrate()
        self.stdout.write(f"ledger: {integrated} statement(s) integrated")
        self._witnesses(demo_dir)
        # the compliance console's demo (logins per role, sample lists, a held transfer): by
        # name, since remittance may not import compliance (DESIGN.md §2)
        call_command("seed_compliance_demo", stdout=self.stdout)
        ledger_integrate()
        self.stdout.write(self.style.SUCCESS("demo network ready"))

    def _institution(self, spec: dict[str, Any], demo_dir: Path) -> None:
        spec = dict(spec)
        port = spec.pop("webhook_port", None)
        code = spec["code"]
        credentials_file = demo_dir / f"{code}.json"
        institution = Institution.objects.filter(code=code).first()
        if institution is not None and (spec["hosted"] or self._file_valid(credentials_file)):
            self.stdout.write(f"{code}: exists")
            return
        with transaction.atomic():
            if institution is None:
                new = inst.institution_create(**spec)
                institution = new.signing_key.institution
                self.stdout.write(f"{code}: created, key {new.signing_key.key_id}")
            else:
                new = inst.signing_key_rotate(institution=institution)
                self.stdout.write(f"{code}: onboarding file missing; key rotated")
            if spec["hosted"]:
                return
            assert new.private_key is not None
            _, api_key = inst.api_credential_create(institution=institution, label="demo")
            WebhookEndpoint.objects.filter(institution=institution).delete()
            _, secret = hooks.webhook_endpoint_create(
                institution=institution,
                url=f"http://{os.environ.get('DEMO_SIMULATOR_HOST', '127.0.0.1')}:{port}/webhooks",
            )
            from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

            sealing = X25519PrivateKey.generate()
            institution.x25519_public_key = sealing.public_key().public_bytes_raw()
            institution.save(update_fields=["x25519_public_key"])
            payload = {
                "institution": code,
                "hub_url": settings.HUB_URL,
                "api_key": api_key,
                "signing_key": base64.b64encode(ed25519_private_raw(new.private_key)).decode(),
                "key_id": new.signing_key.key_id,
                "webhook_secret": secret,
                # X25519 key KYC records are sealed to when shared with this bank (§5)
                "kyc_private_key": base64.b64encode(sealing.private_bytes_raw()).decode(),
            }
            credentials_file.write_text(json.dumps(payload, indent=2) + "\n")
            credentials_file.chmod(0o600)
            self.stdout.write(f"{code}: onboarding file {credentials_file}")

    def _pricing_and_rates(self) -> None:
        from remittance.models import CorridorPricing
        from settlement.rates import fx_rates_refresh

        corridor = Corridor.objects.get(code="MY-PK")
        CorridorPricing.objects.get_or_create(
            corridor=corridor,
            defaults={
                "receiving_institution": Institution.objects.get(code="TMB-PK"),
                "margin_bps": 100,
                "fee_fixed_minor": 500,
                "fee_bps": 50,
                "min_send_minor": 1_000,
                "max_send_minor": 1_000_000,
                "payout_methods": ["mobile_wallet", "bank_account"],
                "quote_ttl_seconds": 1800,
                "delivery_estimate": "within seconds",
            },
        )
        fx_rates_refresh()
        self.stdout.write("MY-PK pricing: 1% margin, RM 5.00 + 0.5% fee; FX rates refreshed")

    def _partner_customers(self, demo_dir: Path) -> None:
        """KYC'd demo customers of PARTNER-MY (refs only, for the simulator and benchmarks)
        and RM 10,000,000.00 of prefunding."""
        from kyc.models import KycRecord
        from ledger.services.accounts import account_open, prefund
        from remittance.demo import demo_beneficiary, demo_sender, fund_account

        path = demo_dir / "PARTNER-MY.customers.json"
        partner = Institution.objects.get(code="PARTNER-MY")
        if path.exists():
            refs = json.loads(path.read_text())
            if KycRecord.objects.filter(kyc_ref__in=[r["sender_kyc_ref"] for r in refs]).count():
                return
        refs = []
        for i in range(5):
            sender = demo_sender(owner=partner, index=i)
            beneficiary = demo_beneficiary(owner=partner, index=i)
            refs.append(
                {"sender_kyc_ref": sender.kyc_ref, "beneficiary_kyc_ref": beneficiary.kyc_ref}
            )
        fund_account(account_open(prefund(partner, "MYR")), 1_000_000_000)
        path.write_text(json.dumps(refs, indent=2) + "\n")
        self.stdout.write(f"PARTNER-MY: 5 KYC'd customers ({path}), RM 10,000,000.00 prefunded")

    def _partner_liquidity(self) -> None:
        """PARTNER-MY's MYR limit (an external sender with none is refused): prefunded, at what
        is left of its deposit. Prefunded, not a net debit cap, because PARTNER-MY pays in
        advance; settlement consumes the limit as it consumes the deposit. A limit that exists
        is the operator's and is kept, so a re-run changes nothing."""
        from core.money import Money
        from ledger.services.accounts import account_open, prefund
        from settlement.models import LiquidityLimit, LiquidityMode
        from settlement.services.liquidity import liquidity_limit_set, liquidity_used_minor

        partner = Institution.objects.get(code="PARTNER-MY")
        if LiquidityLimit.objects.filter(institution=partner, currency="MYR").exists():
            return
        # headroom = limit − used must equal the deposit not yet spent (fresh: RM 10,000,000.00;
        # a demo database from before limits were required: less what its orders took)
        deposit = account_open(prefund(partner, "MYR"))
        unspent = deposit.credits_posted - deposit.debits_posted - deposit.debits_pending
        used = liquidity_used_minor(institution=partner, currency="MYR")
        limit = liquidity_limit_set(
            institution=partner,
            amount=Money.from_minor(max(0, unspent) + used, "MYR"),
            mode=LiquidityMode.PREFUNDED,
        )
        self.stdout.write(
            f"PARTNER-MY: prefunded liquidity limit {Money.from_minor(limit.amount_minor, 'MYR')}"
        )

    def _wallet_users(self) -> None:
        from remittance.demo import wallet_user_create

        for username in ("aisha", "bilal"):
            if get_user_model().objects.filter(username=username).exists():
                continue
            wallet_user_create(username=username, password=f"{username}-demo-pass")
            self.stdout.write(f"wallet user {username} / {username}-demo-pass (RM 2,000.00)")
        self._wallet_screens()

    def _wallet_screens(self) -> None:
        """Wallet customers that give every screen something to show: the wallet app's own
        command (the wallet sits above this app, so it is called by name)."""
        call_command("seed_wallet_demo", stdout=self.stdout)

    def _witnesses(self, demo_dir: Path) -> None:
        """The external banks witness the log (partner_sdk/witness.py): the hub expects their
        cosignatures, and their onboarding files carry the operator's checkpoint key for them
        to pin (`log_key`)."""
        from ledger.selectors.log import checkpoint_verifier
        from ledger.services.witnesses import witness_register

        vkey = checkpoint_verifier().vkey
        for spec in INSTITUTIONS:
            if spec["hosted"]:
                continue
            witness_register(institution=Institution.objects.get(code=spec["code"]))
            path = demo_dir / f"{spec['code']}.json"
            payload = json.loads(path.read_text())
            if payload.get("log_key") != vkey:
                payload["log_key"] = vkey
                path.write_text(json.dumps(payload, indent=2) + "\n")
                path.chmod(0o600)
        self.stdout.write(
            f"witnesses: {', '.join(s['code'] for s in INSTITUTIONS if not s['hosted'])}"
        )

    @staticmethod
    def _file_valid(path: Path) -> bool:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return False
        return SigningKey.objects.filter(key_id=data.get("key_id"), active=True).exists()

    def _users(self) -> None:
        User = get_user_model()
        for username, password, is_superuser, is_staff in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.is_superuser, user.is_staff = is_superuser, is_staff
                user.save()
                self.stdout.write(f"user {username} / {password}")
