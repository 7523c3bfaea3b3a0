"""The receipt as a PDF (fpdf2, pure Python) and its QR code (segno, pure Python).

The PDF is written with DejaVu Sans when the system has it (Debian's fonts-dejavu, which
Chromium pulls in) and falls back to the PDF core font (Latin-1 only) otherwise. Urdu needs
Arabic-script shaping, which fpdf2 does only with an extra native library, so an Urdu
customer's PDF is in English; the HTML receipt is in their language."""

from __future__ import annotations

import io
from pathlib import Path

import segno
from django.utils.translation import gettext as _
from fpdf import FPDF

from wallet.receipts import Receipt

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
PDF_LANGUAGES = {"en", "ms"}


def qr_svg_data_uri(url: str) -> str:
    """A QR code of `url` as an SVG data: URI (the CSP allows data: images)."""
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2, dark="#1b1f23")


def qr_png(url: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


def pdf_language(language: str | None) -> str:
    code = (language or "en").split("-")[0]
    return code if code in PDF_LANGUAGES else "en"


class _ReceiptPdf(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        regular, bold = DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            self.add_font("Body", "", str(regular))
            self.add_font("Body", "B", str(bold))
            self.family, self.unicode = "Body", True
        else:
            self.family, self.unicode = "Helvetica", False

    def text_safe(self, text: str) -> str:
        if self.unicode:
            return text
        return (
            text.replace("•", "*").replace("—", "-").encode("latin-1", "replace").decode("latin-1")
        )


def receipt_pdf(receipt: Receipt, *, verify_url: str, times_note: str) -> bytes:
    """The receipt (already formatted for the PDF's language) as PDF bytes."""
    pdf = _ReceiptPdf()
    pdf.set_title(f"Receipt {receipt.reference}")
    pdf.set_creator("Remit MY-PK wallet")
    pdf.add_page()
    pdf.set_margins(18, 18, 18)
    pdf.set_font(pdf.family, "B", 18)
    pdf.set_text_color(11, 110, 79)
    pdf.cell(0, 10, pdf.text_safe(_("Transfer receipt")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(27, 31, 35)
    pdf.set_font(pdf.family, "B", 14)
    pdf.cell(
        0,
        9,
        pdf.text_safe(_("Reference %(reference)s") % {"reference": receipt.reference}),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font(pdf.family, "", 10)
    pdf.cell(0, 6, pdf.text_safe(_("Status: %(status)s") % {"status": receipt.status_word}))
    pdf.ln(10)
    rows = receipt_rows(receipt)
    for label, value, _ltr in rows:
        pdf.set_font(pdf.family, "", 10)
        pdf.set_text_color(87, 96, 106)
        pdf.cell(62, 7, pdf.text_safe(label))
        pdf.set_text_color(27, 31, 35)
        pdf.set_font(pdf.family, "B" if label == _("They receive") else "", 10)
        pdf.multi_cell(0, 7, pdf.text_safe(value), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(pdf.family, "", 9)
    pdf.set_text_color(87, 96, 106)
    pdf.multi_cell(0, 5, pdf.text_safe(times_note), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    top = pdf.get_y()
    pdf.image(io.BytesIO(qr_png(verify_url)), x=pdf.l_margin, y=top, w=38, h=38)
    pdf.set_xy(pdf.l_margin + 44, top + 2)
    pdf.set_text_color(27, 31, 35)
    pdf.multi_cell(
        0,
        5,
        pdf.text_safe(
            _(
                "Scan the code, or open the address below, to check in your browser that this "
                "transfer is recorded in the network's public ledger, signed by the banks involved."
            )
        ),
        align="L",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_x(pdf.l_margin + 44)
    pdf.set_font(pdf.family, "", 8)
    pdf.multi_cell(0, 5, pdf.text_safe(verify_url), align="L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def receipt_rows(receipt: Receipt) -> list[tuple[str, str, bool]]:
    """The receipt's lines (label, value, whether the value always reads left to right: ids
    and lists of numbers, which a right-to-left page would otherwise reorder), in the active
    language, for the HTML and the PDF alike."""
    ledger = ", ".join(f"#{seq}" for seq in receipt.ledger_seqs)
    rate = _("RM 1 = Rs %(rate)s (mid-market %(mid)s; our margin %(margin)s%%)") % {
        "rate": receipt.rate,
        "mid": receipt.mid_rate,
        "margin": receipt.margin_percent,
    }
    rows: list[tuple[str, str, bool]] = [
        (_("You sent"), receipt.send, False),
        (_("Fee"), receipt.fee, False),
        (_("Total paid"), receipt.total, False),
        (_("Exchange rate"), rate, False),
        (_("They receive"), receipt.receive, False),
        (_("Recipient"), receipt.recipient, False),
        (_("Sent through"), receipt.sending_bank, False),
        (_("Paid out by"), receipt.receiving_bank, False),
        (_("Receiving bank's reference"), receipt.payout_reference or "—", True),
        (_("Paid at"), receipt.created_at, False),
        (_("Delivered at"), receipt.credited_at or "—", False),
        (_("Transfer id"), receipt.order_id, True),
        (_("Ledger entries"), ledger or _("not yet recorded"), bool(ledger)),
    ]
    return rows
