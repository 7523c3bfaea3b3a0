from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from core.errors import InvalidSignature
from institutions import services as inst
from ledger.models import Checkpoint, Entry, QueuedStatement, TreeNode
from ledger.selectors.log import checkpoint_latest, export_keys, tree_nodes_get
from ledger.services.log import (
    InvalidStatement,
    ledger_integrate,
    statement_append,
    statement_issue,
)
from partner_sdk import merkle
from partner_sdk.note import NoteVerifier, open_checkpoint
from partner_sdk.wire import entry_bytes, parse_entry

from .helpers import ORDER_1, partner_statement


@pytest.mark.django_db
def test_foundation_statements_are_on_the_log(network):
    inst.corridor_open(
        code="MY-PK",
        source_country="MY",
        destination_country="PK",
        source_currency="MYR",
        destination_currency="PKR",
    )
    inst.signing_key_rotate(institution=network.valyou.institution)
    ledger_integrate()
    kinds = list(Entry.objects.order_by("seq").values_list("kind", flat=True))
    assert kinds == ["institution.joined"] * 4 + ["corridor.opened", "key.rotated"]
    joined = json.loads(bytes(Entry.objects.get(seq=3).leaf))["statement"]
    assert joined["signer"] == "HUB" and joined["body"]["institution"] == "TMB-PK"


@pytest.mark.django_db
def test_partner_statement_is_verified_then_logged_verbatim(network):
    statement, signature = partner_statement(network.tmb)
    queued = statement_append(statement=statement, signature=signature, subject="ord_1")
    ledger_integrate()
    entry = Entry.objects.get(statement_ref=queued.pk)
    parsed = parse_entry(bytes(entry.leaf))
    assert parsed.statement == statement and parsed.signature == signature
    assert bytes(entry.leaf) == entry_bytes(entry.seq, statement, signature)
    assert not QueuedStatement.objects.exists()


@pytest.mark.django_db
def test_bad_signature_unknown_key_and_retired_key_are_refused(network):
    statement, signature = partner_statement(network.tmb)
    forged = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(InvalidSignature):
        statement_append(statement=statement, signature=forged)
    other = dict(statement, body=dict(statement["body"], payout_reference="EP-2"))
    with pytest.raises(InvalidSignature):
        statement_append(statement=other, signature=signature)
    with pytest.raises(InvalidSignature):
        statement_append(statement=dict(statement, key_id="0" * 16), signature=signature)
    inst.signing_key_rotate(institution=network.tmb.institution, public_key=b"\x01" * 32)
    with pytest.raises(InvalidSignature, match="retired"):
        statement_append(statement=statement, signature=signature)
    assert not QueuedStatement.objects.filter(signer="TMB-PK").exists()


@pytest.mark.django_db
def test_malformed_statement_is_refused(network):
    statement, signature = partner_statement(network.tmb)
    with pytest.raises(InvalidStatement):
        statement_append(statement=dict(statement, v=2), signature=signature)
    with pytest.raises(InvalidStatement):
        statement_append(statement={"kind": "x"}, signature=signature)


@pytest.mark.django_db
def test_integration_builds_the_rfc9162_tree_and_signs_checkpoints(network):
    for i in range(37):
        statement_issue(institution="VALYOU-MY", kind="test.note", body={"n": i})
    ledger_integrate(batch_size=10)
    leaves = [bytes(leaf) for leaf in Entry.objects.order_by("seq").values_list("leaf", flat=True)]
    assert [e for e in Entry.objects.order_by("seq").values_list("seq", flat=True)] == list(
        range(len(leaves))
    )
    leaf_hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    latest = checkpoint_latest()
    assert latest.tree_size == len(leaves) == 41
    assert bytes(latest.root_hash) == merkle.root_from_leaf_hashes(leaf_hashes)
    keys = export_keys()
    verifier = NoteVerifier(
        keys["checkpoint_key"]["name"], base64.b64decode(keys["checkpoint_key"]["public_key"])
    )
    for checkpoint in Checkpoint.objects.all():
        body = open_checkpoint(checkpoint.note, verifier)
        assert body.root == merkle.root_from_leaf_hashes(leaf_hashes[: body.size])
    # 41 queued statements in batches of 10: one checkpoint per batch
    assert sorted(Checkpoint.objects.values_list("tree_size", flat=True)) == [10, 20, 30, 40, 41]
    stored = {(n.level, n.index): bytes(n.hash) for n in TreeNode.objects.all()}
    assert stored[(1, 2)] == merkle.node_hash(leaf_hashes[4], leaf_hashes[5])
    assert stored[(5, 0)] == merkle.root_from_leaf_hashes(leaf_hashes[:32])
    assert (0, 5) not in stored  # leaf hashes are computed from entries, not stored
    assert tree_nodes_get([(0, 5), (5, 0)]) == {
        (0, 5): leaf_hashes[5],
        (5, 0): stored[(5, 0)],
    }


@pytest.mark.parametrize(
    "table,sql",
    [
        ("ledger_entry", "UPDATE ledger_entry SET kind = 'x'"),
        ("ledger_entry", "DELETE FROM ledger_entry"),
        ("ledger_treenode", "UPDATE ledger_treenode SET hash = hash"),
        ("ledger_treenode", "DELETE FROM ledger_treenode"),
        ("ledger_checkpoint", "UPDATE ledger_checkpoint SET tree_size = tree_size"),
        ("ledger_checkpoint", "DELETE FROM ledger_checkpoint"),
    ],
)
@pytest.mark.django_db
def test_database_rejects_rewriting_history(network, table, sql):
    ledger_integrate()
    before = Entry.objects.count()
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as c,
    ):
        c.execute(sql)
    assert Entry.objects.count() == before
    assert checkpoint_latest().tree_size == before


@pytest.mark.django_db
def test_ledger_verify_passes_then_catches_a_tampered_entry(network, capsys):
    statement_issue(institution="VALYOU-MY", kind="test.note", body={"n": 1})
    ledger_integrate()
    call_command("ledger", "verify")
    assert "OK 5 entries" in capsys.readouterr().out
    # Simulate an operator with superuser rights who drops the trigger and rewrites seq 2.
    with connection.cursor() as c:
        if connection.vendor == "postgresql":
            c.execute("ALTER TABLE ledger_entry DISABLE TRIGGER ledger_entry_append_only")
        else:
            c.execute("DROP TRIGGER ledger_entry_no_update")
        leaf = bytes(Entry.objects.get(seq=2).leaf).replace(b"PARTNER-MY", b"PARTNER-XX")
        c.execute("UPDATE ledger_entry SET leaf = %s WHERE seq = 2", [leaf])
    with pytest.raises(SystemExit) as exit_info:
        call_command("ledger", "verify")
    assert exit_info.value.code == 1
    assert "FAIL seq=2" in capsys.readouterr().err


@pytest.mark.django_db
def test_export_verifies_with_the_standalone_partner_verifier(network, tmp_path):
    for i in range(20):
        statement_issue(institution="VALYOU-MY", kind="test.note", body={"n": i})
    ledger_integrate()
    call_command("ledger", "export", "--out", str(tmp_path))
    lines = (tmp_path / "entries.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == 24
    keys = json.loads((tmp_path / "keys.json").read_text())
    assert set(keys["institutions"]) == {"HUB", "VALYOU-MY", "PARTNER-MY", "TMB-PK"}
    ok = subprocess.run(
        [sys.executable, "-m", "partner_sdk.verify", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    tampered = (tmp_path / "entries.jsonl").read_bytes().replace(b'"n":7', b'"n":8')
    (tmp_path / "entries.jsonl").write_bytes(tampered)
    bad = subprocess.run(
        [sys.executable, "-m", "partner_sdk.verify", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "seq=11" in bad.stdout + bad.stderr


PII = "Rukhsana Bibi +923001234567 AB1234567"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "body", "rule"),
    [
        # the probe's findings: free text under an innocent key, a padded key, a nested one
        ("order.submitted", {"memo": PII}, r"remove memo"),
        ("order.accepted", {"order_id": ORDER_1, "Name ": PII}, r"remove Name"),
        ("order.accepted", {"order_id": ORDER_1, "customer": {"nm": PII}}, r"remove customer"),
        # every allowed field has a format with no room for a name
        ("order.credited", {"order_id": ORDER_1, "payout_reference": PII}, r"payout_reference"),
        ("order.rejected", {"order_id": ORDER_1, "reason_code": PII}, r"reason_code must be"),
        ("order.accepted", {"order_id": PII}, r"order_id must be a lowercase UUID"),
        (
            "order.credited",
            {
                "order_id": ORDER_1,
                "payout_reference": "EP-1",
                "receive_amount": {"amount": PII, "currency": "PKR"},
            },
            r"receive_amount.amount must be a decimal string",
        ),
        ("order.accepted", {}, r"order_id is required"),
        ("customer.profile", {"order_id": ORDER_1}, r"partners may sign only"),
    ],
)
def test_a_partner_statement_outside_its_kinds_schema_never_reaches_the_log(
    network, kind, body, rule
):
    statement, signature = partner_statement(network.tmb, kind=kind, body=body)
    with pytest.raises(InvalidStatement, match=rule) as refused:
        statement_append(statement=statement, signature=signature)
    assert "Rukhsana" not in str(refused.value) and "923001234567" not in str(refused.value)
    assert not QueuedStatement.objects.filter(signer="TMB-PK").exists()


@pytest.mark.django_db
def test_each_partner_kind_with_its_full_schema_is_accepted(network):
    from partner_sdk.statements import BODY_SCHEMAS

    money = {"amount": "1000.00", "currency": "MYR"}
    full = {
        "order.submitted": {
            "order_id": ORDER_1,
            "quote_id": "qt_" + "0" * 24,
            "sender_kyc_ref": "kyc_" + "a" * 26,
            "beneficiary_kyc_ref": "kyc_" + "b" * 26,
            "send_amount": money,
            "fee": {"amount": "10.00", "currency": "MYR"},
            "receive_amount": {"amount": "62865.00", "currency": "PKR"},
            "rate": "62.865",
        },
        "order.accepted": {"order_id": ORDER_1},
        "order.rejected": {"order_id": ORDER_1, "reason_code": "beneficiary_not_found"},
        "order.credited": {
            "order_id": ORDER_1,
            "payout_reference": "EP-7F3A/2026:01_x",
            "receive_amount": {"amount": "62865.00", "currency": "PKR"},
        },
    }
    assert set(full) == set(BODY_SCHEMAS)
    for kind, body in full.items():
        statement, signature = partner_statement(network.tmb, kind=kind, body=body)
        statement_append(statement=statement, signature=signature)
    assert QueuedStatement.objects.filter(signer="TMB-PK").count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("at", "rule"),
    [
        (datetime(2019, 1, 1, tzinfo=UTC), "before the hub's clock"),
        (datetime(2099, 1, 1, tzinfo=UTC), "after the hub's clock"),
        (timedelta(seconds=-901), "before the hub's clock"),
        (timedelta(seconds=121), "after the hub's clock"),
    ],
)
def test_a_statement_signed_far_from_the_hubs_clock_is_refused(network, at, rule):
    when = datetime.now(UTC) + at if isinstance(at, timedelta) else at
    statement, signature = partner_statement(network.tmb, at=when)
    with pytest.raises(InvalidStatement, match=rule):
        statement_append(statement=statement, signature=signature)
    assert not QueuedStatement.objects.filter(signer="TMB-PK").exists()


@pytest.mark.django_db
def test_a_statement_within_the_clock_window_is_accepted(network):
    for skew in (timedelta(seconds=-850), timedelta(seconds=100)):
        statement, signature = partner_statement(network.tmb, at=datetime.now(UTC) + skew)
        statement_append(statement=statement, signature=signature)
    assert QueuedStatement.objects.filter(signer="TMB-PK").count() == 2
