"""Key-encryption keys (KEKs) from configuration, and Ed25519 key helpers.

The KEK wraps secrets the hub must store: private signing keys of hosted institutions, webhook
secrets and (in `kyc`) per-record data keys. KEKs live only in configuration (`REMIT_KEKS`,
`kid:base64key,...`, first is current); the database holds wrapped blobs naming the kid, so a
KEK can be rotated by re-wrapping without touching anything else.

Wrapped format: b"k1" ‖ len(kid) ‖ kid ‖ 12-byte nonce ‖ AES-256-GCM ciphertext+tag, with the
caller's associated data binding the blob to its row (a blob moved to another row fails).
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

WRAP_MAGIC = b"k1"


class UnwrapError(Exception):
    """A wrapped secret could not be opened: wrong KEK, tampered blob or wrong binding."""


@dataclass(frozen=True)
class Keyring:
    current_kid: str
    keys: dict[str, bytes]

    @classmethod
    def from_setting(cls, value: str) -> Keyring:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for item in (p.strip() for p in value.split(",")):
            if not item:
                continue
            kid, _, b64 = item.partition(":")
            try:
                raw = base64.b64decode(b64, validate=True)
            except ValueError:
                raise ImproperlyConfigured(f"REMIT_KEKS entry {kid!r} is not base64") from None
            if not kid or len(raw) != 32:
                raise ImproperlyConfigured("each REMIT_KEKS entry must be kid:base64(32 bytes)")
            keys[kid] = raw
            order.append(kid)
        if not order:
            raise ImproperlyConfigured("REMIT_KEKS is empty")
        return cls(current_kid=order[0], keys=keys)

    def wrap(self, plaintext: bytes, *, aad: bytes) -> bytes:
        kid = self.current_kid.encode()
        nonce = os.urandom(12)
        ct = AESGCM(self.keys[self.current_kid]).encrypt(nonce, plaintext, aad)
        return WRAP_MAGIC + bytes([len(kid)]) + kid + nonce + ct

    def rewrap(self, blob: bytes, *, aad: bytes) -> bytes | None:
        """`blob` wrapped again under the current KEK, or None when it already is."""
        if self.kid_of(bytes(blob)) == self.current_kid:
            return None
        return self.wrap(self.unwrap(blob, aad=aad), aad=aad)

    def unwrap(self, blob: bytes, *, aad: bytes) -> bytes:
        blob = bytes(blob)
        if not blob.startswith(WRAP_MAGIC) or len(blob) < 4:
            raise UnwrapError("not a wrapped secret")
        n = blob[2]
        kid = blob[3 : 3 + n].decode(errors="replace")
        nonce, ct = blob[3 + n : 15 + n], blob[15 + n :]
        key = self.keys.get(kid)
        if key is None:
            raise UnwrapError(f"KEK {kid!r} is not configured")
        try:
            return AESGCM(key).decrypt(nonce, ct, aad)
        except InvalidTag:
            raise UnwrapError("wrapped secret failed authentication") from None

    @staticmethod
    def kid_of(blob: bytes) -> str:
        blob = bytes(blob)
        return blob[3 : 3 + blob[2]].decode(errors="replace")


def keyring() -> Keyring:
    return Keyring.from_setting(str(settings.REMIT_KEKS or ""))


def ed25519_generate() -> tuple[Ed25519PrivateKey, bytes]:
    private = Ed25519PrivateKey.generate()
    return private, ed25519_public_raw(private)


def ed25519_private_raw(private: Ed25519PrivateKey) -> bytes:
    return private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def ed25519_public_raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def ed25519_public(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(bytes(raw))


def key_id(public_key_raw: bytes) -> str:
    """DESIGN.md §4: hex of the first 8 bytes of SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(bytes(public_key_raw)).digest()[:8].hex()
