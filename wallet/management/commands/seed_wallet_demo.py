"""`manage.py seed_wallet_demo` — wallet customers that give every screen something to show
(wallet/demo.py): one mid-onboarding (identity: needs info), past transfers for aisha. Run by
`seed_demo` after the demo network exists; safe to run again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from remittance.models import Customer
from wallet import demo


class Command(BaseCommand):
    help = "Wallet demo customers (run by seed_demo)."

    def handle(self, *args: Any, **options: Any) -> None:
        if demo.customer_mid_onboarding() is not None:
            self.stdout.write(
                "wallet user nadia@example.com / nadia-demo-pass (identity: needs info)"
            )
        aisha = Customer.objects.filter(user__username="aisha").first()
        if aisha is not None and demo.past_transfers(customer=aisha):
            self.stdout.write("aisha: past transfers submitted (one cancelled and refunded)")
