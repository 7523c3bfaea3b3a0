"""A wallet user sends money from the web UI and watches it land."""

from __future__ import annotations

import re

import pytest

from core.money import Money
from ledger.models import Account
from remittance.models import RemittanceOrder
from remittance.services.orders import AnswerRequest, SignedStatement, order_answer
from tests.remittance.conftest import signed

pytestmark = pytest.mark.django_db


def test_wallet_user_quotes_sends_and_sees_the_transfer_land(client, corridor, wallet_customer):
    from remittance.models import Recipient

    Recipient.objects.create(
        customer=wallet_customer,
        kyc_ref=_beneficiary(wallet_customer),
        payout_method="mobile_wallet",
        payout_hint="••••4567",
    )
    assert client.login(username="aisha", password="pw-aisha-123")
    home = client.get("/wallet/")
    assert b"RM500.00" in home.content
    recipient = wallet_customer.recipients.get()
    confirm = client.post(
        "/wallet/quote", {"recipient": str(recipient.pk), "amount": "100.00", "currency": "MYR"}
    )
    assert confirm.status_code == 200
    body = confirm.content.decode()
    assert "RM105.50" in body  # 100.00 + 5.00 fixed + 0.50 (0.5%)
    fields = dict(re.findall(r'name="(quote_id|recipient_id|order_id)" value="([^"]+)"', body))
    sent = client.post("/wallet/confirm", fields)
    assert sent.status_code == 302
    order = RemittanceOrder.objects.get()
    assert order.customer == wallet_customer and order.status == "submitted"
    wallet = Account.objects.get(pk=wallet_customer.wallet_id)
    assert wallet.available == 50_000 - 10_550
    page = client.get(sent["Location"])
    assert b"Paid" in page.content
    # the receiving bank accepts and credits, signing each step with its own key
    tmb = corridor.network.tmb
    receive = Money.from_minor(order.receive_minor, "PKR")
    oid = str(order.pk)
    accepted = signed(tmb, "order.accepted", {"order_id": oid})
    order_answer(
        AnswerRequest(
            step="accept",
            institution=tmb.institution,
            order_id=order.pk,
            signed=SignedStatement.from_request(**accepted),
        )
    )
    credited = signed(
        tmb,
        "order.credited",
        {"order_id": oid, "payout_reference": "EP-1", "receive_amount": receive.to_wire()},
    )
    order_answer(
        AnswerRequest(
            step="credit",
            institution=tmb.institution,
            order_id=order.pk,
            payout_reference="EP-1",
            receive_amount=receive,
            signed=SignedStatement.from_request(**credited),
        )
    )
    partial = client.get(sent["Location"], headers={"HX-Request": "true"})
    assert "Delivered" in partial.content.decode()
    assert "hx-trigger" not in partial.content.decode()  # polling stops once final
    # resubmitting the same confirmation form does not send twice
    client.post("/wallet/confirm", fields)
    assert RemittanceOrder.objects.count() == 1


def test_other_users_cannot_see_a_transfer(client, wallet_customer, django_user_model):
    django_user_model.objects.create_user("mallory", password="pw-mallory-123")
    assert client.login(username="mallory", password="pw-mallory-123")
    assert client.get("/wallet/").status_code == 404


def _beneficiary(customer):
    import copy

    from kyc import services as kyc
    from tests.kyc.conftest import BENEFICIARY

    return kyc.kyc_record_create(
        owner=customer.institution, role="beneficiary", data=copy.deepcopy(BENEFICIARY)
    ).kyc_ref
