"""The offline export verifier, as a partner bank runs it."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from partner_sdk.merkle import EMPTY_ROOT
from partner_sdk.note import Checkpoint, NoteVerifier, sign_checkpoint
from partner_sdk.testing import Export, build_export
from partner_sdk.verify import (
    EntryChecker,
    VerificationError,
    VerifyResult,
    main,
    verify_export,
)
from partner_sdk.wire import (
    STATEMENT_DOMAIN,
    encode_b64,
    entry_bytes,
    key_id,
    raw_public_key,
)

SENDER = Ed25519PrivateKey.generate()
SENDER_ROTATED = Ed25519PrivateKey.generate()
RECEIVER = Ed25519PrivateKey.generate()
HUB = Ed25519PrivateKey.generate()


def _records(count: int) -> list[tuple[str, Ed25519PrivateKey, str, dict]]:
    signers = [
        ("VALYOU-MY", SENDER),
        ("TMB-PK", RECEIVER),
        ("HUB", HUB),
        ("VALYOU-MY", SENDER_ROTATED),
    ]
    records = []
    for i in range(count):
        code, key = signers[i % len(signers)]
        body = {"order_id": f"ord_{i}", "amount": {"value": f"{i}.50", "currency": "MYR"}}
        records.append((code, key, "order.submitted", body))
    return records


@pytest.fixture
def export(tmp_path: Path) -> Export:
    return build_export(tmp_path / "export", _records(12))


def _lines(export: Export) -> list[bytes]:
    return export.entries_path.read_bytes().split(b"\n")[:-1]


def _failure(export: Export, **kwargs: object) -> str:
    with pytest.raises(VerificationError) as caught:
        verify_export(export.directory, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


def _resign_line(line: bytes, edit: dict, key: Ed25519PrivateKey) -> bytes:
    entry = json.loads(line)
    statement = {**entry["statement"], **edit}
    signature = key.sign(STATEMENT_DOMAIN + rfc8785.dumps(statement))
    return rfc8785.dumps(
        {"seq": entry["seq"], "statement": statement, "sig": encode_b64(signature)}
    )


def test_valid_export_passes(export: Export) -> None:
    result = verify_export(export.directory)
    assert result == VerifyResult(
        entries=12, size=12, root=export.root(), origin=export.origin, previous_size=None
    )


def test_empty_export_passes(tmp_path: Path) -> None:
    export = build_export(tmp_path, [])
    assert verify_export(tmp_path).root == EMPTY_ROOT
    assert export.entries_path.read_bytes() == b""


def test_tampered_statement_fails_at_its_seq(export: Export) -> None:
    lines = _lines(export)
    lines[3] = lines[3].replace(b'"value":"3.50"', b'"value":"9.50"')
    export.write_lines(lines)
    assert _failure(export) == "seq=3: invalid statement signature"


def test_tampered_signature_fails_at_its_seq(export: Export) -> None:
    lines = _lines(export)
    entry = json.loads(lines[4])
    other = json.loads(lines[8])  # same signer key, different statement
    entry["sig"] = other["sig"]
    lines[4] = rfc8785.dumps(entry)
    export.write_lines(lines)
    assert _failure(export) == "seq=4: invalid statement signature"


def test_seq_gap_fails(export: Export) -> None:
    lines = _lines(export)
    del lines[2]
    export.write_lines(lines)
    assert _failure(export) == "seq=2: expected seq 2, found 3"


def test_reordered_entries_fail(export: Export) -> None:
    lines = _lines(export)
    lines[5], lines[6] = lines[6], lines[5]
    export.write_lines(lines)
    assert _failure(export) == "seq=5: expected seq 5, found 6"


def test_non_canonical_line_fails(export: Export) -> None:
    lines = _lines(export)
    lines[7] = json.dumps(json.loads(lines[7])).encode()
    export.write_lines(lines)
    assert _failure(export).startswith("seq=7: entry is not in canonical")


def test_missing_final_newline_fails(export: Export) -> None:
    export.entries_path.write_bytes(export.entries_path.read_bytes()[:-1])
    assert _failure(export) == "seq=11: missing newline"


def test_blank_line_fails(export: Export) -> None:
    lines = _lines(export)
    lines.insert(1, b"")
    export.write_lines(lines)
    assert _failure(export).startswith("seq=1: not JSON")


def test_unknown_key_fails(export: Export) -> None:
    keys_path = export.directory / "keys.json"
    keys = json.loads(keys_path.read_text())
    del keys["institutions"]["VALYOU-MY"][key_id(raw_public_key(SENDER_ROTATED))]
    keys_path.write_text(json.dumps(keys))
    rotated_id = key_id(raw_public_key(SENDER_ROTATED))
    assert _failure(export) == f"seq=3: unknown key VALYOU-MY/{rotated_id}"


def test_key_listed_under_wrong_key_id_fails(export: Export) -> None:
    keys_path = export.directory / "keys.json"
    keys = json.loads(keys_path.read_text())
    receiver_id = key_id(raw_public_key(RECEIVER))
    keys["institutions"]["TMB-PK"][receiver_id] = encode_b64(raw_public_key(SENDER))
    keys_path.write_text(json.dumps(keys))
    assert _failure(export) == f"seq=1: key_id {receiver_id} does not match its key"


def test_statement_signed_by_another_institutions_key_fails(export: Export) -> None:
    lines = _lines(export)
    # Claims to be TMB-PK with TMB-PK's key id, but is signed with the sender's key.
    lines[5] = _resign_line(lines[5], {}, SENDER)
    export.write_lines(lines)
    assert _failure(export) == "seq=5: invalid statement signature"


def test_unsupported_version_fails(export: Export) -> None:
    lines = _lines(export)
    lines[2] = _resign_line(lines[2], {"v": 2}, HUB)
    export.write_lines(lines)
    assert _failure(export) == "seq=2: unsupported statement version 2"


def test_wrong_checkpoint_key_fails(export: Export) -> None:
    impostor = Ed25519PrivateKey.generate()
    checkpoint = Checkpoint(export.origin, 12, export.root())
    note = sign_checkpoint(checkpoint, name=export.log_name, private_key=impostor)
    export.checkpoint_path.write_text(note)
    assert _failure(export).startswith("checkpoint: note is not validly signed")


def test_checkpoint_size_mismatch_fails(export: Export) -> None:
    export.write_lines(_lines(export)[:-1])
    assert _failure(export) == "checkpoint: size 12 but the export has 11 entries"


def test_checkpoint_root_mismatch_fails(export: Export) -> None:
    export.checkpoint_path.write_text(export.checkpoint_note(12, root=export.root(11)))
    assert _failure(export) == "checkpoint: root does not match the entries"


def test_checkpoint_origin_mismatch_fails(export: Export) -> None:
    checkpoint = Checkpoint("other.example/log", 12, export.root())
    note = sign_checkpoint(checkpoint, name=export.log_name, private_key=export.log_key)
    export.checkpoint_path.write_text(note)
    assert _failure(export).startswith("checkpoint: origin 'other.example/log'")


def test_entry_failure_is_reported_before_checkpoint_failure(export: Export) -> None:
    lines = _lines(export)
    del lines[9]
    export.write_lines(lines)
    assert _failure(export) == "seq=9: expected seq 9, found 10"


@pytest.mark.parametrize("size", [0, 1, 5, 8, 12])
def test_consistent_previous_checkpoint_passes(export: Export, tmp_path: Path, size: int) -> None:
    previous = tmp_path / "previous.txt"
    previous.write_text(export.checkpoint_note(size))
    result = verify_export(export.directory, previous_checkpoint=previous)
    assert result.previous_size == size


def test_inconsistent_previous_checkpoint_fails(export: Export, tmp_path: Path) -> None:
    forked = build_export(
        tmp_path / "forked", _records(7)[::-1], log_name=export.log_name, log_key=export.log_key
    )
    previous = tmp_path / "previous.txt"
    previous.write_text(forked.checkpoint_note())
    assert _failure(export, previous_checkpoint=previous) == (
        "checkpoint: previous checkpoint root at size 7 is not a prefix of this log"
    )


def test_previous_checkpoint_larger_than_log_fails(export: Export, tmp_path: Path) -> None:
    previous = tmp_path / "previous.txt"
    previous.write_text(export.checkpoint_note(13, root=export.root()))
    assert _failure(export, previous_checkpoint=previous) == (
        "checkpoint: previous checkpoint size 13 exceeds the new size 12"
    )


def test_previous_checkpoint_must_be_signed_by_the_log(export: Export, tmp_path: Path) -> None:
    checkpoint = Checkpoint(export.origin, 5, export.root(5))
    impostor = Ed25519PrivateKey.generate()
    previous = tmp_path / "previous.txt"
    previous.write_text(sign_checkpoint(checkpoint, name=export.log_name, private_key=impostor))
    assert _failure(export, previous_checkpoint=previous).startswith(
        "checkpoint: previous checkpoint: note is not validly signed"
    )


def test_pinned_checkpoint_key_overrides_keys_json(export: Export) -> None:
    assert verify_export(export.directory, checkpoint_key=export.log_verifier).size == 12
    # An attacker who rewrites keys.json and re-signs with their own key is caught by the pin.
    impostor = Ed25519PrivateKey.generate()
    keys_path = export.directory / "keys.json"
    keys = json.loads(keys_path.read_text())
    keys["checkpoint_key"]["public_key"] = encode_b64(raw_public_key(impostor))
    keys_path.write_text(json.dumps(keys))
    checkpoint = Checkpoint(export.origin, 12, export.root())
    export.checkpoint_path.write_text(
        sign_checkpoint(checkpoint, name=export.log_name, private_key=impostor)
    )
    assert verify_export(export.directory).size == 12
    assert _failure(export, checkpoint_key=export.log_verifier).startswith("checkpoint:")


def test_entry_checker_is_reusable_on_leaf_bytes(export: Export) -> None:
    keys = json.loads((export.directory / "keys.json").read_text())
    institutions = {
        code: {kid: base64.b64decode(pk) for kid, pk in by_id.items()}
        for code, by_id in keys["institutions"].items()
    }
    checker = EntryChecker(institutions)
    for seq, leaf in enumerate(export.leaves):
        assert checker.check(leaf).seq == seq
    assert (checker.size, checker.root()) == (12, export.root())
    with pytest.raises(VerificationError) as caught:
        checker.check(export.leaves[0])
    assert caught.value.where == 12


def test_entry_bytes_helper_matches_export(export: Export) -> None:
    entry = json.loads(export.leaves[0])
    signature = base64.b64decode(entry["sig"])
    assert entry_bytes(0, entry["statement"], signature) == export.leaves[0]


def test_main_prints_summary_and_failures(
    export: Export, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(export.directory), "--trusted-key", export.log_verifier.vkey]) == 0
    assert capsys.readouterr().out.startswith("OK entries=12 size=12 root=")
    wrong = NoteVerifier(export.log_name, raw_public_key(Ed25519PrivateKey.generate()))
    assert main([str(export.directory), "--checkpoint-key", encode_b64(wrong.public_key_raw)]) == 1
    assert capsys.readouterr().out.startswith("FAIL checkpoint: ")
    assert main([str(export.directory / "missing")]) == 1
    assert capsys.readouterr().out.startswith("FAIL keys: ")


def test_cli_exit_codes(export: Export, tmp_path: Path) -> None:
    previous = tmp_path / "previous.txt"
    previous.write_text(export.checkpoint_note(6))
    command = [sys.executable, "-m", "partner_sdk.verify", str(export.directory)]
    ok = subprocess.run(
        [*command, "--previous-checkpoint", str(previous)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK entries=12 size=12 root=")
    assert ok.stdout.count("\n") == 1

    lines = _lines(export)
    lines[10] = lines[10].replace(b"ord_10", b"ord_99")
    export.write_lines(lines)
    failed = subprocess.run(command, capture_output=True, text=True)
    assert failed.returncode == 1
    assert failed.stdout == "FAIL seq=10: invalid statement signature\n"


def _cosign_export(export: Export, *signers: tuple[str, Ed25519PrivateKey]) -> None:
    from partner_sdk.note import cosign, parse_note

    note = export.checkpoint_path.read_text()
    text = parse_note(note)[0]
    lines = "".join(cosign(text, name=code, private_key=key, timestamp=1) for code, key in signers)
    export.checkpoint_path.write_text(note + lines)


def test_min_witnesses_counts_valid_cosignatures_by_known_institutions(export: Export) -> None:
    assert verify_export(export.directory).witnesses == ()
    with pytest.raises(VerificationError, match="0 valid witness cosignature"):
        verify_export(export.directory, min_witnesses=1)
    stranger = Ed25519PrivateKey.generate()
    # an unknown cosigner is ignored; a known institution's key (rotated ones too) counts
    _cosign_export(export, ("TMB-PK", RECEIVER), ("VALYOU-MY", SENDER_ROTATED), ("X", stranger))
    result = verify_export(export.directory, min_witnesses=2)
    assert result.witnesses == ("TMB-PK", "VALYOU-MY")
    assert "witnesses=TMB-PK,VALYOU-MY" in result.summary()
    with pytest.raises(VerificationError, match="3 required"):
        verify_export(export.directory, min_witnesses=3)


def test_a_cosignature_that_claims_a_known_key_but_fails_is_refused(export: Export) -> None:
    from partner_sdk.note import cosign, parse_note

    note = export.checkpoint_path.read_text()
    text = parse_note(note)[0]
    line = cosign(text, name="TMB-PK", private_key=RECEIVER, timestamp=1)
    forged = line.replace(line.split(" ")[-1][20:30], "A" * 10)  # right key id, bad signature
    export.checkpoint_path.write_text(note + forged)
    with pytest.raises(VerificationError, match="cosignature by TMB-PK does not verify"):
        verify_export(export.directory)
    assert main([str(export.directory), "--min-witnesses", "1"]) == 1


def test_entry_checker_resumes_from_a_frontier(export: Export) -> None:
    leaves = _lines(export)
    keys = json.loads((export.directory / "keys.json").read_text())["institutions"]
    institutions = {
        code: {kid: base64.b64decode(pk) for kid, pk in by_id.items()}
        for code, by_id in keys.items()
    }
    first = EntryChecker(institutions)
    for leaf in leaves[:5]:
        first.check(leaf)
    from partner_sdk.merkle import CompactRange

    resumed = EntryChecker(institutions, start=CompactRange.from_hashes(5, first.frontier))
    for leaf in leaves[5:]:
        resumed.check(leaf)
    assert resumed.size == len(leaves) and resumed.root() == export.root()
    with pytest.raises(VerificationError, match="expected seq 5"):
        EntryChecker(institutions, start=CompactRange.from_hashes(5, first.frontier)).check(
            leaves[6]
        )
