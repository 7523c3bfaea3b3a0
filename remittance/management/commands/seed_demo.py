"""Demo network: the operator, a hosted sending institution, an external sending partner, an
external receiving bank, the MY→PK corridor and demo logins. Safe to run again.

For each external institution writes var/demo/<CODE>.json — what a partner bank is handed at
onboarding: {"institution", "hub_url", "api_key", "signing_key", "key_id", "webhook_secret"}.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from institutions import services as inst
from institutions.crypto import ed25519_private_raw
from institutions.models import Corridor, Institution, SigningKey, WebhookEndpoint
from ledger.services.log import ledger_integrate

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
        integrated = ledger_integrate()
        self.stdout.write(f"ledger: {integrated} statement(s) integrated")
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
            _, secret = inst.webhook_endpoint_create(
                institution=institution, url=f"http://127.0.0.1:{port}/webhooks"
            )
            payload = {
                "institution": code,
                "hub_url": settings.HUB_URL,
                "api_key": api_key,
                "signing_key": base64.b64encode(ed25519_private_raw(new.private_key)).decode(),
                "key_id": new.signing_key.key_id,
                "webhook_secret": secret,
            }
            credentials_file.write_text(json.dumps(payload, indent=2) + "\n")
            credentials_file.chmod(0o600)
            self.stdout.write(f"{code}: onboarding file {credentials_file}")

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
