"""A customer's transfers: filtered, paged, and as CSV. Reads only."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable
from datetime import tzinfo
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.money import Money
from remittance.models import Customer, Recipient, RemittanceOrder
from wallet.display import PAYOUT_WORDS, STATUS_GROUPS, status_text
from wallet.references import order_reference

# A cell a spreadsheet would run as a formula starts with one of these (CSV injection): such
# text (a bank's payout reference is the only outside text here) gets a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def recipient_label(recipient: Recipient | None, label: Any = None) -> str:
    """ "Ali Khan · Easypaisa ••••4567": the name and provider from the recipient's KYC record
    when the page has decrypted it (`label`, wallet.selectors.recipient_labels), else the
    payout method and the last digits."""
    if recipient is None:
        return "—"
    method = str(PAYOUT_WORDS.get(recipient.payout_method, recipient.payout_method))
    if recipient.payout_method == "mobile_wallet" and label is not None and label.provider:
        method = label.provider
    text = f"{method} {recipient.payout_hint}".strip()
    return f"{label.name} · {text}" if label is not None and label.name else text


class HistoryFilterForm(forms.Form):
    """The history's filters, from the query string. An unknown value is an error shown
    next to the field, and the list is not filtered by it."""

    status = forms.ChoiceField(required=False, label=gettext_lazy("Status"))
    recipient = forms.ChoiceField(required=False, label=gettext_lazy("Recipient"))

    def __init__(
        self, *args: Any, customer: Customer, labels: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        status = self.fields["status"]
        recipient = self.fields["recipient"]
        assert isinstance(status, forms.ChoiceField) and isinstance(recipient, forms.ChoiceField)
        status.choices = [("", _("All"))] + [
            (key, label) for key, (label, _statuses) in STATUS_GROUPS.items()
        ]
        recipient.choices = [("", _("All"))] + [
            (str(r.pk), recipient_label(r, (labels or {}).get(r.kyc_ref)))
            for r in customer.recipients.order_by("created_at")
        ]
        self.fields["status"].error_messages["invalid_choice"] = _("Choose a status from the list.")
        self.fields["recipient"].error_messages["invalid_choice"] = _(
            "Choose one of your recipients from the list."
        )


def transfers_for(
    customer: Customer, *, status: str = "", recipient: str = ""
) -> QuerySet[RemittanceOrder]:
    """The customer's transfers, newest first, optionally one status group or recipient."""
    orders = RemittanceOrder.objects.filter(customer=customer).select_related("recipient")
    if status in STATUS_GROUPS:
        orders = orders.filter(status__in=STATUS_GROUPS[status][1])
    if recipient:
        try:
            orders = orders.filter(recipient_id=uuid.UUID(recipient))
        except ValueError:
            return orders.none()
    return orders.order_by("-created_at", "-pk")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def _decimal(minor: int, currency: str) -> str:
    return str(Money.from_minor(minor, currency).amount)


def transfers_csv(
    orders: Iterable[RemittanceOrder], *, tz: tzinfo, labels: dict[str, Any] | None = None
) -> str:
    """One row per transfer; amounts as plain decimals with their currency so a spreadsheet
    can add them up; times in the customer's zone, ISO 8601 with the offset."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            _("Reference"),
            _("Date"),
            _("Status"),
            _("Recipient"),
            _("Sent"),
            _("Fee"),
            _("Total paid"),
            _("Currency"),
            _("Rate"),
            _("Received"),
            _("Received currency"),
            _("Receiving bank's reference"),
            _("Delivered at"),
            _("Transfer id"),
        ]
    )
    for o in orders:
        writer.writerow(
            [
                order_reference(o.pk),
                timezone.localtime(o.created_at, tz).isoformat(timespec="seconds"),
                status_text(o.status),
                _cell(recipient_label(o.recipient, (labels or {}).get(o.beneficiary_kyc_ref))),
                _decimal(o.send_minor, o.send_currency),
                _decimal(o.fee_minor, o.send_currency),
                _decimal(o.send_minor + o.fee_minor, o.send_currency),
                o.send_currency,
                format(o.rate.normalize(), "f"),
                _decimal(o.receive_minor, o.receive_currency),
                o.receive_currency,
                _cell(o.payout_reference),
                timezone.localtime(o.credited_at, tz).isoformat(timespec="seconds")
                if o.credited_at
                else "",
                str(o.pk),
            ]
        )
    return out.getvalue()
