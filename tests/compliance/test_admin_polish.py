"""The admin shows money in major units with its currency, exports filtered orders and
alerts as CSV, and read-only pages have no Save button."""

from __future__ import annotations

import csv
import io

import pytest

from compliance.models import Alert

pytestmark = pytest.mark.django_db


def test_money_in_major_units_and_csv_exports(held_order, staff):
    _, auditor = staff("auditor")
    _, officer = staff("compliance_officer")
    orders = auditor.get("/admin/remittance/remittanceorder/?status__exact=held")
    assert b"100.00 MYR" in orders.content and b">10000<" not in orders.content
    accounts = auditor.get("/admin/ledger/account/?kind__exact=wallet")
    assert b"MYR" in accounts.content and b">50000<" not in accounts.content
    account = auditor.get("/admin/ledger/account/")
    assert b'name="_save"' not in account.content

    exported = officer.post(
        "/admin/remittance/remittanceorder/?status__exact=held",
        {"action": "export_csv", "_selected_action": [str(held_order.pk)]},
    )
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert exported["Content-Type"].startswith("text/csv")
    assert rows[0]["order_id"] == str(held_order.pk)
    assert (rows[0]["send_amount"], rows[0]["send_currency"]) == ("100.00", "MYR")
    assert rows[0]["status"] == "held"

    alert = Alert.objects.create(
        ref="alr_" + "b" * 26,
        source="monitoring",
        action="review",
        order_id=held_order.pk,
        kyc_ref=held_order.sender_kyc_ref,
        typology="velocity",
        score=50,
        amount_minor=10_000,
        currency="MYR",
        findings=[{"why": "6 transfers in an hour"}],
    )
    alerts = officer.post(
        "/admin/compliance/alert/", {"action": "export_csv", "_selected_action": [alert.pk]}
    )
    row = next(csv.DictReader(io.StringIO(alerts.content.decode())))
    assert (row["ref"], row["amount"], row["findings"]) == (
        alert.ref,
        "100.00",
        "6 transfers in an hour",
    )
