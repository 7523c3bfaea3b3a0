"""A case as a suspicious transaction report for the financial intelligence unit (goAML XML,
validated against the vendored goAML 5.0.2 schema, compliance/xsd/) and as a PDF summary.

Both carry personal data — that is what an STR is for: the parties' KYC records are
decrypted for the purpose `str:<case ref>` (each decryption is in the KYC access log), and
the files are produced on request, never stored. The mapping from our records to goAML's
elements is documented in docs/compliance.md ("goAML mapping")."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from compliance.models import Alert, Case
from core.money import Money
from kyc.models import KycRecord
from remittance.models import RemittanceOrder

XSD_PATH = Path(__file__).resolve().parent.parent / "xsd" / "goAMLSchema.xsd"

# the indicator goAML lists for each of our typologies (report_indicator_type codes)
INDICATORS = {
    "structuring": "STRUC",
    "velocity": "FRQDW",
    "mule": "MSBWT",
    "profile": "PDIM",
    "sanctions": "TFSUN",
}
DEFAULT_INDICATOR = "PDIM"


# The published schema writes its name pattern as "^[a-zA-Z0-9 .'-]*$", meant as anchors (the
# goAML portal is .NET); in XSD regex ^ and $ are literal characters, so a strict validator
# would refuse every real name. We read it as the portal does (docs/compliance.md).
_NAME_PATTERN = '"^[a-zA-Z0-9 .\'-]*$"'


@lru_cache(maxsize=1)
def goaml_schema() -> Any:
    import xmlschema

    text = XSD_PATH.read_text(encoding="utf-8")
    return xmlschema.XMLSchema11(text.replace(_NAME_PATTERN, '"[a-zA-Z0-9 .\'-]*"'))


@dataclass(frozen=True)
class GoamlReport:
    xml: bytes
    errors: list[str]

    @property
    def valid(self) -> bool:
        return not self.errors


def _sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _ascii_name(value: str) -> str:
    """goAML's name fields allow [a-zA-Z0-9 .'-] only: transliterate what we can."""
    import unicodedata

    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded if ch.isalnum() or ch in " .'-").strip() or "Unknown"


def _date(value: Any) -> str:
    if isinstance(value, str) and len(value) >= 10:
        return value[:10] + "T00:00:00"
    if isinstance(value, date):
        return value.isoformat()[:10] + "T00:00:00"
    return "1900-01-01T00:00:00"


def _decrypt(kyc_ref: str, *, actor: str, purpose: str) -> dict[str, Any]:
    from kyc.services import kyc_record_read

    record = KycRecord.objects.filter(kyc_ref=kyc_ref).first()
    if record is None or record.is_erased:
        return {}
    payload = kyc_record_read(record=record, actor=actor, purpose=purpose)
    data = payload.get("data", payload)
    return data if isinstance(data, dict) else {}


def _person(parent: ET.Element, tag: str, data: dict[str, Any], *, my_client: bool) -> None:
    """A person in goAML's element order (t_person_my_client / t_person)."""
    person = _sub(parent, tag)
    name = data.get("name") or {}
    address = data.get("address") or {}
    _sub(person, "gender", {"male": "M", "female": "F"}.get(str(data.get("gender")), "-"))
    _sub(person, "first_name", _ascii_name(str(name.get("given", ""))))
    _sub(person, "last_name", _ascii_name(str(name.get("family", ""))))
    if my_client or data.get("date_of_birth"):
        _sub(person, "birthdate", _date(data.get("date_of_birth")))
    birth = data.get("place_of_birth") or {}
    if birth.get("city"):
        _sub(person, "birth_place", str(birth["city"])[:255])
    docs = [d for d in data.get("id_documents") or [] if isinstance(d, dict)]
    passport = next((d for d in docs if d.get("type") == "passport"), None)
    if passport is not None:
        _sub(person, "passport_number", str(passport.get("number", ""))[:255])
        _sub(person, "passport_country", str(passport.get("issuing_country", ""))[:2])
    national = next((d for d in docs if d.get("type") != "passport"), None)
    if national is not None:
        _sub(person, "id_number", str(national.get("number", ""))[:255])
    elif my_client:  # required for one's own client: the passport is their identity number
        _sub(person, "id_number", str((passport or {}).get("number", "-"))[:255] or "-")
    if data.get("nationality"):
        _sub(person, "nationality1", str(data["nationality"])[:2])
    if my_client:
        _sub(person, "residence", str(address.get("country", "MY"))[:2] or "MY")
    phone = data.get("phone")
    if phone:
        phones = _sub(person, "phones")
        t = _sub(phones, "phone")
        _sub(t, "tph_contact_type", "PRIVT")
        _sub(t, "tph_communication_type", "M")
        _sub(t, "tph_number", str(phone)[:50])
    if address:
        addresses = _sub(person, "addresses")
        a = _sub(addresses, "address")
        _sub(a, "address_type", "PRIVT")
        _sub(a, "address", str(address.get("line1", "-"))[:100] or "-")
        _sub(a, "city", str(address.get("city", "-"))[:255] or "-")
        _sub(a, "country_code", str(address.get("country", "PK"))[:2])
        _sub(a, "state", "-")


def case_goaml(*, case: Case, actor: str) -> GoamlReport:
    """The case as a goAML STR, and the schema's verdict on it (errors, empty if valid)."""
    purpose = f"str:{case.ref}"
    orders = list(
        RemittanceOrder.objects.filter(pk__in=case.order_ids)
        .select_related("sending_institution", "receiving_institution")
        .order_by("created_at")
    )
    typologies = set(
        Alert.objects.filter(case=case).exclude(typology="").values_list("typology", flat=True)
    )
    report = ET.Element("report")
    _sub(report, "rentity_id", getattr(settings, "GOAML_RENTITY_ID", 1))
    _sub(report, "submission_code", "E")
    _sub(report, "report_code", "STR")
    _sub(report, "entity_reference", case.ref)
    _sub(report, "submission_date", timezone.now().strftime("%Y-%m-%dT%H:%M:%S"))
    _sub(report, "currency_code_local", getattr(settings, "GOAML_LOCAL_CURRENCY", "MYR"))
    _sub(report, "reason", (case.title + ". " + case.decision)[:4000])
    _sub(report, "action", "Transactions held or reviewed by the hub's compliance officers.")
    parties: dict[str, dict[str, Any]] = {}
    for order in orders:
        for ref in (order.sender_kyc_ref, order.beneficiary_kyc_ref):
            if ref not in parties:
                parties[ref] = _decrypt(ref, actor=actor, purpose=purpose)
        t = _sub(report, "transaction")
        _sub(t, "transactionnumber", str(order.pk))
        _sub(t, "internal_ref_number", str(order.pk)[:100])
        _sub(t, "transaction_location", order.sending_institution.code)
        _sub(
            t,
            "transaction_description",
            f"Remittance {order.send_currency}→{order.receive_currency} via "
            f"{order.sending_institution.code} to {order.receiving_institution.code}, "
            f"status {order.status}",
        )
        _sub(t, "date_transaction", order.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
        _sub(t, "transmode_code", "ELCFT")
        _sub(t, "transmode_comment", "-")
        send = Money.from_minor(order.send_minor, order.send_currency)
        _sub(t, "amount_local", str(send.amount))
        # t_from, not t_from_my_client: the sender is the sending institution's customer, and
        # t_person_my_client demands identity-document dates KYC records do not hold
        frm = _sub(t, "t_from")
        _sub(frm, "from_funds_code", "ELCFT")
        _person(frm, "from_person", parties[order.sender_kyc_ref], my_client=False)
        _sub(frm, "from_country", "MY")
        to = _sub(t, "t_to")
        _sub(to, "to_funds_code", "ELCFT")
        receive = Money.from_minor(order.receive_minor, order.receive_currency)
        fc = _sub(to, "to_foreign_currency")
        _sub(fc, "foreign_currency_code", receive.currency)
        _sub(fc, "foreign_amount", str(receive.amount))
        _sub(fc, "foreign_exchange_rate", str(order.rate))
        _person(to, "to_person", parties[order.beneficiary_kyc_ref], my_client=False)
        _sub(to, "to_country", "PK")
    indicators = _sub(report, "report_indicators")
    for code in sorted(
        {INDICATORS.get(t, DEFAULT_INDICATOR) for t in typologies} or {DEFAULT_INDICATOR}
    ):
        _sub(indicators, "indicator", code)
    ET.indent(report)
    xml = ET.tostring(report, encoding="utf-8", xml_declaration=True)
    return GoamlReport(xml=xml, errors=goaml_validate(xml))


def goaml_validate(xml: bytes) -> list[str]:
    """The schema's errors (at most 20), empty when the document is valid."""
    schema = goaml_schema()
    return [
        f"{e.path}: {e.reason}"
        for _, e in zip(range(20), schema.iter_errors(xml.decode()), strict=False)
    ]


def case_pdf(*, case: Case, actor: str) -> bytes:
    """A summary of the case for the file: what, who (by staff id), which orders and alerts,
    notes, decision. No KYC data: the STR carries that."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 10, _latin1(f"Case {case.ref}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for label, value in (
        ("Title", case.title),
        ("Status", case.get_status_display()),
        ("Opened", f"{case.created_at:%Y-%m-%d %H:%M} UTC by {case.opened_by}"),
        ("Deadline", str(case.deadline or "-")),
        ("Decision", case.decision or "-"),
        ("Printed", f"{timezone.now():%Y-%m-%d %H:%M} UTC by {actor}"),
    ):
        pdf.multi_cell(0, 6, _latin1(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, "Orders", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for order in RemittanceOrder.objects.filter(pk__in=case.order_ids).order_by("created_at"):
        send = Money.from_minor(order.send_minor, order.send_currency)
        receive = Money.from_minor(order.receive_minor, order.receive_currency)
        pdf.multi_cell(
            0,
            5,
            _latin1(
                f"{order.pk}  {order.created_at:%Y-%m-%d %H:%M}  {send} -> {receive}  "
                f"{order.status}  sender {order.sender_kyc_ref}"
            ),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, "Alerts", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for alert in case.alerts.all():
        whys = "; ".join(str(f.get("why", "")) for f in alert.findings)
        pdf.multi_cell(
            0,
            5,
            _latin1(
                f"{alert.ref} {alert.source}/{alert.action} {alert.typology} {alert.score}: {whys}"
            ),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, "Notes", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for note in case.notes.all():
        pdf.multi_cell(
            0,
            5,
            _latin1(f"{note.created_at:%Y-%m-%d %H:%M} {note.author}: {note.text}"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    return text.replace("→", "->").replace("—", "-").encode("latin-1", "replace").decode("latin-1")
