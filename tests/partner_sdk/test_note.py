"""C2SP signed notes, checkpoints and cosignatures against the published examples."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from partner_sdk.note import (
    Checkpoint,
    NoteError,
    NoteVerifier,
    cosign,
    cosignature_key_id,
    cosignature_message,
    format_checkpoint,
    note_key_id,
    open_checkpoint,
    parse_checkpoint,
    parse_note,
    sign_checkpoint,
    sign_note,
    verify_cosignature,
    verify_note,
)

# The reference example of the signed-note format (golang.org/x/mod/sumdb/note, whose format
# c2sp.org/signed-note specifies): its verifier key, signer key, text and signatures.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)
PETER_NOTE = TEXT + "\n" + PETER_SIG

# c2sp.org/signed-note §Note example (the spec publishes no public key for it).
QUASIMODO_NOTE = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed è subito sera.\n"
    "\n"
    "\u2014 quasimodo.example/salvatore "
    "NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)

# c2sp.org/tlog-cosignature §Format example: a checkpoint with a log signature and a cosignature.
SOFA_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
SOFA_SIGNATURES = (
    "\u2014 example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 "
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
SOFA_NOTE = SOFA_CHECKPOINT + "\n" + SOFA_SIGNATURES


def _peter_private_key() -> Ed25519PrivateKey:
    material = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert material[0] == 0x01
    return Ed25519PrivateKey.from_private_bytes(material[1:])


def test_verifier_key_parses_and_round_trips() -> None:
    verifier = NoteVerifier.from_vkey(PETER_VKEY)
    assert verifier.name == "PeterNeumann"
    assert verifier.key_id.hex() == "c74f20a3"
    assert verifier.vkey == PETER_VKEY


def test_key_id_derivation_known_answer() -> None:
    public_key = NoteVerifier.from_vkey(PETER_VKEY).public_key_raw
    expected = hashlib.sha256(b"PeterNeumann\n\x01" + public_key).digest()[:4]
    assert note_key_id("PeterNeumann", public_key) == expected == bytes.fromhex("c74f20a3")
    assert NoteVerifier.from_vkey(ENOCH_VKEY).key_id.hex() == "af0cfe78"
    cosigner_id = hashlib.sha256(b"PeterNeumann\n\x04" + public_key).digest()[:4]
    assert cosignature_key_id("PeterNeumann", public_key) == cosigner_id != expected


@pytest.mark.parametrize(
    "vkey",
    [
        PETER_VKEY[:-1],
        PETER_VKEY.replace("c74f20a3", "c74f20a4"),
        PETER_VKEY.replace("c74f20a3", "C74F20A3"),
        PETER_VKEY.replace("PeterNeumann", "PeterNeuman"),
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # unknown algorithm
        "PeterNeumann+c74f20a3",
        "",
    ],
)
def test_mangled_verifier_keys_are_rejected(vkey: str) -> None:
    with pytest.raises(NoteError):
        NoteVerifier.from_vkey(vkey)


def test_signing_reproduces_the_reference_signature_byte_for_byte() -> None:
    private_key = _peter_private_key()
    assert sign_note(TEXT, name="PeterNeumann", private_key=private_key) == PETER_SIG


def test_reference_note_verifies() -> None:
    verifier = NoteVerifier.from_vkey(PETER_VKEY)
    assert verify_note(PETER_NOTE, verifier)
    assert verify_note(PETER_NOTE.encode(), verifier)
    text, lines = parse_note(PETER_NOTE)
    assert text == TEXT
    assert [(line.name, line.key_id.hex()) for line in lines] == [("PeterNeumann", "c74f20a3")]


def test_unknown_signatures_are_ignored() -> None:
    both = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert verify_note(both, NoteVerifier.from_vkey(PETER_VKEY))
    assert verify_note(both, NoteVerifier.from_vkey(ENOCH_VKEY))
    # A note signed only by someone else is not signed by us.
    assert not verify_note(TEXT + "\n" + ENOCH_SIG, NoteVerifier.from_vkey(PETER_VKEY))


def test_tampered_note_fails() -> None:
    verifier = NoteVerifier.from_vkey(PETER_VKEY)
    assert not verify_note(PETER_NOTE.replace("cryptography", "cryptographY"), verifier)
    corrupted = TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    assert not verify_note(corrupted, verifier)
    # A failing signature from our key sinks the note even if another one verifies.
    assert not verify_note(
        TEXT + "\n" + PETER_SIG + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], verifier
    )


@pytest.mark.parametrize(
    "note",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name"),
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG.replace("\u2014", "-"),
        TEXT + "\n" + PETER_SIG * 101,
    ],
)
def test_malformed_notes_are_rejected(note: str) -> None:
    with pytest.raises(NoteError):
        parse_note(note)
    assert not verify_note(note, NoteVerifier.from_vkey(PETER_VKEY))


def test_invalid_utf8_note_is_rejected() -> None:
    with pytest.raises(NoteError):
        parse_note(b"\xff" + PETER_NOTE.encode())


def test_c2sp_example_note_parses_at_the_last_blank_line() -> None:
    text, lines = parse_note(QUASIMODO_NOTE)
    assert text == (
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    )
    assert len(lines) == 1
    assert lines[0].name == "quasimodo.example/salvatore"
    assert len(lines[0].signature) == 64


def test_c2sp_cosignature_example() -> None:
    text, (log_line, witness_line) = parse_note(SOFA_NOTE)
    assert text == SOFA_CHECKPOINT
    checkpoint = parse_checkpoint(text)
    assert (checkpoint.origin, checkpoint.size, len(checkpoint.root)) == (
        "example.com/behind-the-sofa",
        20852163,
        32,
    )
    assert len(log_line.signature) == 64
    assert witness_line.name == "witness.example.com/w1"
    assert len(witness_line.signature) == 8 + 64
    timestamp = int.from_bytes(witness_line.signature[:8], "big")
    assert timestamp == 1679315147
    assert cosignature_message(text, timestamp) == (
        b"cosignature/v1\n"
        b"time 1679315147\n"
        b"example.com/behind-the-sofa\n"
        b"20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )


def test_checkpoint_format_and_parse_round_trip() -> None:
    root = hashlib.sha256(b"root").digest()
    text = format_checkpoint("hub.remit.example/ledger", 42, root)
    assert text == f"hub.remit.example/ledger\n42\n{base64.b64encode(root).decode()}\n"
    assert parse_checkpoint(text) == Checkpoint("hub.remit.example/ledger", 42, root)
    with_extension = parse_checkpoint(text + "extension line\n")
    assert with_extension.extensions == ("extension line",)
    assert with_extension.text() == text + "extension line\n"


@pytest.mark.parametrize(
    "text",
    [
        "origin\n042\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n 1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
        "origin\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
        "origin\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n",
        "origin\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
        "origin\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
        "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n1\n",
    ],
)
def test_non_canonical_checkpoints_are_rejected(text: str) -> None:
    with pytest.raises(NoteError):
        parse_checkpoint(text)


def test_signed_checkpoint_opens_only_with_its_key() -> None:
    log_key = Ed25519PrivateKey.generate()
    checkpoint = Checkpoint("hub.remit.example/ledger", 3, hashlib.sha256(b"r").digest())
    note = sign_checkpoint(checkpoint, name="hub.remit.example/ledger", private_key=log_key)
    verifier = NoteVerifier("hub.remit.example/ledger", log_key.public_key().public_bytes_raw())
    assert open_checkpoint(note, verifier) == checkpoint
    other = NoteVerifier(
        verifier.name, Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    )
    with pytest.raises(NoteError):
        open_checkpoint(note, other)


def test_cosignature_round_trip_and_failures() -> None:
    witness = Ed25519PrivateKey.generate()
    public_key = witness.public_key().public_bytes_raw()
    line = cosign(SOFA_CHECKPOINT, name="witness.example/w1", private_key=witness, timestamp=1700)
    _, (parsed,) = parse_note(SOFA_CHECKPOINT + "\n" + line)
    assert parsed.key_id == cosignature_key_id("witness.example/w1", public_key)
    assert parsed.signature[:8] == (1700).to_bytes(8, "big")

    def check(line_or_payload: str | bytes, text: str = SOFA_CHECKPOINT, **kw: object) -> object:
        args = {"name": "witness.example/w1", "public_key": public_key, **kw}
        return verify_cosignature(line_or_payload, text, **args)  # type: ignore[arg-type]

    assert check(line) == 1700
    assert check(parsed.key_id + parsed.signature) == 1700
    assert check(line, SOFA_CHECKPOINT.replace("20852163", "20852164")) is None
    assert check(line, name="witness.example/w2") is None
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert check(line, public_key=other) is None
    forged_time = parsed.key_id + (1701).to_bytes(8, "big") + parsed.signature[8:]
    assert check(forged_time) is None
    assert check("garbage") is None
    assert check(b"\x00" * 5) is None
    # A plain note signature by the same key is not a cosignature (domain separation).
    note_line = sign_note(SOFA_CHECKPOINT, name="witness.example/w1", private_key=witness)
    assert check(note_line) is None


def test_cosignature_timestamp_bounds() -> None:
    witness = Ed25519PrivateKey.generate()
    with pytest.raises(NoteError):
        cosign(SOFA_CHECKPOINT, name="w", private_key=witness, timestamp=2**63)
    with pytest.raises(NoteError):
        cosign(SOFA_CHECKPOINT, name="w", private_key=witness, timestamp=-1)
