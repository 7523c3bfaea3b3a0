"""Ledger wire format v1: statements, their signatures, and entries (Merkle leaves).

This is a public contract (DESIGN.md §4): partner banks re-implement it to verify the log, so
every byte is pinned here. A statement is signed as ``STATEMENT_DOMAIN + JCS(statement)``; an
entry is ``JCS({"seq", "statement", "sig"})`` and those exact bytes are the leaf data.
Floats are refused everywhere: amounts travel as decimal strings, and float formatting is where
independent JSON implementations disagree.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

STATEMENT_DOMAIN = b"remit-ledger/v1/statement\n"
WIRE_VERSION = 1
SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 32
STATEMENT_FIELDS = frozenset({"v", "kind", "at", "signer", "key_id", "body"})
ENTRY_FIELDS = frozenset({"seq", "statement", "sig"})

_KIND = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_RFC3339_UTC = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?[Zz]", re.ASCII
)


_MAX_SAFE_INTEGER = 2**53 - 1


class WireFormatError(ValueError):
    """Bytes or objects that are not valid ledger wire format v1."""


def canonical_json(obj: Any) -> bytes:
    """RFC 8785 (JCS) bytes of ``obj``; floats, NaN and unsafe integers are refused.

    Fast path: with floats refused and integers within ±2^53, the stdlib's sorted, compact,
    non-ASCII-escaping JSON is byte-for-byte JCS whenever the output is pure ASCII (string
    escapes agree, and ASCII keys sort the same by code point as by UTF-16 unit). Anything
    else goes through the ``rfc8785`` package. tests/partner_sdk/test_wire.py checks both
    paths agree on generated documents."""
    try:
        _reject_floats(obj)
        return _jcs_checked(obj)
    except WireFormatError:
        raise
    except (ValueError, TypeError, RecursionError) as exc:  # CanonicalizationError: ValueError
        raise WireFormatError(f"not canonicalizable: {exc}") from exc


def _jcs_checked(obj: Any) -> bytes:
    """JCS of an object already known to hold no float and no unsafe integer."""
    fast = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if fast.isascii():
        return fast.encode()
    return rfc8785.dumps(obj)


def _reject_float_literal(text: str) -> Any:
    raise WireFormatError("floats are not allowed; use decimal strings")


def _safe_int(text: str) -> int:
    value = int(text)
    if not -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
        raise WireFormatError("integers beyond ±2^53 are not allowed; use decimal strings")
    return value


def _reject_floats(obj: object) -> None:
    if isinstance(obj, float):
        raise WireFormatError("floats are not allowed; use decimal strings")
    if type(obj) is int and not -_MAX_SAFE_INTEGER <= obj <= _MAX_SAFE_INTEGER:
        raise WireFormatError("integers beyond ±2^53 are not allowed; use decimal strings")
    if isinstance(obj, dict):
        for value in obj.values():
            _reject_floats(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _reject_floats(value)


def key_id(public_key_raw: bytes) -> str:
    """Statement key id: hex of the first 8 bytes of SHA-256 of the raw Ed25519 public key."""
    if not isinstance(public_key_raw, bytes) or len(public_key_raw) != PUBLIC_KEY_SIZE:
        raise WireFormatError("an Ed25519 public key is 32 raw bytes")
    return hashlib.sha256(public_key_raw).digest()[:8].hex()


def raw_public_key(private_key: Ed25519PrivateKey) -> bytes:
    """The 32 raw public key bytes that ``key_id`` and ``keys.json`` use."""
    return private_key.public_key().public_bytes_raw()


# --- time ------------------------------------------------------------------------------------


def format_time(dt: datetime) -> str:
    """RFC 3339 UTC with ``Z`` and exactly three fraction digits (sub-millisecond truncated)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise WireFormatError("naive datetimes are ambiguous; pass an aware datetime")
    utc = dt.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """Parse any RFC 3339 UTC timestamp ending in ``Z`` (fraction optional, any precision)."""
    match = _RFC3339_UTC.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise WireFormatError("not an RFC 3339 UTC timestamp ending in Z")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micros = int((match.group(7) or "0")[:6].ljust(6, "0"))
    try:
        return datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC)
    except ValueError as exc:
        raise WireFormatError("not a valid instant (RFC 3339 UTC)") from exc


# --- statements ------------------------------------------------------------------------------


def make_statement(
    *, kind: str, at: datetime | str, signer: str, key_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """A v1 statement, validated; ``at`` may be a datetime or an already formatted timestamp."""
    statement = {
        "v": WIRE_VERSION,
        "kind": kind,
        "at": format_time(at) if isinstance(at, datetime) else at,
        "signer": signer,
        "key_id": key_id,
        "body": body,
    }
    validate_statement(statement)
    return statement


def validate_statement(statement: object, *, canonical_checked: bool = False) -> None:
    """Raise ``WireFormatError`` unless ``statement`` has exactly the v1 shape of DESIGN §4."""
    if not isinstance(statement, dict):
        raise WireFormatError("statement must be a JSON object")
    if set(statement) != STATEMENT_FIELDS:
        raise WireFormatError(f"statement fields must be exactly {sorted(STATEMENT_FIELDS)}")
    version = statement["v"]
    if type(version) is not int or version != WIRE_VERSION:
        raise WireFormatError(f"unsupported statement version {version!r}")
    kind = statement["kind"]
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise WireFormatError("kind must be a dotted lowercase name such as order.submitted")
    parse_time(statement["at"])
    signer = statement["signer"]
    if not isinstance(signer, str) or not signer:
        raise WireFormatError("signer must be a non-empty institution code")
    if not isinstance(statement["key_id"], str) or not _KEY_ID.fullmatch(statement["key_id"]):
        raise WireFormatError("key_id must be 16 lowercase hex digits")
    if not isinstance(statement["body"], dict):
        raise WireFormatError("body must be a JSON object")
    if not canonical_checked:
        canonical_json(statement)


def signing_input(statement: dict[str, Any]) -> bytes:
    """The exact bytes an institution signs: domain prefix, then the JCS statement."""
    return STATEMENT_DOMAIN + canonical_json(statement)


def sign_statement(private_key: Ed25519PrivateKey, statement: dict[str, Any]) -> bytes:
    """64-byte Ed25519 signature over ``signing_input(statement)``."""
    return private_key.sign(signing_input(statement))


def verify_statement_bytes(
    public_key: Ed25519PublicKey, canonical_statement: bytes, signature: bytes
) -> bool:
    """Verify over statement bytes already known to be canonical (e.g. sliced from a canonical
    entry), saving a second canonicalization on the verifier's hot path."""
    try:
        public_key.verify(signature, STATEMENT_DOMAIN + canonical_statement)
    except InvalidSignature:
        return False
    return True


def verify_statement(public_key_raw: bytes, statement: object, signature: bytes) -> bool:
    """True iff ``signature`` is valid; any malformed key, signature or statement gives False."""
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        return False
    if not isinstance(public_key_raw, bytes) or len(public_key_raw) != PUBLIC_KEY_SIZE:
        return False
    if not isinstance(statement, dict):
        return False
    try:
        message = signing_input(statement)
        Ed25519PublicKey.from_public_bytes(public_key_raw).verify(signature, message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# --- entries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One ledger entry; ``raw`` is the canonical leaf bytes (no trailing newline)."""

    seq: int
    statement: dict[str, Any]
    signature: bytes
    raw: bytes

    @property
    def statement_bytes(self) -> bytes:
        """JCS bytes of the statement, sliced from the canonical leaf: its keys sort as seq,
        sig, statement, and neither an integer nor base64 can contain the marker."""
        start = self.raw.index(b',"statement":') + len(b',"statement":')
        return self.raw[start:-1]


def encode_b64(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4), as every v1 field and note uses."""
    return base64.b64encode(data).decode("ascii")


def decode_b64(text: str) -> bytes:
    """Strict standard base64: padding required, no stray characters, canonical trailing bits."""
    if not isinstance(text, str):
        raise WireFormatError("base64 value must be a string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise WireFormatError(f"invalid base64: {text!r}") from exc
    if encode_b64(data) != text:
        raise WireFormatError(f"non-canonical base64: {text!r}")
    return data


def entry_bytes(seq: int, statement: dict[str, Any], signature: bytes) -> bytes:
    """Canonical leaf bytes of entry ``seq``."""
    if type(seq) is not int or seq < 0:
        raise WireFormatError("seq must be a non-negative integer")
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise WireFormatError("signature must be 64 bytes")
    return canonical_json({"seq": seq, "statement": statement, "sig": encode_b64(signature)})


def _reject_json_constant(name: str) -> None:
    raise WireFormatError(f"{name} is not JSON")


def parse_entry(line: bytes) -> Entry:
    """Parse leaf bytes (without the newline) and insist they are exactly the canonical form.

    Checks the entry envelope only; the statement's own shape is ``validate_statement``'s job.
    """
    try:
        obj = json.loads(
            line,
            parse_constant=_reject_json_constant,
            parse_float=_reject_float_literal,
            parse_int=_safe_int,
        )
    except (ValueError, TypeError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8
        raise WireFormatError(f"not JSON: {exc}") from exc
    if not isinstance(obj, dict) or set(obj) != ENTRY_FIELDS:
        raise WireFormatError(f"entry fields must be exactly {sorted(ENTRY_FIELDS)}")
    seq, statement, sig = obj["seq"], obj["statement"], obj["sig"]
    if type(seq) is not int or seq < 0:
        raise WireFormatError("seq must be a non-negative integer")
    if not isinstance(statement, dict):
        raise WireFormatError("statement must be a JSON object")
    signature = decode_b64(sig)
    if len(signature) != SIGNATURE_SIZE:
        raise WireFormatError("sig must decode to 64 bytes")
    if _jcs_checked(obj) != line:
        raise WireFormatError("entry is not in canonical (RFC 8785) form")
    return Entry(seq=seq, statement=statement, signature=signature, raw=bytes(line))
