"""The wallet tests use the remittance fixtures: a priced corridor and a funded wallet user;
`sms` keeps text messages in memory; `png` is a tiny valid image for document uploads."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from tests.remittance.conftest import corridor, wallet_customer  # noqa: F401
from wallet.messaging import MemorySms

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def sms(settings):
    settings.WALLET_SMS_BACKEND = "wallet.messaging.MemorySms"
    MemorySms.outbox.clear()
    yield MemorySms.outbox
    MemorySms.outbox.clear()


def last_code() -> str:
    """The six digits of the latest code sent, by e-mail or text message."""
    texts = [m.body for m in mail.outbox] + [text for _, text in MemorySms.outbox]
    found = re.findall(r"\b([0-9]{6})\b", texts[-1])
    assert found, texts[-1]
    return found[0]
