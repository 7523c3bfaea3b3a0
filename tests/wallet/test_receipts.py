"""Receipts (HTML, PDF), the verify page's proof JSON, the history with its CSV, notices and
the web error pages — each only for the customer whose transfer it is."""

from __future__ import annotations

import base64
import csv
import io
import json

import pytest
from django.test import RequestFactory

from core.problems import handler500
from partner_sdk import merkle
from partner_sdk.note import NoteVerifier, cosigners_verified, parse_checkpoint, verify_note
from partner_sdk.wire import STATEMENT_DOMAIN, canonical_json
from remittance.models import Customer
from wallet.history import HistoryFilterForm
from wallet.notices.context_processors import notices as notices_context
from wallet.notices.models import Notification
from wallet.references import order_reference

from .transfers import recipient_add, transfer_deliver, transfer_reject, transfer_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(corridor, wallet_customer):
    order = transfer_send(wallet_customer, recipient_add(wallet_customer))
    transfer_deliver(corridor, order, payout_reference="EP-7781")
    order.refresh_from_db()
    return order


@pytest.fixture
def other_client(client, wallet_customer, django_user_model):
    """Logged in as another customer of the same bank, with a wallet of their own."""
    user = django_user_model.objects.create_user("bilal", password="pw-bilal-123")
    Customer.objects.create(user=user, institution=wallet_customer.institution)
    client.login(username="bilal", password="pw-bilal-123")
    return client


@pytest.fixture
def aisha(client, wallet_customer):
    assert client.login(username="aisha", password="pw-aisha-123")
    return client


def test_receipt_shows_amounts_rate_fee_references_local_times_and_a_qr_code(aisha, delivered):
    page = aisha.get(f"/wallet/transfers/{delivered.pk}/receipt")
    assert page.status_code == 200
    body = page.content.decode()
    assert order_reference(delivered.pk) in body
    for text in ("RM100.00", "RM5.50", "RM105.50", "EP-7781", "Delivered", "MYT", "Rukhsana"):
        assert text in body, text
    assert "mid-market" in body and "our margin 1" in body  # the 1 % margin, stated
    assert 'src="data:image/svg+xml' in body
    assert f"/wallet/transfers/{delivered.pk}/verify" in body


def test_receipt_pdf_is_a_pdf_named_by_the_reference(aisha, delivered):
    response = aisha.get(f"/wallet/transfers/{delivered.pk}/receipt.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert order_reference(delivered.pk) in response["Content-Disposition"]


def test_proof_json_holds_what_the_browser_needs_and_it_verifies(aisha, delivered):
    response = aisha.get(f"/wallet/transfers/{delivered.pk}/proof.json")
    assert response.status_code == 200
    bundle = response.json()
    assert bundle["reference"] == order_reference(delivered.pk)
    kinds = [e["kind"] for e in bundle["entries"]]
    assert {"order.submitted", "order.accepted", "order.credited"} <= set(kinds)
    operator = NoteVerifier(
        bundle["operator_key"]["name"], base64.b64decode(bundle["operator_key"]["public_key"])
    )
    assert bundle["operator_key"]["vkey"] == operator.vkey
    assert verify_note(bundle["checkpoint"], operator)
    checkpoint = parse_checkpoint(bundle["checkpoint"].split("\n\n")[0] + "\n")
    keys = {
        (k["signer"], k["key_id"]): base64.b64decode(k["public_key"]) for k in bundle["signer_keys"]
    }
    for entry in bundle["entries"]:
        leaf = base64.b64decode(entry["leaf"])
        proof = [base64.b64decode(h) for h in entry["proof"]]
        assert merkle.verify_inclusion(
            merkle.leaf_hash(leaf), entry["seq"], checkpoint.size, proof, checkpoint.root
        )
        parsed = json.loads(leaf)
        statement = parsed["statement"]
        assert parsed["seq"] == entry["seq"]
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        Ed25519PublicKey.from_public_bytes(keys[(statement["signer"], statement["key_id"])]).verify(
            base64.b64decode(parsed["sig"]), STATEMENT_DOMAIN + canonical_json(statement)
        )
        if entry["kind"].startswith("order."):
            assert statement["body"]["order_id"] == str(delivered.pk)
    # a flipped byte in a proof no longer verifies (what the browser test shows on the page)
    entry = bundle["entries"][0]
    proof = [bytearray(base64.b64decode(h)) for h in entry["proof"]]
    proof[0][0] ^= 1
    assert not merkle.verify_inclusion(
        merkle.leaf_hash(base64.b64decode(entry["leaf"])),
        entry["seq"],
        checkpoint.size,
        [bytes(p) for p in proof],
        checkpoint.root,
    )


def test_proof_json_names_the_witnesses_that_cosigned(aisha, delivered, corridor):
    from ledger.selectors.log import checkpoint_latest
    from ledger.services.log import cosignature_add
    from ledger.services.witnesses import witness_register
    from partner_sdk.note import cosign

    tmb = corridor.network.tmb
    witness_register(institution=tmb.institution)
    latest = checkpoint_latest()
    cosignature_add(
        institution=tmb.institution,
        checkpoint_text=latest.body,
        cosignature_line=cosign(
            latest.body, name=tmb.code, private_key=tmb.private_key, timestamp=1_700_000_000
        ),
    )
    bundle = aisha.get(f"/wallet/transfers/{delivered.pk}/proof.json").json()
    [witness] = bundle["witness_keys"]
    assert witness["name"] == tmb.code
    assert cosigners_verified(
        bundle["checkpoint"], {tmb.code: [base64.b64decode(witness["public_key"])]}
    ) == {tmb.code: 1_700_000_000}


def test_a_transfer_not_yet_in_the_ledger_says_so(aisha, corridor, wallet_customer):
    order = transfer_send(wallet_customer, recipient_add(wallet_customer))
    bundle = aisha.get(f"/wallet/transfers/{order.pk}/proof.json").json()
    assert bundle["entries"] == [] and bundle["pending"] >= 1 and bundle["checkpoint"] is None


@pytest.mark.parametrize("suffix", ["receipt", "receipt.pdf", "verify", "proof.json"])
def test_another_customers_transfer_is_not_found(other_client, delivered, suffix):
    assert other_client.get(f"/wallet/transfers/{delivered.pk}/{suffix}").status_code == 404


@pytest.mark.parametrize("suffix", ["receipt", "receipt.pdf", "verify", "proof.json"])
def test_a_visitor_is_sent_to_log_in(client, delivered, suffix):
    response = client.get(f"/wallet/transfers/{delivered.pk}/{suffix}")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_history_filters_by_status_and_recipient_and_offers_to_repeat(
    aisha, corridor, wallet_customer, delivered
):
    second = recipient_add(wallet_customer, hint="••••9911")
    refunded = transfer_send(wallet_customer, second, amount="20.00")
    transfer_reject(corridor, refunded)
    everything = aisha.get("/wallet/transfers/").content.decode()
    assert (
        order_reference(delivered.pk) in everything and order_reference(refunded.pk) in everything
    )
    only_delivered = aisha.get("/wallet/transfers/?status=delivered").content.decode()
    assert order_reference(delivered.pk) in only_delivered
    assert order_reference(refunded.pk) not in only_delivered
    to_second = aisha.get(f"/wallet/transfers/?recipient={second.pk}").content.decode()
    assert order_reference(refunded.pk) in to_second
    assert order_reference(delivered.pk) not in to_second
    assert f"recipient={delivered.recipient_id}&amp;amount=100.00" in everything


def test_history_says_what_is_wrong_with_a_filter(aisha, delivered):
    page = aisha.get("/wallet/transfers/?status=lost").content.decode()
    assert "Choose a status from the list." in page
    assert order_reference(delivered.pk) in page  # the list is still shown, unfiltered


def test_filter_form_messages(wallet_customer):
    form = HistoryFilterForm({"status": "nope", "recipient": "x"}, customer=wallet_customer)
    assert not form.is_valid()
    assert form.errors == {
        "status": ["Choose a status from the list."],
        "recipient": ["Choose one of your recipients from the list."],
    }
    assert HistoryFilterForm({"status": "refunded"}, customer=wallet_customer).is_valid()


def test_csv_lists_the_customers_transfers_with_plain_amounts(aisha, corridor, wallet_customer):
    order = transfer_send(wallet_customer, recipient_add(wallet_customer))
    transfer_deliver(corridor, order, payout_reference="EP-42")
    response = aisha.get("/wallet/transfers.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["Reference", "Date", "Status", "Recipient", "Sent"]
    [row] = rows[1:]
    assert row[0] == order_reference(order.pk)
    assert row[1].endswith("+08:00")  # Malaysia time
    assert row[2] == "Delivered"
    assert row[3].startswith("Rukhsana Bibi Chaudhry · ") and row[3].endswith("••••4567")
    assert row[4:8] == ["100.00", "5.50", "105.50", "MYR"]
    assert row[10] == "PKR"
    assert row[11] == "EP-42"
    assert row[13] == str(order.pk)


def test_csv_of_another_customer_is_empty(other_client, delivered):
    rows = list(
        csv.reader(
            io.StringIO(other_client.get("/wallet/transfers.csv").content.decode("utf-8-sig"))
        )
    )
    assert len(rows) == 1  # the header only


def test_notices_page_lists_and_marks_read(aisha, corridor, wallet_customer, delivered):
    Notification.objects.create(user=wallet_customer.user, kind="delivered", order=delivered)
    request = RequestFactory().get("/")
    request.user = wallet_customer.user
    assert notices_context(request)["unread_notices"] == 1
    page = aisha.get("/wallet/notices").content.decode()
    assert f"Transfer {order_reference(delivered.pk)} delivered" in page
    aisha.post("/wallet/notices")
    assert notices_context(request)["unread_notices"] == 0


def test_web_404_is_a_page_and_api_404_stays_problem_json(client):
    page = client.get("/wallet/no-such-page")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
    assert "We cannot find that page" in page.content.decode()
    assert "/admin/" not in page.content.decode()
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api["Content-Type"] == "application/problem+json"


def test_web_500_is_a_page_without_details():
    response = handler500(RequestFactory().get("/wallet/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    assert (
        handler500(RequestFactory().get("/api/v1/x"))["Content-Type"] == "application/problem+json"
    )


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)"])
def test_csv_cells_a_spreadsheet_would_run_are_defused(text):
    from wallet.history import _cell

    assert _cell(text) == "'" + text
    assert _cell("EP-1") == "EP-1"


def test_the_notices_link_shows_the_unread_count(rf, wallet_customer, delivered):
    from django.template.loader import render_to_string

    Notification.objects.create(user=wallet_customer.user, kind="delivered", order=delivered)
    request = rf.get("/wallet/")
    request.user = wallet_customer.user
    html = render_to_string(
        "wallet/receipts/_notices_link.html", notices_context(request), request=request
    )
    assert 'href="/wallet/notices"' in html and ">1</span>" in html and "1 unread" in html
