"""Settlement instructions (CSV, pacs.008 against the official XSD), the report, and a camt.053
sample that validates against its XSD and reconciles."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from settlement.models import Break, NetPosition, SettlementWindow
from settlement.services import instructions, windows
from settlement.services.statements import CAMT053_NS, InvalidStatementFile, statement_import
from tests.ledger.helpers import witnesses_catch_up

from .conftest import credited_order

pytestmark = pytest.mark.django_db


def closed_window(corridor) -> SettlementWindow:
    credited_order(corridor, "1000.00", payout_reference="EP-A")
    credited_order(corridor, "10.01", payout_reference="EP-B")
    window = SettlementWindow.objects.get(status="open")
    closed = windows.window_close(window_id=window.pk)
    witnesses_catch_up(corridor.network)  # settling waits for both banks' cosignatures
    return closed


def test_pacs008_export_validates_against_the_official_xsd(corridor):
    window = closed_window(corridor)
    data = instructions.window_instructions_pacs008(window=window)
    schema = instructions.schema("pacs.008.001.08")
    schema.validate(io.BytesIO(data))  # raises if invalid
    decoded = schema.to_dict(io.BytesIO(data), decimal_type=str)
    txs = decoded["FIToFICstmrCdtTrf"]["CdtTrfTxInf"]
    amounts = {tx["PmtId"]["EndToEndId"]: tx["IntrBkSttlmAmt"] for tx in txs}
    positions = NetPosition.objects.filter(window=window).exclude(role="fx_desk")
    assert set(amounts) == {p.end_to_end_id for p in positions}
    payer = next(tx for tx in txs if tx["Dbtr"]["Nm"] == "PARTNER-MY")
    assert payer["IntrBkSttlmAmt"] == {"$": "1010.01", "@Ccy": "MYR"}
    assert payer["Cdtr"]["Nm"] == "HUB"
    assert decoded["FIToFICstmrCdtTrf"]["GrpHdr"]["NbOfTxs"] == "2"


def test_a_broken_export_is_refused_not_sent(corridor, monkeypatch):
    window = closed_window(corridor)
    monkeypatch.setattr(instructions, "_value_date", lambda w: "not-a-date")
    with pytest.raises(instructions.InvalidInstruction):
        instructions.window_instructions_pacs008(window=window)


def test_instruction_csv_and_report(corridor):
    window = closed_window(corridor)
    rows = instructions.window_instructions_csv(window=window).splitlines()
    assert rows[0] == "end_to_end_id,window,value_date,debtor,creditor,amount,currency"
    body = {tuple(r.split(",")[3:]) for r in rows[1:]}
    assert body == {("PARTNER-MY", "HUB", "1010.01", "MYR"), ("HUB", "TMB-PK", "63494.27", "PKR")}
    windows.window_settle(window_id=window.pk, settlement_rate="63.5")
    window.refresh_from_db()
    report = instructions.window_report_csv(window=window)
    assert "summary,Orders,2" in report
    assert "FX gain (+) / loss (−),641.37 PKR" in report


def camt053(entries: list[tuple[str, str, str]], statement_id: str = "STMT-1") -> bytes:
    """A camt.053.001.08 statement; entries are (EndToEndId, amount, currency)."""
    ET.register_namespace("", CAMT053_NS)

    def sub(parent, tag, text=None, **attrib):
        element = ET.SubElement(parent, f"{{{CAMT053_NS}}}{tag}", attrib)
        if text is not None:
            element.text = text
        return element

    document = ET.Element(f"{{{CAMT053_NS}}}Document")
    message = sub(document, "BkToCstmrStmt")
    header = sub(message, "GrpHdr")
    sub(header, "MsgId", f"MSG-{statement_id}")
    sub(header, "CreDtTm", "2026-11-22T10:00:00")
    stmt = sub(message, "Stmt")
    sub(stmt, "Id", statement_id)
    sub(sub(sub(sub(stmt, "Acct"), "Id"), "Othr"), "Id", "HUB-NOSTRO-PKR")
    balance = sub(stmt, "Bal")
    sub(sub(sub(balance, "Tp"), "CdOrPrtry"), "Cd", "OPBD")
    sub(balance, "Amt", "0.00", Ccy="PKR")
    sub(balance, "CdtDbtInd", "CRDT")
    sub(sub(balance, "Dt"), "Dt", date(2026, 11, 22).isoformat())
    for n, (e2e, amount, currency) in enumerate(entries, start=1):
        entry = sub(stmt, "Ntry")
        sub(entry, "Amt", amount, Ccy=currency)
        sub(entry, "CdtDbtInd", "DBIT")
        sub(sub(entry, "Sts"), "Cd", "BOOK")
        sub(entry, "AcctSvcrRef", f"BANKREF-{n}")
        sub(entry, "BkTxCd")
        tx = sub(sub(entry, "NtryDtls"), "TxDtls")
        sub(sub(tx, "Refs"), "EndToEndId", e2e)
        sub(tx, "Amt", amount, Ccy=currency)
    return ET.tostring(document, encoding="utf-8", xml_declaration=True)


def test_camt053_sample_validates_and_reconciles_orders_and_instructions(corridor, tmp_path):
    window = closed_window(corridor)
    # EndToEndId is Max35Text: an order id travels as its 32 hex digits
    a, b = (o.order_id.hex for o in window.orders.order_by("credited_at"))
    payout = NetPosition.objects.get(window=window, institution__code="TMB-PK")
    good = [
        (a, "62865.00", "PKR"),  # an order's payout
        (b, "629.27", "PKR"),
        (payout.end_to_end_id, "63494.27", "PKR"),  # our settlement instruction, echoed back
    ]
    data = camt053(good)
    instructions.schema("camt.053.001.08").validate(io.BytesIO(data))
    path = tmp_path / "camt.xml"
    path.write_bytes(data)
    imported = statement_import(format="camt053", path=path)
    assert (imported.line_count, imported.break_count) == (3, 0)

    bad = camt053(
        [
            (a, "62865.01", "PKR"),
            (payout.end_to_end_id, "63494.00", "PKR"),
            ("W999999P1", "1.00", "PKR"),
        ],
        statement_id="STMT-2",
    )
    path = tmp_path / "camt2.xml"
    path.write_bytes(bad)
    imported = statement_import(format="camt053", path=path)
    assert dict(Break.objects.filter(statement_import=imported).values_list("line_no", "kind")) == {
        1: "line_mismatch",
        2: "line_mismatch",
        3: "line_unmatched",
    }


def test_an_invalid_camt053_is_refused(corridor, tmp_path):
    path = tmp_path / "bad.xml"
    path.write_bytes(camt053([("x", "1.00", "PKR")]).replace(b"<Sts>", b"<Oops/><Sts>"))
    with pytest.raises(InvalidStatementFile):
        statement_import(format="camt053", path=Path(path))
