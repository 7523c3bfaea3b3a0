"""Settlement instructions and reports of a window: CSV, ISO 20022 pacs.008.001.08 XML
(validated against the official XSD vendored in settlement/xsd/, see its README), and the
per-window settlement report (CSV; the admin shows the same figures).

One instruction per non-operator net position: a negative position pays the operator's FX
desk, a positive one is paid by it. The EndToEndId is the position's `end_to_end_id`, which the
settlement bank's camt.053 echoes back for reconciliation."""

from __future__ import annotations

import csv
import io
from functools import cache
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import xmlschema
from django.conf import settings
from django.utils import timezone

from core.errors import DomainError
from core.money import Money
from settlement.models import NetPosition, NetRole, Obligation, SettlementWindow, WindowStatus

XSD_DIR = Path(__file__).resolve().parent.parent / "xsd"
PACS008_NS = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"


class InvalidInstruction(DomainError):
    code, status, title = "invalid_instruction", 500, "Generated XML does not validate"


class NothingToInstruct(DomainError):
    code, status, title = "nothing_to_instruct", 409, "The window has no net obligations"


@cache
def schema(name: str) -> xmlschema.XMLSchema:
    """The vendored official XSD `name` (e.g. "pacs.008.001.08"), parsed once per process."""
    return xmlschema.XMLSchema(str(XSD_DIR / f"{name}.xsd"))


def _instructable(window: SettlementWindow) -> list[NetPosition]:
    if window.status not in (WindowStatus.CLOSED, WindowStatus.SETTLED, WindowStatus.FAILED):
        raise DomainError(f"{window} is {window.status}; instructions follow the close")
    return list(
        NetPosition.objects.filter(window=window)
        .exclude(role=NetRole.FX_DESK)
        .select_related("institution")
        .order_by("pk")
    )


def _parties(position: NetPosition) -> tuple[str, str]:
    operator = str(settings.LEDGER_OPERATOR_CODE)
    code = position.institution.code
    return (code, operator) if position.net_minor < 0 else (operator, code)


def _value_date(window: SettlementWindow) -> str:
    return (window.settled_at or window.closed_at or timezone.now()).date().isoformat()


def window_instructions_csv(*, window: SettlementWindow) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["end_to_end_id", "window", "value_date", "debtor", "creditor", "amount", "currency"]
    )
    for position in _instructable(window):
        debtor, creditor = _parties(position)
        amount = Money.from_minor(abs(position.net_minor), position.currency)
        writer.writerow(
            [
                position.end_to_end_id,
                f"{window.corridor.code}#{window.number}",
                _value_date(window),
                debtor,
                creditor,
                str(amount.amount),
                amount.currency,
            ]
        )
    return out.getvalue()


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{PACS008_NS}}}{tag}", attrib)
    if text is not None:
        element.text = text
    return element


def _party(parent: ET.Element, tag: str, code: str) -> None:
    party = _sub(parent, tag)
    _sub(party, "Nm", code)
    other = _sub(_sub(_sub(party, "Id"), "OrgId"), "Othr")
    _sub(other, "Id", code)
    _sub(other, "Issr", "REMIT-NETWORK")


def _agent(parent: ET.Element, tag: str, code: str) -> None:
    institution = _sub(_sub(parent, tag), "FinInstnId")
    _sub(_sub(institution, "Othr"), "Id", code)


def window_instructions_pacs008(*, window: SettlementWindow) -> bytes:
    """The window's instructions as one pacs.008.001.08 message, validated before it is
    returned (InvalidInstruction if our own XML would not pass the official schema)."""
    positions = _instructable(window)
    if not positions:
        raise NothingToInstruct(f"{window} has no net obligations")
    ET.register_namespace("", PACS008_NS)
    document = ET.Element(f"{{{PACS008_NS}}}Document")
    message = _sub(document, "FIToFICstmrCdtTrf")
    header = _sub(message, "GrpHdr")
    _sub(header, "MsgId", f"STL-{window.corridor.code}-{window.number}"[:35])
    _sub(header, "CreDtTm", timezone.now().replace(microsecond=0).isoformat())
    _sub(header, "NbOfTxs", str(len(positions)))
    _sub(header, "IntrBkSttlmDt", _value_date(window))
    _sub(_sub(header, "SttlmInf"), "SttlmMtd", "INDA")
    for position in positions:
        debtor, creditor = _parties(position)
        amount = Money.from_minor(abs(position.net_minor), position.currency)
        tx = _sub(message, "CdtTrfTxInf")
        ids = _sub(tx, "PmtId")
        _sub(ids, "InstrId", position.end_to_end_id)
        _sub(ids, "EndToEndId", position.end_to_end_id)
        _sub(ids, "TxId", position.end_to_end_id)
        _sub(tx, "IntrBkSttlmAmt", str(amount.amount), Ccy=amount.currency)
        _sub(tx, "ChrgBr", "SHAR")
        _party(tx, "Dbtr", debtor)
        _agent(tx, "DbtrAgt", debtor)
        _agent(tx, "CdtrAgt", creditor)
        _party(tx, "Cdtr", creditor)
        remittance = _sub(tx, "RmtInf")
        _sub(remittance, "Ustrd", f"Net settlement {window.corridor.code} window {window.number}")
    data = ET.tostring(document, encoding="utf-8", xml_declaration=True)
    errors = list(schema("pacs.008.001.08").iter_errors(io.BytesIO(data)))
    if errors:
        raise InvalidInstruction(f"pacs.008 does not validate: {errors[0].reason}")
    return data


def window_report(*, window: SettlementWindow) -> dict[str, Any]:
    """The figures of the settlement report (admin page and CSV)."""

    def money(minor: int | None, currency: str) -> str:
        return "" if minor is None else str(Money.from_minor(minor, currency))

    send, recv = window.send_currency, window.receive_currency
    return {
        "window": window,
        "summary": [
            ("Corridor", window.corridor.code),
            ("Window", window.number),
            ("Status", window.get_status_display()),
            ("Opened", window.opened_at),
            ("Closed", window.closed_at or ""),
            ("Settled", window.settled_at or ""),
            ("Orders", window.order_count),
            ("Sent", money(window.send_minor, send)),
            ("Fees (fee income at credit)", money(window.fee_minor, send)),
            ("Paid out", money(window.receive_minor, recv)),
            ("Settlement rate", window.settlement_rate or ""),
            ("Converted", money(window.converted_minor, recv)),
            ("FX gain (+) / loss (−)", money(window.fx_pnl_minor, recv)),
            ("Statement (queued ref)", window.statement_ref or ""),
            ("Failure", window.failure_reason),
        ],
        "obligations": [
            {
                "sending": o.sending_institution.code,
                "receiving": o.receiving_institution.code,
                "orders": o.order_count,
                "send": money(o.send_minor, o.send_currency),
                "fee": money(o.fee_minor, o.send_currency),
                "receive": money(o.receive_minor, o.receive_currency),
            }
            for o in Obligation.objects.filter(window=window).select_related(
                "sending_institution", "receiving_institution"
            )
        ],
        "positions": [
            {
                "institution": p.institution.code,
                "role": p.get_role_display(),
                "net": money(p.net_minor, p.currency),
                "end_to_end_id": p.end_to_end_id,
            }
            for p in NetPosition.objects.filter(window=window).select_related("institution")
        ],
    }


def window_report_csv(*, window: SettlementWindow) -> str:
    report = window_report(window=window)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "field", "value"])
    for label, value in report["summary"]:
        writer.writerow(["summary", label, value])
    writer.writerow([])
    writer.writerow(["obligations", "sending", "receiving", "orders", "send", "fee", "receive"])
    for o in report["obligations"]:
        writer.writerow(["obligation", *o.values()])
    writer.writerow([])
    writer.writerow(["net_positions", "institution", "role", "net", "end_to_end_id"])
    for p in report["positions"]:
        writer.writerow(["net_position", *p.values()])
    return out.getvalue()
