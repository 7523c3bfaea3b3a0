"""The hub's side of witnessing: each witness's latest cosigned checkpoint and lag, the
checkpoint cosigned by N witnesses (for receipts), the lag alert, `ledger status`, and an
export that the standalone verifier accepts only with its witnesses' cosignatures."""

from __future__ import annotations

import base64
import io
import json
import logging
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from ledger.models import Checkpoint, Witness
from ledger.selectors.log import checkpoint_latest, checkpoint_verifier
from ledger.selectors.witnesses import checkpoint_cosigned_by_all, checkpoint_witnessed
from ledger.services.log import cosignature_add, ledger_integrate, statement_issue
from ledger.services.witnesses import witness_register, witnesses_lag_check
from ledger.tasks import check_witnesses
from partner_sdk import merkle
from partner_sdk.note import cosign, cosigners_verified, open_checkpoint, parse_note
from partner_sdk.verify import main as verify_main
from partner_sdk.wire import raw_public_key

pytestmark = pytest.mark.django_db


def grow(count: int = 3) -> Checkpoint:
    for i in range(count):
        statement_issue(institution="HUB", kind="test.note", body={"n": i})
    ledger_integrate()
    return checkpoint_latest()


def cosign_as(member, checkpoint: Checkpoint) -> None:
    line = cosign(
        checkpoint.body,
        name=member.code,
        private_key=member.private_key,
        timestamp=int(time.time()),
    )
    cosignature_add(
        institution=member.institution, checkpoint_text=checkpoint.body, cosignature_line=line
    )


@pytest.fixture
def banks(network):
    for member in (network.partner, network.tmb):
        witness_register(institution=member.institution)
    return network


def test_a_cosignature_moves_the_witness_forward_never_back(banks):
    first = grow()
    second = grow()
    cosign_as(banks.tmb, second)
    cosign_as(banks.tmb, first)  # an older checkpoint (another witness's, say) is fine
    witness = Witness.objects.get(institution=banks.tmb.institution)
    assert (witness.last_cosigned_size, witness.last_checkpoint) == (second.tree_size, second)
    # a bank that cosigns without being registered becomes a witness
    witness.delete()
    cosign_as(banks.tmb, grow())
    assert Witness.objects.get(institution=banks.tmb.institution).last_cosigned_size > 0


def test_checkpoint_witnessed_serves_the_latest_with_enough_cosignatures(banks, client):
    older = grow()
    cosign_as(banks.tmb, older)
    cosign_as(banks.partner, older)
    newer = grow()
    cosign_as(banks.tmb, newer)
    latest = grow()

    def served(n: int):
        return client.get(f"/api/v1/ledger/checkpoint?witnessed={n}")

    assert served(0).content.decode() == served(0).content.decode()
    assert parse_note(served(0).content.decode())[0] == latest.body
    assert parse_note(served(1).content.decode())[0] == newer.body
    note = served(2).content.decode()
    assert parse_note(note)[0] == older.body
    keys = {m.code: [raw_public_key(m.private_key)] for m in (banks.tmb, banks.partner)}
    assert set(cosigners_verified(note, keys)) == {"TMB-PK", "PARTNER-MY"}
    open_checkpoint(note, checkpoint_verifier())
    missing = served(3)
    assert missing.status_code == 404 and missing.json()["code"] == "not_witnessed"
    assert client.get("/api/v1/ledger/checkpoint?witnessed=-1").status_code == 400
    assert checkpoint_witnessed(min_witnesses=2) == older


def test_an_inclusion_proof_against_the_witnessed_checkpoint_names_its_witnesses(banks, client):
    checkpoint = grow(5)
    cosign_as(banks.tmb, checkpoint)
    cosign_as(banks.partner, checkpoint)
    grow()  # newer, not yet witnessed
    body = client.get("/api/v1/ledger/proofs/inclusion?index=3&witnessed=2").json()
    assert body["tree_size"] == checkpoint.tree_size
    assert [(w["institution"], w["name"]) for w in body["witnesses"]] == [
        ("PARTNER-MY", "Partner"),
        ("TMB-PK", "TMB"),
    ]
    root = open_checkpoint(body["checkpoint"], checkpoint_verifier()).root
    hashes = [base64.b64decode(h) for h in body["hashes"]]
    assert merkle.verify_inclusion(
        base64.b64decode(body["leaf_hash"]), 3, checkpoint.tree_size, hashes, root
    )
    for query in ("index=3", "index=3&tree_size=4&witnessed=2"):
        refused = client.get(f"/api/v1/ledger/proofs/inclusion?{query}")
        assert refused.status_code == 400 and refused.json()["code"] == "validation_error"
    refused = client.get("/api/v1/ledger/proofs/inclusion?index=3&witnessed=3")
    assert refused.status_code == 404 and refused.json()["code"] == "not_witnessed"


def test_witnesses_endpoint_shows_what_each_vouched_for_and_its_lag(banks, client):
    checkpoint = grow()
    cosign_as(banks.tmb, checkpoint)
    grow(4)
    body = client.get("/api/v1/ledger/witnesses").json()
    by_code = {w["institution"]: w for w in body["witnesses"]}
    assert by_code["TMB-PK"]["cosigned_size"] == checkpoint.tree_size
    assert by_code["TMB-PK"]["lag_entries"] == 4
    assert by_code["PARTNER-MY"]["cosigned_size"] is None
    assert by_code["PARTNER-MY"]["checkpoint"] is None
    note = by_code["TMB-PK"]["checkpoint"]  # operator's line and TMB-PK's only
    assert len(parse_note(note)[1]) == 2 and parse_note(note)[0] == checkpoint.body
    open_checkpoint(note, checkpoint_verifier())


def test_a_lagging_witness_raises_the_alert_and_catching_up_clears_it(banks, settings, caplog):
    settings.LEDGER_WITNESS_LAG_ALERT_SECONDS = 60
    checkpoint = grow()
    cosign_as(banks.tmb, checkpoint)
    cosign_as(banks.partner, checkpoint)
    assert check_witnesses() == 0
    behind = grow()
    cosign_as(banks.partner, behind)
    later = timezone.now() + timedelta(seconds=61)
    with caplog.at_level(logging.ERROR, logger="ledger.services.witnesses"):
        checks = {c.institution: c for c in witnesses_lag_check(now=later)}
    assert checks["TMB-PK"].alerting and not checks["PARTNER-MY"].alerting
    assert checks["TMB-PK"].lag_entries == behind.tree_size - checkpoint.tree_size
    assert "ALERT witness TMB-PK lags" in caplog.text
    alerted = Witness.objects.get(institution=banks.tmb.institution).lag_alert_since
    assert alerted == later
    witnesses_lag_check(now=later + timedelta(seconds=30))  # raised once, kept
    assert Witness.objects.get(institution=banks.tmb.institution).lag_alert_since == alerted

    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("ledger", "status", "--check", stdout=out)
    assert exited.value.code == 2
    text = out.getvalue()
    assert "TMB-PK" in text and "ALERT since" in text and f"size {behind.tree_size}" in text

    cosign_as(banks.tmb, behind)
    witnesses_lag_check(now=later + timedelta(seconds=60))
    assert Witness.objects.get(institution=banks.tmb.institution).lag_alert_since is None
    call_command("ledger", "status", "--check", stdout=io.StringIO())  # no exit: all clear


def test_a_witness_that_never_cosigns_lags_from_its_registration(network):
    grow()
    witness = witness_register(institution=network.tmb.institution)
    now = witness.created_at + timedelta(seconds=5)
    assert not witnesses_lag_check(now=now)[0].alerting
    assert witnesses_lag_check(now=now + timedelta(seconds=200))[0].alerting


def test_the_same_checkpoint_must_be_cosigned_by_all(banks):
    first = grow()
    cosign_as(banks.tmb, first)
    second = grow()
    cosign_as(banks.partner, second)
    ids = [banks.tmb.institution.pk, banks.partner.institution.pk]
    assert checkpoint_cosigned_by_all(after_seq=0, institution_ids=ids) is None
    cosign_as(banks.tmb, second)
    assert checkpoint_cosigned_by_all(after_seq=0, institution_ids=ids) == second
    assert checkpoint_cosigned_by_all(after_seq=second.tree_size, institution_ids=ids) is None


def test_export_of_the_witnessed_checkpoint_verifies_with_its_witnesses(banks, tmp_path, capsys):
    checkpoint = grow()
    cosign_as(banks.tmb, checkpoint)
    cosign_as(banks.partner, checkpoint)
    grow()
    call_command(
        "ledger", "export", "--out", str(tmp_path), "--witnessed", "2", stdout=io.StringIO()
    )
    assert len((tmp_path / "entries.jsonl").read_bytes().splitlines()) == checkpoint.tree_size
    vkey = checkpoint_verifier().vkey
    assert verify_main([str(tmp_path), "--trusted-key", vkey, "--min-witnesses", "2"]) == 0
    assert "witnesses=PARTNER-MY,TMB-PK" in capsys.readouterr().out
    assert verify_main([str(tmp_path), "--trusted-key", vkey, "--min-witnesses", "3"]) == 1
    with pytest.raises(Exception, match="no checkpoint cosigned by 3"):
        call_command("ledger", "export", "--out", str(tmp_path), "--witnessed", "3")


def test_the_admin_lists_witnesses_with_their_lag(banks, admin_client):
    cosign_as(banks.tmb, grow())
    grow(2)
    page = admin_client.get("/admin/ledger/witness/")
    assert page.status_code == 200
    assert b"TMB-PK" in page.content and b"PARTNER-MY" in page.content
    detail = admin_client.get(f"/admin/ledger/witness/{banks.tmb.institution.pk}/change/")
    assert detail.status_code == 200 and b"Save" not in detail.content


def test_seed_demo_registers_the_external_banks_as_witnesses_with_the_log_key(
    db, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # a re-run changes nothing
    codes = sorted(Witness.objects.values_list("institution__code", flat=True))
    assert codes == ["PARTNER-MY", "TMB-PK"]
    for code in codes:
        credentials = json.loads((tmp_path / "demo" / f"{code}.json").read_text())
        assert credentials["log_key"] == checkpoint_verifier().vkey
