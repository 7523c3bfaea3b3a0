"""KEK rotation (docs/operations.md, Rotating keys): after `keys rewrap` nothing needs the old
KEK — signing as a hosted institution, webhook signatures and KYC records all work with the
new key alone."""

from __future__ import annotations

import base64
import io
import os

import pytest
from django.core.management import call_command

from institutions.models import SigningKey
from institutions.services import signing_key_private
from kyc import services as kyc
from kyc.models import KycRecord
from webhooks import services as hooks

pytestmark = pytest.mark.django_db


def _kek(kid: str) -> str:
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


def test_after_rewrap_the_old_kek_can_go(network, settings):
    from tests.kyc.conftest import SENDER

    old = settings.REMIT_KEKS  # what the network's hosted keys were wrapped with
    record = kyc.kyc_record_create(owner=network.valyou.institution, role="sender", data=SENDER)
    endpoint, secret = hooks.webhook_endpoint_create(
        institution=network.tmb.institution, url="https://tmb.example/hooks"
    )
    from institutions import services as inst

    inst.signing_key_rotate(institution=network.valyou.institution)  # wrapped under the old KEK
    new = _kek("new")
    settings.REMIT_KEKS = f"{new},{old}"
    out = io.StringIO()
    call_command("keys", "rewrap", stdout=out)
    assert "KYC data keys 1" in out.getvalue()
    assert "webhook secrets 1" in out.getvalue()
    settings.REMIT_KEKS = new  # the old KEK is gone
    hosted = SigningKey.objects.get(institution=network.valyou.institution, active=True)
    assert signing_key_private(signing_key=hosted) is not None
    endpoint.refresh_from_db()
    assert hooks.webhook_endpoint_secret(endpoint=endpoint) == secret
    read = kyc.kyc_record_read(
        record=KycRecord.objects.get(pk=record.pk), actor="staff:test", purpose="test"
    )
    assert read["data"]["name"]["family"] == SENDER["name"]["family"]
    again = io.StringIO()
    call_command("keys", "rewrap", stdout=again)
    counts = again.getvalue().split(": ", 1)[1]
    assert {part.rsplit(" ", 1)[1] for part in counts.strip().split(", ")} == {"0"}
    for label in ("KYC data keys", "hosted signing keys", "webhook secrets", "name checks"):
        assert label in counts
