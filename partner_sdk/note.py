"""C2SP signed notes (Ed25519, type 0x01), tlog checkpoints, and tlog cosignatures (type 0x04).

A signed note is ``text + "\\n" + signature lines``; each line is
``— <key name> <base64(4-byte key id || signature)>\\n``. Checkpoint text is
``<origin>\\n<size>\\n<base64 root>\\n`` plus optional extension lines. A v1 cosignature signs
``cosignature/v1\\ntime <unix seconds>\\n`` + checkpoint text and its payload is
``key id || uint64 big-endian timestamp || Ed25519 signature``.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from partner_sdk.wire import WireFormatError, decode_b64, encode_b64

SIG_TYPE_ED25519 = 0x01
SIG_TYPE_COSIGNATURE_V1 = 0x04
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100
MAX_TIMESTAMP = 2**63 - 1
COSIGNATURE_HEADER = "cosignature/v1\n"

_ED25519_SIG_SIZE = 64
_COSIGNATURE_PAYLOAD_SIZE = 8 + _ED25519_SIG_SIZE
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}", re.ASCII)


class NoteError(ValueError):
    """A malformed note, checkpoint or key, or a note no trusted key has signed."""


def _check_key_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise NoteError("key name must be non-empty")
    if "+" in name or any(ch.isspace() for ch in name) or _has_control(name):
        raise NoteError(f"key name must not contain spaces, '+' or control characters: {name!r}")


def _has_control(text: str) -> bool:
    return any(ord(ch) < 0x20 and ch != "\n" for ch in text)


def _check_public_key(public_key_raw: bytes) -> None:
    if not isinstance(public_key_raw, bytes) or len(public_key_raw) != 32:
        raise NoteError("an Ed25519 public key is 32 raw bytes")


def _key_id(name: str, sig_type: int, public_key_raw: bytes) -> bytes:
    _check_key_name(name)
    _check_public_key(public_key_raw)
    material = name.encode() + b"\n" + bytes([sig_type]) + public_key_raw
    return hashlib.sha256(material).digest()[:4]


def note_key_id(name: str, public_key_raw: bytes) -> bytes:
    """4-byte id of an Ed25519 note key: ``SHA-256(name || 0x0A || 0x01 || pk)[:4]``."""
    return _key_id(name, SIG_TYPE_ED25519, public_key_raw)


def cosignature_key_id(name: str, public_key_raw: bytes) -> bytes:
    """4-byte id of an Ed25519 cosigner key: ``SHA-256(name || 0x0A || 0x04 || pk)[:4]``."""
    return _key_id(name, SIG_TYPE_COSIGNATURE_V1, public_key_raw)


# --- notes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureLine:
    """One parsed signature line; ``signature`` is the payload after the 4-byte key id."""

    name: str
    key_id: bytes
    signature: bytes

    def format(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {encode_b64(self.key_id + self.signature)}\n"


def _check_note_text(text: str) -> None:
    if not isinstance(text, str) or not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if _has_control(text):
        raise NoteError("note text must not contain control characters other than newline")


def sign_note(text: str, *, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signature line (newline-terminated) for ``text`` under an Ed25519 note key."""
    _check_note_text(text)
    key_id = note_key_id(name, private_key.public_key().public_bytes_raw())
    return SignatureLine(name, key_id, private_key.sign(text.encode())).format()


def parse_signature_line(line: str) -> SignatureLine:
    """Parse ``— <name> <base64>`` (with or without its newline)."""
    body = line.removesuffix("\n")
    if not body.startswith(SIGNATURE_PREFIX) or "\n" in body:
        raise NoteError("signature line must start with an em dash and a space")
    name, sep, blob = body[len(SIGNATURE_PREFIX) :].partition(" ")
    if not sep:
        raise NoteError("signature line needs a key name and a signature")
    _check_key_name(name)
    try:
        payload = decode_b64(blob)
    except WireFormatError as exc:
        raise NoteError(str(exc)) from exc
    if len(payload) < 5:
        raise NoteError("signature must hold a 4-byte key id and a signature")
    return SignatureLine(name, payload[:4], payload[4:])


def parse_note(note: str | bytes) -> tuple[str, list[SignatureLine]]:
    """Split a signed note into its text and signature lines; raise ``NoteError`` if malformed.

    The text ends at the last blank line, as the spec says (the text itself may hold blank lines).
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("note is not valid UTF-8") from exc
    if not isinstance(note, str) or _has_control(note):
        raise NoteError("note must be text without control characters other than newline")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("note needs text, a blank line and newline-terminated signature lines")
    text, block = note[: split + 1], note[split + 2 :]
    lines = block.split("\n")[:-1]
    if not lines:
        raise NoteError("note has no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return text, [parse_signature_line(line) for line in lines]


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted Ed25519 note key: name plus raw public key."""

    name: str
    public_key_raw: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        _check_public_key(self.public_key_raw)

    @property
    def key_id(self) -> bytes:
        return note_key_id(self.name, self.public_key_raw)

    @property
    def vkey(self) -> str:
        """Verifier key string ``<name>+<hex key id>+<base64(0x01 || pk)>``."""
        material = encode_b64(bytes([SIG_TYPE_ED25519]) + self.public_key_raw)
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse a verifier key string, checking the algorithm byte and the key id."""
        parts = vkey.split("+", 2) if isinstance(vkey, str) else []
        if len(parts) != 3 or not _HEX_KEY_ID.fullmatch(parts[1]):
            raise NoteError("verifier key must be <name>+<8 hex digits>+<base64 key>")
        name, key_id_hex, material_b64 = parts
        try:
            material = decode_b64(material_b64)
        except WireFormatError as exc:
            raise NoteError(str(exc)) from exc
        if len(material) != 33 or material[0] != SIG_TYPE_ED25519:
            raise NoteError("verifier key is not an Ed25519 (type 0x01) key")
        verifier = cls(name, material[1:])
        if verifier.key_id.hex() != key_id_hex:
            raise NoteError("verifier key id does not match the key")
        return verifier

    def matches(self, line: SignatureLine) -> bool:
        """Whether ``line`` claims this key (same name and key id); others must be ignored."""
        return line.name == self.name and line.key_id == self.key_id

    def verify(self, text: str, signature: bytes) -> bool:
        if len(signature) != _ED25519_SIG_SIZE:
            return False
        try:
            key = Ed25519PublicKey.from_public_bytes(self.public_key_raw)
            key.verify(signature, text.encode())
        except (InvalidSignature, ValueError):
            return False
        return True


def verify_note(note: str | bytes, verifier: NoteVerifier) -> bool:
    """True iff ``verifier`` signed the note and none of its claimed signatures fails.

    Signatures by other keys (other name or key id: witnesses, rotated keys) are ignored.
    """
    try:
        text, lines = parse_note(note)
    except NoteError:
        return False
    claimed = [line for line in lines if verifier.matches(line)]
    return bool(claimed) and all(verifier.verify(text, line.signature) for line in claimed)


def open_note(note: str | bytes, verifier: NoteVerifier) -> str:
    """The note text if ``verifier`` signed it, else ``NoteError``."""
    if not verify_note(note, verifier):
        raise NoteError(f"note is not validly signed by {verifier.name}+{verifier.key_id.hex()}")
    return parse_note(note)[0]


# --- checkpoints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A parsed tlog checkpoint body."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        return format_checkpoint(self.origin, self.size, self.root, extensions=self.extensions)


def format_checkpoint(
    origin: str, size: int, root: bytes, *, extensions: tuple[str, ...] = ()
) -> str:
    """Checkpoint note text ``<origin>\\n<size>\\n<base64 root>\\n[extension lines]``."""
    for line in (origin, *extensions):
        if not isinstance(line, str) or not line or "\n" in line or _has_control(line):
            raise NoteError("origin and extension lines must be non-empty single lines")
    if type(size) is not int or size < 0:
        raise NoteError("tree size must be a non-negative integer")
    if not isinstance(root, bytes) or len(root) != 32:
        raise NoteError("root hash must be 32 bytes")
    return "".join(f"{line}\n" for line in (origin, str(size), encode_b64(root), *extensions))


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint text strictly: canonical decimal size, canonical base64, 32-byte root."""
    _check_note_text(text)
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not all(lines):
        raise NoteError("checkpoint needs origin, size and root lines, none empty")
    origin, size_text, root_text, *extensions = lines
    if not _DECIMAL.fullmatch(size_text) or int(size_text) >= 2**64:
        raise NoteError(f"tree size is not a canonical decimal: {size_text!r}")
    try:
        root = decode_b64(root_text)
    except WireFormatError as exc:
        raise NoteError(f"root hash: {exc}") from exc
    if len(root) != 32:
        raise NoteError("root hash must be 32 bytes")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, *, name: str, private_key: Ed25519PrivateKey) -> str:
    """A complete signed checkpoint note with one Ed25519 signature."""
    text = checkpoint.text()
    return text + "\n" + sign_note(text, name=name, private_key=private_key)


def open_checkpoint(note: str | bytes, verifier: NoteVerifier) -> Checkpoint:
    """The checkpoint in ``note`` if ``verifier`` signed it, else ``NoteError``."""
    return parse_checkpoint(open_note(note, verifier))


# --- cosignatures ----------------------------------------------------------------------------


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What a v1 cosigner signs: header line, ``time <ts>`` line, then the checkpoint text."""
    parse_checkpoint(checkpoint_text)
    if type(timestamp) is not int or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError("cosignature timestamp must be in [0, 2**63 - 1]")
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{checkpoint_text}".encode()


def cosign(
    checkpoint_text: str, *, name: str, private_key: Ed25519PrivateKey, timestamp: int
) -> str:
    """A cosignature/v1 signature line for ``checkpoint_text`` (the note text, no signatures)."""
    message = cosignature_message(checkpoint_text, timestamp)
    key_id = cosignature_key_id(name, private_key.public_key().public_bytes_raw())
    payload = struct.pack(">Q", timestamp) + private_key.sign(message)
    return SignatureLine(name, key_id, payload).format()


def verify_cosignature(
    line_or_payload: str | bytes, checkpoint_text: str, *, name: str, public_key: bytes
) -> int | None:
    """The cosignature's timestamp if valid for this cosigner and checkpoint, else None.

    Accepts a signature line (``— name base64``) or the decoded payload
    (key id || timestamp || signature).
    """
    try:
        if isinstance(line_or_payload, str):
            line = parse_signature_line(line_or_payload)
            if line.name != name:
                return None
            payload = line.key_id + line.signature
        else:
            payload = bytes(line_or_payload)
        if len(payload) != 4 + _COSIGNATURE_PAYLOAD_SIZE:
            return None
        if payload[:4] != cosignature_key_id(name, public_key):
            return None
        (timestamp,) = struct.unpack(">Q", payload[4:12])
        message = cosignature_message(checkpoint_text, timestamp)
        Ed25519PublicKey.from_public_bytes(public_key).verify(payload[12:], message)
    except (NoteError, InvalidSignature, ValueError, TypeError):
        return None
    return timestamp


def cosigners_verified(
    note: str | bytes, cosigners: Mapping[str, Iterable[bytes]]
) -> dict[str, int]:
    """Cosigner name → timestamp for every cosignature/v1 line in ``note`` made by a key in
    ``cosigners`` (name → raw Ed25519 public keys, rotated ones included).

    Lines of keys not in ``cosigners`` are ignored (the operator's, unknown witnesses'); a line
    that claims a known key (same name and key id) but does not verify raises ``NoteError``,
    as C2SP asks of a verifier."""
    text, lines = parse_note(note)
    found: dict[str, int] = {}
    for line in lines:
        for public_key in cosigners.get(line.name, ()):
            if line.key_id != cosignature_key_id(line.name, public_key):
                continue
            timestamp = verify_cosignature(
                line.key_id + line.signature, text, name=line.name, public_key=public_key
            )
            if timestamp is None:
                raise NoteError(f"the cosignature by {line.name} does not verify")
            found[line.name] = timestamp
    return found
