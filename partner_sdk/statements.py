"""Statement bodies a partner bank may sign: an allow-list, one schema per kind.

Part of the public wire contract (docs/ledger.md, "Statement bodies"). The log is append-only
and every party keeps a copy, so what is signed onto it can never be taken back: a body may
hold only ids, references, amounts, rates and codes, each in a fixed format. Unknown kinds,
unknown fields, missing required fields and values outside their format are refused before
anything is written — there is no free-text field where a name, phone or passport number
could hide. Messages name the field and the rule broken, never the value sent.

Banks can call `check_body(kind, body)` before signing; the hub calls the same function.
Needs nothing but the standard library (no server imports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# One grammar per kind of value.
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
QUOTE_ID = r"qt_[0-9a-f]{24}"
KYC_REF = r"kyc_[a-z2-7]{26}"
AMOUNT = r"[0-9]{1,15}(\.[0-9]{1,3})?"
CURRENCY = r"[A-Z]{3}"
RATE = r"[0-9]{1,10}(\.[0-9]{1,10})?"
REASON_CODE = r"[a-z][a-z0-9_]{1,47}"
PAYOUT_REFERENCE = r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}"


@dataclass(frozen=True)
class Field:
    rule: str  # a pattern name from FORMATS, or "money"
    required: bool = True


FORMATS: dict[str, tuple[str, str]] = {
    # name: (pattern, what to tell the signer)
    "uuid": (UUID, "a lowercase UUID"),
    "quote_id": (QUOTE_ID, "a quote id (qt_ and 24 hex digits)"),
    "kyc_ref": (KYC_REF, "a KYC reference (kyc_ and 26 base32 characters)"),
    "rate": (RATE, "a decimal string such as 62.865"),
    "reason_code": (REASON_CODE, "a lowercase code such as beneficiary_not_found"),
    "payout_reference": (
        PAYOUT_REFERENCE,
        "1-64 of A-Z a-z 0-9 . _ : / - (a reference, not a name)",
    ),
}
_COMPILED = {name: re.compile(pattern, re.ASCII) for name, (pattern, _) in FORMATS.items()}
_AMOUNT = re.compile(AMOUNT, re.ASCII)
_CURRENCY = re.compile(CURRENCY, re.ASCII)

BODY_SCHEMAS: dict[str, dict[str, Field]] = {
    "order.submitted": {
        "order_id": Field("uuid"),
        "quote_id": Field("quote_id"),
        "sender_kyc_ref": Field("kyc_ref"),
        "beneficiary_kyc_ref": Field("kyc_ref"),
        # the quote's terms, when the bank chooses to sign them too
        "send_amount": Field("money", required=False),
        "fee": Field("money", required=False),
        "receive_amount": Field("money", required=False),
        "rate": Field("rate", required=False),
    },
    "order.accepted": {"order_id": Field("uuid")},
    "order.rejected": {"order_id": Field("uuid"), "reason_code": Field("reason_code")},
    "order.credited": {
        "order_id": Field("uuid"),
        "payout_reference": Field("payout_reference"),
        "receive_amount": Field("money"),
    },
}
PARTNER_KINDS = frozenset(BODY_SCHEMAS)


class StatementBodyError(ValueError):
    """A body outside its kind's schema; the message names fields and rules, never values."""


def check_body(kind: str, body: Any) -> None:
    """Raise StatementBodyError unless `body` is exactly what `kind` allows."""
    schema = BODY_SCHEMAS.get(kind)
    if schema is None:
        raise StatementBodyError(
            f"partners may sign only {', '.join(sorted(PARTNER_KINDS))} statements"
        )
    if not isinstance(body, dict):
        raise StatementBodyError("body must be an object")
    unknown = sorted(str(name)[:40] for name in body if name not in schema)
    if unknown:
        raise StatementBodyError(
            f"{kind} bodies may hold only {', '.join(schema)}; remove {', '.join(unknown)}"
        )
    for name, field in schema.items():
        if name not in body:
            if field.required:
                raise StatementBodyError(f"body.{name} is required")
            continue
        _check_value(f"body.{name}", field.rule, body[name])


def _check_value(path: str, rule: str, value: Any) -> None:
    if rule == "money":
        if not isinstance(value, dict) or set(value) != {"amount", "currency"}:
            raise StatementBodyError(f'{path} must be {{"amount": …, "currency": …}}')
        amount, currency = value["amount"], value["currency"]
        if not isinstance(amount, str) or not _AMOUNT.fullmatch(amount):
            raise StatementBodyError(f"{path}.amount must be a decimal string such as 1000.00")
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            raise StatementBodyError(f"{path}.currency must be an ISO 4217 code such as MYR")
        return
    if not isinstance(value, str) or not _COMPILED[rule].fullmatch(value):
        raise StatementBodyError(f"{path} must be {FORMATS[rule][1]}")
