"""Witnesses that run: the hub (live server) and the two external banks' witnesses as real
processes (`python -m partner_sdk.witness`). Every new checkpoint gets both cosignatures
within seconds; the export of the checkpoint they both cosigned verifies with the standalone
verifier, and so do the witnesses' own mirrors; settlement of a window waits for them.
PostgreSQL only (a live server needs a transactional test)."""

from __future__ import annotations

import base64
import io
import json
import sys
import time

import httpx
import pytest
from django.core.management import call_command

from ledger.selectors.log import checkpoint_latest, checkpoint_verifier
from ledger.services.log import ledger_integrate, statement_issue
from ledger.services.witnesses import witness_register
from partner_sdk.note import NoteVerifier, cosigners_verified, open_checkpoint
from partner_sdk.verify import main as verify_main
from partner_sdk.verify import verify_export
from partner_sdk.wire import raw_public_key
from settlement.models import SettlementWindow
from settlement.services import windows
from tests.conftest import requires_postgres, spawn, stop, wait_for
from tests.remittance.conftest import corridor  # noqa: F401 (fixture)

pytestmark = [pytest.mark.postgres, requires_postgres]


def _credentials(member, hub_url: str, directory) -> str:
    path = directory / f"{member.code}.json"
    path.write_text(
        json.dumps(
            {
                "institution": member.code,
                "hub_url": hub_url,
                "api_key": member.api_key,
                "signing_key": base64.b64encode(member.private_key.private_bytes_raw()).decode(),
                "key_id": member.key_id,
                "log_key": checkpoint_verifier().vkey,
            }
        )
    )
    return str(path)


@pytest.fixture
def witnessed_hub(live_server, corridor, tmp_path):  # noqa: F811 (the fixture)
    network = corridor.network
    banks = (network.partner, network.tmb)
    for member in banks:
        witness_register(institution=member.institution)
    procs = [
        spawn(
            [
                sys.executable,
                "-m",
                "partner_sdk.witness",
                "--credentials",
                _credentials(member, live_server.url, tmp_path),
                "--state-dir",
                str(tmp_path / "witness" / member.code),
                "--interval",
                "0.2",
                "--max-seconds",
                "300",
                "--log-level",
                "WARNING",
            ]
        )
        for member in banks
    ]
    try:
        yield live_server.url, corridor, tmp_path
    finally:
        stop(*procs)


def _served(url: str, witnessed: int | None = None) -> tuple[int, str]:
    params = {} if witnessed is None else {"witnessed": witnessed}
    response = httpx.get(f"{url}/api/v1/ledger/checkpoint", params=params, timeout=5)
    return response.status_code, response.text


@pytest.mark.django_db(transaction=True)
def test_every_checkpoint_is_cosigned_by_both_banks_within_seconds(witnessed_hub):
    url, priced, tmp_path = witnessed_hub
    network = priced.network
    keys = {m.code: [raw_public_key(m.private_key)] for m in (network.partner, network.tmb)}
    lags = []
    for batch in range(4):
        for i in range(25):
            statement_issue(institution="HUB", kind="test.note", body={"batch": batch, "n": i})
        ledger_integrate()
        published = time.monotonic()
        latest = checkpoint_latest()

        def both_cosigned(size: int = latest.tree_size) -> bool:
            status, note = _served(url)
            return (
                status == 200 and f"\n{size}\n" in note and len(cosigners_verified(note, keys)) == 2
            )

        assert wait_for(both_cosigned, 30, interval=0.05), _served(url)
        lags.append(time.monotonic() - published)
    assert max(lags) < 10, lags  # "within seconds" (the witnesses poll every 0.2 s here)
    status, note = _served(url, witnessed=2)
    assert status == 200
    open_checkpoint(note, checkpoint_verifier())
    assert set(cosigners_verified(note, keys)) == {"PARTNER-MY", "TMB-PK"}

    export = tmp_path / "export"
    call_command("ledger", "export", "--out", str(export), "--witnessed", "2", stdout=io.StringIO())
    vkey = checkpoint_verifier().vkey
    assert verify_main([str(export), "--trusted-key", vkey, "--min-witnesses", "2"]) == 0
    for code in ("PARTNER-MY", "TMB-PK"):  # each bank's own copy verifies on its own
        mirror = verify_export(
            tmp_path / "witness" / code, checkpoint_key=NoteVerifier.from_vkey(vkey)
        )
        assert mirror.size == checkpoint_latest().tree_size and mirror.witnesses == (code,)


@pytest.mark.django_db(transaction=True)
def test_settlement_executes_once_both_witnesses_verified_the_window(witnessed_hub):
    from tests.settlement.conftest import credited_order

    _, priced, _ = witnessed_hub
    credited_order(priced, "1000.00")
    window = SettlementWindow.objects.get(status="open")
    windows.window_close(window_id=window.pk)
    ledger_integrate()

    def settles() -> bool:
        try:
            windows.window_settle(window_id=window.pk, settlement_rate="63.5")
        except windows.WindowNotWitnessed:
            return False
        return True

    assert wait_for(settles, 30, interval=0.2)
    window.refresh_from_db()
    assert window.status == "settled"
