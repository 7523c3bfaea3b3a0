"""Limits and names the money ledger's modules share."""

from __future__ import annotations

import re
import uuid

from django.conf import settings

AMOUNT_MAX = 2**63 - 1  # BigIntegerField; balances must fit too
BALANCE_FIELDS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
TRANSFER_CODE_MAX = 32
TRANSFER_REFERENCE_MAX = 64
ACCOUNT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,95}")
STATEMENT_TRANSFERS = "ledger.transfers"
STATEMENT_ACCOUNT_OPENED = "ledger.account_opened"
# Ids of the voids that release expired pending transfers are derived from the pending id, so
# two reapers (or a retried task) void each expired transfer at most once.
VOID_EXPIRED_NAMESPACE = uuid.UUID("6b1f3c2e-8a55-4c1e-9f0e-7d1c2a9b4e10")
VOID_EXPIRED_CODE = "pending.expired"


def _operator_code() -> str:
    """The operator signs every money-ledger statement."""
    return str(settings.LEDGER_OPERATOR_CODE)
