"""Validation and normalisation of KYC record data (docs/compliance.md, "Record data").

`record_data_clean(role=..., data=...)` returns the canonical form that is encrypted and
committed to, or raises KycValidationError naming each field and the rule it breaks. Messages
never echo the submitted value (no PII in errors).

Shape (unknown keys are refused, so nothing unplanned is stored):

    name:            {given*, family, original_script}
    date_of_birth:   "YYYY-MM-DD"                      (* for senders)
    place_of_birth:  {city*, country*}
    nationality:     ISO 3166-1 alpha-2                 (* for senders)
    address:         {line1*, line2, city*, region, postcode, country*}   (* for senders)
    id_documents:    [{type* nric|cnic|passport, number*, issuing_country*, expiry_date}]
                                                        (at least one for senders)
    phone:           E.164 or international format      (* for senders)
    account:         {type* wallet|bank_account|iban, identifier*, institution}
    reference:       the sending institution's customer reference
    occupation:      free text (a sender's occupation, for risk assessment)
    source_of_funds: salary|business|savings|family|other
    relationship:    the beneficiary's relationship to the sender (free text)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import phonenumbers
from babel import Locale
from django.conf import settings
from django.utils import timezone
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.my import nric
from stdnum.pk import cnic

from kyc.errors import KycValidationError

SENDER, BENEFICIARY = "sender", "beneficiary"
COUNTRIES = frozenset(str(c) for c in Locale("en").territories if re.fullmatch(r"[A-Z]{2}", str(c)))
PASSPORT = re.compile(r"[A-Z0-9]{6,9}")
ACCOUNT = re.compile(r"[0-9A-Za-z-]{4,34}")
SOURCES_OF_FUNDS = frozenset({"salary", "business", "savings", "family", "other"})
DOCUMENT_KINDS = frozenset({"passport_scan", "id_front", "id_back", "selfie", "proof_of_address"})
DOCUMENT_TYPES = {
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "application/pdf": b"%PDF-",
}
# Which fields, when present, feed FATF R.16 checks (names only are stored in clear).
TRAVEL_RULE_FIELDS = (
    "name",
    "date_of_birth",
    "place_of_birth",
    "address",
    "id_document",
    "account",
    "reference",
)


@dataclass(frozen=True)
class DocumentUpload:
    kind: str
    content_type: str
    content: bytes
    filename: str = ""


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)


def _text(
    errors: _Errors, obj: dict, key: str, path: str, *, required: bool, max_length: int = 100
) -> str | None:
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(path, "required: this field is required")
        return None
    if not isinstance(value, str):
        errors.add(path, "type: must be a string")
        return None
    value = " ".join(value.split())
    if len(value) > max_length:
        errors.add(path, f"max_length: at most {max_length} characters")
        return None
    return value


def _country(errors: _Errors, obj: dict, key: str, path: str, *, required: bool) -> str | None:
    value = _text(errors, obj, key, path, required=required, max_length=2)
    if value is None:
        return None
    value = value.upper()
    if value not in COUNTRIES:
        errors.add(path, "country: must be an ISO 3166-1 alpha-2 code")
        return None
    return value


def _date(errors: _Errors, obj: dict, key: str, path: str, *, required: bool) -> date | None:
    value = _text(errors, obj, key, path, required=required, max_length=10)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.add(path, "date: must be an ISO 8601 date (YYYY-MM-DD)")
        return None


def _object(errors: _Errors, data: dict, key: str, *, required: bool, allowed: set[str]) -> dict:
    value = data.get(key)
    if value is None:
        if required:
            errors.add(key, "required: this field is required")
        return {}
    if not isinstance(value, dict):
        errors.add(key, "type: must be an object")
        return {}
    for extra in sorted(set(value) - allowed):
        errors.add(f"{key}.{extra}", "unknown_field: not part of a KYC record")
    return value


def _drop_empty(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v not in (None, "", [], {})}


TOP_FIELDS = frozenset(
    {
        "name",
        "date_of_birth",
        "place_of_birth",
        "nationality",
        "address",
        "id_documents",
        "phone",
        "account",
        "reference",
        "occupation",
        "source_of_funds",
        "relationship",
    }
)


def record_data_clean(*, role: str, data: dict[str, Any]) -> dict[str, Any]:
    """The canonical, validated form of `data` for a record of `role`."""
    if role not in (SENDER, BENEFICIARY):
        raise KycValidationError({"role": ["choice: must be 'sender' or 'beneficiary'"]})
    if not isinstance(data, dict):
        raise KycValidationError({"data": ["type: must be an object"]})
    errors = _Errors()
    sender = role == SENDER
    for extra in sorted(set(data) - TOP_FIELDS):
        errors.add(extra, "unknown_field: not part of a KYC record")
    clean: dict[str, Any] = {
        "name": _name_clean(errors, data),
        "date_of_birth": _date_of_birth_clean(errors, data, sender=sender),
        "place_of_birth": _place_of_birth_clean(errors, data),
        "nationality": _country(errors, data, "nationality", "nationality", required=sender),
        "address": _address_clean(errors, data, sender=sender),
        "id_documents": _id_documents(errors, data.get("id_documents"), required=sender),
        "phone": _phone(errors, data.get("phone"), required=sender),
        "account": _account_clean(errors, data),
        "reference": _text(errors, data, "reference", "reference", required=False, max_length=64),
    }
    for key in ("occupation", "relationship"):
        clean[key] = _text(errors, data, key, key, required=False, max_length=64)
    clean["source_of_funds"] = _source_of_funds_clean(errors, data)
    if errors.errors:
        raise KycValidationError(errors.errors)
    return {key: value for key, value in clean.items() if value}


def _name_clean(errors: _Errors, data: dict[str, Any]) -> dict[str, Any] | None:
    name = _object(
        errors, data, "name", required=True, allowed={"given", "family", "original_script"}
    )
    if not name:
        return None
    return _drop_empty(
        {
            "given": _text(errors, name, "given", "name.given", required=True),
            "family": _text(errors, name, "family", "name.family", required=False),
            "original_script": _text(
                errors, name, "original_script", "name.original_script", required=False
            ),
        }
    )


def _date_of_birth_clean(errors: _Errors, data: dict[str, Any], *, sender: bool) -> str | None:
    dob = _date(errors, data, "date_of_birth", "date_of_birth", required=sender)
    if dob is None:
        return None
    today = timezone.now().date()
    age = today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))
    min_age = getattr(settings, "KYC_MIN_SENDER_AGE", 18)
    if dob > today or dob.year < 1900:
        errors.add("date_of_birth", "range: must be a past date after 1900")
    elif sender and age < min_age:
        errors.add("date_of_birth", f"min_age: a sender must be at least {min_age}")
    else:
        return dob.isoformat()
    return None


def _place_of_birth_clean(errors: _Errors, data: dict[str, Any]) -> dict[str, Any] | None:
    pob = _object(errors, data, "place_of_birth", required=False, allowed={"city", "country"})
    if not pob:
        return None
    return _drop_empty(
        {
            "city": _text(errors, pob, "city", "place_of_birth.city", required=True),
            "country": _country(errors, pob, "country", "place_of_birth.country", required=True),
        }
    )


def _address_clean(errors: _Errors, data: dict[str, Any], *, sender: bool) -> dict[str, Any] | None:
    address = _object(
        errors,
        data,
        "address",
        required=sender,
        allowed={"line1", "line2", "city", "region", "postcode", "country"},
    )
    if not address:
        return None
    return _drop_empty(
        {
            "line1": _text(errors, address, "line1", "address.line1", required=True),
            "line2": _text(errors, address, "line2", "address.line2", required=False),
            "city": _text(errors, address, "city", "address.city", required=True),
            "region": _text(errors, address, "region", "address.region", required=False),
            "postcode": _text(
                errors, address, "postcode", "address.postcode", required=False, max_length=12
            ),
            "country": _country(errors, address, "country", "address.country", required=True),
        }
    )


def _account_clean(errors: _Errors, data: dict[str, Any]) -> dict[str, Any] | None:
    account = _object(
        errors, data, "account", required=False, allowed={"type", "identifier", "institution"}
    )
    return _account(errors, account) if account else None


def _source_of_funds_clean(errors: _Errors, data: dict[str, Any]) -> str | None:
    source = _text(errors, data, "source_of_funds", "source_of_funds", required=False)
    if source is not None and source not in SOURCES_OF_FUNDS:
        errors.add("source_of_funds", "choice: " + ", ".join(sorted(SOURCES_OF_FUNDS)))
        return None
    return source


def _id_documents(errors: _Errors, value: Any, *, required: bool) -> list[dict[str, str]]:
    if value in (None, []):
        if required:
            errors.add("id_documents", "required: at least one identity document")
        return []
    if not isinstance(value, list) or len(value) > 5:
        errors.add("id_documents", "type: must be a list of at most 5 documents")
        return []
    cleaned: list[dict[str, str]] = []
    for i, doc in enumerate(value):
        path = f"id_documents[{i}]"
        if not isinstance(doc, dict):
            errors.add(path, "type: must be an object")
            continue
        for extra in sorted(set(doc) - {"type", "number", "issuing_country", "expiry_date"}):
            errors.add(f"{path}.{extra}", "unknown_field: not part of an identity document")
        kind = _text(errors, doc, "type", f"{path}.type", required=True)
        number = _text(errors, doc, "number", f"{path}.number", required=True, max_length=32)
        country = _country(errors, doc, "issuing_country", f"{path}.issuing_country", required=True)
        expiry = _date(errors, doc, "expiry_date", f"{path}.expiry_date", required=False)
        if kind not in ("nric", "cnic", "passport"):
            if kind is not None:
                errors.add(f"{path}.type", "choice: must be nric, cnic or passport")
            continue
        if number is None:
            continue
        number = _document_number(errors, kind, number, country, path)
        if expiry is not None and expiry < timezone.now().date():
            errors.add(f"{path}.expiry_date", "expired: the document has expired")
        if number is not None and country is not None:
            cleaned.append(
                _drop_empty(
                    {
                        "type": kind,
                        "number": number,
                        "issuing_country": country,
                        "expiry_date": expiry.isoformat() if expiry else None,
                    }
                )
            )
    return cleaned


def _document_number(
    errors: _Errors, kind: str, number: str, country: str | None, path: str
) -> str | None:
    if kind == "nric":
        if country not in (None, "MY"):
            errors.add(f"{path}.issuing_country", "consistency: a MyKad NRIC is issued by MY")
        try:
            return nric.format(nric.validate(number))
        except StdnumError as exc:
            errors.add(f"{path}.number", f"nric: not a valid MyKad NRIC ({exc})")
            return None
    if kind == "cnic":
        if country not in (None, "PK"):
            errors.add(f"{path}.issuing_country", "consistency: a CNIC is issued by PK")
        try:
            return cnic.format(cnic.validate(number))
        except StdnumError as exc:
            errors.add(f"{path}.number", f"cnic: not a valid Pakistani CNIC ({exc})")
            return None
    compact = re.sub(r"[\s-]", "", number).upper()
    if not PASSPORT.fullmatch(compact):
        errors.add(f"{path}.number", "passport: 6 to 9 letters or digits")
        return None
    return compact


def _parse_phone(value: str) -> tuple[str | None, str | None]:
    """(E.164 number, None) or (None, error message)."""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None, "phone: must be in international format, e.g. +60123456789"
    if not phonenumbers.is_valid_number(parsed):
        return None, "phone: not a valid number for its country"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), None


def _phone(errors: _Errors, value: Any, *, required: bool) -> str | None:
    if value in (None, ""):
        if required:
            errors.add("phone", "required: this field is required")
        return None
    if not isinstance(value, str):
        errors.add("phone", "type: must be a string")
        return None
    number, problem = _parse_phone(value)
    if problem:
        errors.add("phone", problem)
    return number


def _account(errors: _Errors, account: dict) -> dict[str, str]:
    kind = _text(errors, account, "type", "account.type", required=True)
    identifier = _text(
        errors, account, "identifier", "account.identifier", required=True, max_length=34
    )
    institution = _text(errors, account, "institution", "account.institution", required=False)
    if kind not in (None, "wallet", "bank_account", "iban"):
        errors.add("account.type", "choice: must be wallet, bank_account or iban")
        return {}
    if kind is None or identifier is None:
        return {}
    if kind == "iban":
        try:
            identifier = IBAN(identifier).compact
        except SchwiftyException:
            errors.add("account.identifier", "iban: not a valid IBAN (ISO 13616 check digits)")
            return {}
    elif kind == "wallet" and identifier.startswith("+"):
        number, problem = _parse_phone(identifier)
        if number is None:
            errors.add("account.identifier", f"wallet {problem}")
            return {}
        identifier = number
    elif not ACCOUNT.fullmatch(identifier.replace(" ", "")):
        errors.add("account.identifier", "format: 4 to 34 letters, digits or hyphens")
        return {}
    return _drop_empty({"type": kind, "identifier": identifier, "institution": institution})


def present_fields(data: dict[str, Any]) -> list[str]:
    """Names of the travel-rule fields present in cleaned data (never their values)."""
    present: set[str] = {
        key for key in ("date_of_birth", "address", "account", "reference") if key in data
    }
    if data.get("name", {}).get("given"):
        present.add("name")
    if data.get("id_documents"):
        present.add("id_document")
    if data.get("place_of_birth"):
        present.add("place_of_birth")
    return sorted(present)


def documents_clean(documents: Any) -> list[DocumentUpload]:
    limit = getattr(settings, "KYC_MAX_DOCUMENT_BYTES", 5 * 1024 * 1024)
    cleaned: list[DocumentUpload] = []
    errors = _Errors()
    for i, doc in enumerate(documents):
        path = f"documents[{i}]"
        if not isinstance(doc, DocumentUpload):
            errors.add(path, "type: must be a DocumentUpload")
            continue
        if doc.kind not in DOCUMENT_KINDS:
            errors.add(f"{path}.kind", "choice: " + ", ".join(sorted(DOCUMENT_KINDS)))
        magic = DOCUMENT_TYPES.get(doc.content_type)
        if magic is None:
            errors.add(f"{path}.content_type", "choice: image/jpeg, image/png or application/pdf")
        elif not bytes(doc.content).startswith(magic):
            errors.add(f"{path}.content", "content_type: bytes are not a " + doc.content_type)
        if not doc.content or len(doc.content) > limit:
            errors.add(f"{path}.content", f"size: between 1 byte and {limit} bytes")
        cleaned.append(doc)
    if errors.errors:
        raise KycValidationError(errors.errors)
    return cleaned
