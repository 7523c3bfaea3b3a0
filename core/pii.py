"""Keys that would only ever carry personal data. Webhooks and partner-signed statements carry
KYC *references* (DESIGN.md §5), never the record: a payload naming one of these keys is
refused before it leaves (webhooks) or reaches the append-only log (statements)."""

from __future__ import annotations

from typing import Any

PII_KEYS = frozenset(
    {
        "name",
        "given",
        "family",
        "full_name",
        "first_name",
        "last_name",
        "phone",
        "msisdn",
        "email",
        "address",
        "date_of_birth",
        "dob",
        "cnic",
        "passport",
        "id_number",
        "iban",
        "account_number",
    }
)


def pii_keys(value: Any, path: str = "data") -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in PII_KEYS:
                found.append(f"{path}.{key}")
            found.extend(pii_keys(item, f"{path}.{key}"))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found.extend(pii_keys(item, f"{path}[{index}]"))
    return found
