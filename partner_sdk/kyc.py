"""Opening a KYC record the hub sealed to your bank (DESIGN.md §5, docs/compliance.md).

`POST /api/v1/kyc/{kyc_ref}/access` answers a *sealed record*:

    {"format": "remit-kyc-seal/v1",
     "suite": {"mode": "base", "kem": "DHKEM(X25519, HKDF-SHA256)", "kdf": "HKDF-SHA256",
               "aead": "AES-256-GCM"},
     "header": {"kyc_ref", "commitment", "grantee", "purpose", "order_ref", "grant_id",
                "sealed_at"},
     "enc": base64(32-byte encapsulated key), "ciphertext": base64(AEAD output)}

Construction: HPKE (RFC 9180) base mode, single shot, to the bank's registered X25519 public key,
with `info = b"remit-kyc/v1/seal\\n" + JCS(header)` and empty AAD. Binding the header through
`info` means a header changed in transit (another kyc_ref, purpose or grantee) makes the
ciphertext fail to open. The plaintext is JCS of
`{"kyc_ref", "role", "salt", "data", "documents"}`; `commitment(salt, data)` must equal the
header's commitment, which is also the one on the ledger's `kyc.shared` statement.

This module is a self-contained RFC 9180 implementation over `cryptography` primitives (X25519,
HMAC-SHA256, AES-GCM), checked against the RFC's Appendix A.1.1 vector and against the hub's
sealing, so a bank needs neither Django nor a `cryptography` new enough to ship HPKE.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from partner_sdk.wire import canonical_json

SEAL_FORMAT = "remit-kyc-seal/v1"
SEAL_INFO_DOMAIN = b"remit-kyc/v1/seal\n"
COMMITMENT_DOMAIN = b"remit-kyc/v1/commitment\n"
SUITE = {
    "mode": "base",
    "kem": "DHKEM(X25519, HKDF-SHA256)",
    "kdf": "HKDF-SHA256",
    "aead": "AES-256-GCM",
}

# RFC 9180 identifiers.
KEM_X25519_HKDF_SHA256 = 0x0020
KDF_HKDF_SHA256 = 0x0001
AEAD_IDS = {"AES-128-GCM": (0x0001, 16), "AES-256-GCM": (0x0002, 32)}
MODE_BASE = 0x00
N_NONCE = 12
N_SECRET = 32


class SealError(ValueError):
    """A sealed record that is malformed, not for this key, or altered in transit."""


# --- RFC 9180 -------------------------------------------------------------------------------


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or b"\x00" * 32, ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info
    return _expand(prk, labeled, length)


_KEM_SUITE_ID = b"KEM" + KEM_X25519_HKDF_SHA256.to_bytes(2, "big")


def _hpke_suite_id(aead: str) -> bytes:
    aead_id, _ = AEAD_IDS[aead]
    return (
        b"HPKE"
        + KEM_X25519_HKDF_SHA256.to_bytes(2, "big")
        + KDF_HKDF_SHA256.to_bytes(2, "big")
        + aead_id.to_bytes(2, "big")
    )


def _raw(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes_raw()


def _dhkem_shared_secret(dh: bytes, enc: bytes, pk_r: bytes) -> bytes:
    if dh == b"\x00" * 32:
        raise SealError("X25519 produced the all-zero shared secret")
    eae_prk = _labeled_extract(_KEM_SUITE_ID, b"", b"eae_prk", dh)
    return _labeled_expand(_KEM_SUITE_ID, eae_prk, b"shared_secret", enc + pk_r, N_SECRET)


def _key_schedule_base(shared_secret: bytes, info: bytes, aead: str) -> tuple[bytes, bytes]:
    suite_id = _hpke_suite_id(aead)
    psk_id_hash = _labeled_extract(suite_id, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(suite_id, b"", b"info_hash", info)
    context = bytes([MODE_BASE]) + psk_id_hash + info_hash
    secret = _labeled_extract(suite_id, shared_secret, b"secret", b"")
    key = _labeled_expand(suite_id, secret, b"key", context, AEAD_IDS[aead][1])
    base_nonce = _labeled_expand(suite_id, secret, b"base_nonce", context, N_NONCE)
    return key, base_nonce


def hpke_seal_base(
    recipient_public_key: bytes,
    plaintext: bytes,
    *,
    info: bytes,
    aad: bytes = b"",
    aead: str = "AES-256-GCM",
    ephemeral_private_key: bytes | None = None,
) -> tuple[bytes, bytes]:
    """RFC 9180 SealBase (single shot, sequence 0): returns (enc, ciphertext).
    `ephemeral_private_key` exists for test vectors only; leave it None."""
    sk_e = (
        X25519PrivateKey.from_private_bytes(ephemeral_private_key)
        if ephemeral_private_key is not None
        else X25519PrivateKey.generate()
    )
    pk_r = X25519PublicKey.from_public_bytes(recipient_public_key)
    enc = _raw(sk_e.public_key())
    shared = _dhkem_shared_secret(sk_e.exchange(pk_r), enc, recipient_public_key)
    key, nonce = _key_schedule_base(shared, info, aead)
    return enc, AESGCM(key).encrypt(nonce, plaintext, aad)


def hpke_open_base(
    recipient_private_key: X25519PrivateKey | bytes,
    enc: bytes,
    ciphertext: bytes,
    *,
    info: bytes,
    aad: bytes = b"",
    aead: str = "AES-256-GCM",
) -> bytes:
    """RFC 9180 OpenBase (single shot, sequence 0). Raises SealError on any failure."""
    sk_r = (
        recipient_private_key
        if isinstance(recipient_private_key, X25519PrivateKey)
        else X25519PrivateKey.from_private_bytes(recipient_private_key)
    )
    if len(enc) != 32:
        raise SealError("enc must be a 32-byte X25519 public key")
    try:
        dh = sk_r.exchange(X25519PublicKey.from_public_bytes(enc))
    except ValueError:
        raise SealError("enc is not a usable X25519 public key") from None
    shared = _dhkem_shared_secret(dh, enc, _raw(sk_r.public_key()))
    key, nonce = _key_schedule_base(shared, info, aead)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise SealError(
            "sealed record failed authentication: wrong private key, or the header or "
            "ciphertext was altered"
        ) from None


# --- the sealed-record envelope -------------------------------------------------------------


def seal_info(header: dict[str, Any]) -> bytes:
    return SEAL_INFO_DOMAIN + canonical_json(header)


def commitment(salt: bytes, data: dict[str, Any]) -> str:
    """Salted SHA-256 commitment over the canonical (JCS) record data, as hex."""
    return hashlib.sha256(COMMITMENT_DOMAIN + salt + canonical_json(data)).hexdigest()


def seal_record(
    recipient_public_key: bytes, header: dict[str, Any], payload: dict[str, Any]
) -> dict[str, Any]:
    """Build a sealed record (the hub does this; exposed for tests and simulators)."""
    enc, ciphertext = hpke_seal_base(
        recipient_public_key, canonical_json(payload), info=seal_info(header)
    )
    return {
        "format": SEAL_FORMAT,
        "suite": dict(SUITE),
        "header": header,
        "enc": base64.b64encode(enc).decode(),
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }


def open_sealed_record(
    sealed: dict[str, Any],
    private_key: X25519PrivateKey | bytes,
    *,
    expect_kyc_ref: str | None = None,
    expect_order_ref: str | None = None,
) -> dict[str, Any]:
    """Open a sealed record with the bank's X25519 private key and check it.

    Returns the payload: `{"kyc_ref", "role", "salt", "data", "documents"}` (salt and document
    contents base64). Raises SealError if the envelope is malformed, the key is wrong, anything
    was altered, the commitment does not match, or the record is not the one expected."""
    if not isinstance(sealed, dict) or sealed.get("format") != SEAL_FORMAT:
        raise SealError(f"not a {SEAL_FORMAT} sealed record")
    if sealed.get("suite") != SUITE:
        raise SealError("unsupported HPKE suite")
    header = sealed.get("header")
    if not isinstance(header, dict):
        raise SealError("sealed record has no header")
    try:
        enc = base64.b64decode(sealed["enc"], validate=True)
        ciphertext = base64.b64decode(sealed["ciphertext"], validate=True)
    except (KeyError, TypeError, ValueError):
        raise SealError("enc and ciphertext must be base64") from None
    plaintext = hpke_open_base(private_key, enc, ciphertext, info=seal_info(header))
    payload = json.loads(plaintext)
    if payload.get("kyc_ref") != header.get("kyc_ref"):
        raise SealError("payload is for another record than the header names")
    salt = base64.b64decode(payload["salt"])
    if not hmac.compare_digest(commitment(salt, payload["data"]), str(header.get("commitment"))):
        raise SealError("record data does not match its commitment")
    if expect_kyc_ref is not None and header.get("kyc_ref") != expect_kyc_ref:
        raise SealError("sealed record is for another kyc_ref")
    if expect_order_ref is not None and header.get("order_ref") != expect_order_ref:
        raise SealError("sealed record was granted for another order")
    return payload


def x25519_generate() -> tuple[X25519PrivateKey, bytes]:
    """A new X25519 key pair for a bank: (private key, raw 32-byte public key to register)."""
    private = X25519PrivateKey.generate()
    return private, _raw(private.public_key())


def random_salt() -> bytes:
    return os.urandom(32)
