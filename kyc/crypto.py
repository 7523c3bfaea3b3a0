"""Envelope encryption of KYC records and sealing to partner banks (docs/compliance.md).

- A record's payload is JCS bytes encrypted with AES-256-GCM under a fresh 256-bit data key:
  `nonce(12) ‖ ciphertext+tag`, associated data `record_aad(...)` (kyc_ref, owner, role and
  the present-field names), so a ciphertext copied onto another row, or an edited clear
  column it is bound to, fails authentication.
- The data key is wrapped by the current KEK (institutions.crypto.Keyring) with associated
  data `kyc-data-key:<kyc_ref>`; rotation re-wraps it, the ciphertext is never touched.
- Documents use the same data key with their own nonce and `kyc-document:<kyc_ref>:<doc_ref>`.
- Sharing seals the payload with HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256),
  HKDF-SHA256, AES-256-GCM, using `cryptography`'s implementation; partner_sdk.kyc opens it.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from institutions.crypto import UnwrapError, keyring
from kyc.errors import KycIntegrityError
from partner_sdk import kyc as sdk
from partner_sdk.wire import canonical_json

NONCE_SIZE = 12
DATA_KEY_SIZE = 32


def new_ref(prefix: str) -> str:
    """`<prefix>_` + 26 lowercase base32 characters (130 bits, 128 of them random)."""
    return f"{prefix}_" + base64.b32encode(secrets.token_bytes(16)).decode().lower().rstrip("=")


def payload_bytes(payload: dict[str, Any]) -> bytes:
    """Compact JSON for what is encrypted. Not JCS: only the commitment needs a canonical form
    (partners recompute it from `data`), and the C encoder is ~10x faster than JCS."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def record_aad(*, kyc_ref: str, owner: str, role: str, present_fields: list[str]) -> bytes:
    return b"remit-kyc/v1/record\n" + canonical_json(
        {"kyc_ref": kyc_ref, "owner": owner, "role": role, "present": sorted(present_fields)}
    )


def document_aad(*, kyc_ref: str, doc_ref: str) -> bytes:
    return f"remit-kyc/v1/document\n{kyc_ref}\n{doc_ref}".encode()


def data_key_aad(kyc_ref: str) -> bytes:
    return b"kyc-data-key:" + kyc_ref.encode()


def wrap_data_key(data_key: bytes, *, kyc_ref: str) -> bytes:
    return keyring().wrap(data_key, aad=data_key_aad(kyc_ref))


def unwrap_data_key(wrapped: bytes, *, kyc_ref: str) -> bytes:
    try:
        return keyring().unwrap(bytes(wrapped), aad=data_key_aad(kyc_ref))
    except UnwrapError as exc:
        raise KycIntegrityError(f"data key of {kyc_ref} cannot be unwrapped: {exc}") from None


def encrypt(data_key: bytes, plaintext: bytes, *, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)


def decrypt(data_key: bytes, blob: bytes, *, aad: bytes, what: str) -> bytes:
    blob = bytes(blob)
    try:
        return AESGCM(data_key).decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], aad)
    except (InvalidTag, ValueError):
        raise KycIntegrityError(
            f"{what} failed authentication: ciphertext or its bound fields were altered"
        ) from None


def seal(*, public_key: bytes, header: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """The sealed-record envelope of partner_sdk.kyc, built with cryptography's HPKE (or, on a
    `cryptography` without the hpke module, the SDK's RFC 9180 code, which is byte-compatible)."""
    plaintext, info = payload_bytes(payload), sdk.seal_info(header)
    try:
        from cryptography.hazmat.primitives import hpke
    except ImportError:  # pragma: no cover - cryptography < the release that added HPKE
        enc, ciphertext = sdk.hpke_seal_base(bytes(public_key), plaintext, info=info)
    else:
        suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
        sealed = suite.encrypt(
            plaintext, X25519PublicKey.from_public_bytes(bytes(public_key)), info=info
        )
        enc, ciphertext = sealed[:32], sealed[32:]
    return {
        "format": sdk.SEAL_FORMAT,
        "suite": dict(sdk.SUITE),
        "header": header,
        "enc": base64.b64encode(enc).decode(),
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
