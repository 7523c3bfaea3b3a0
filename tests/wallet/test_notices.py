"""Customers are told, in the app and by e-mail, when a transfer is delivered or refunded and
when their KYC record needs more information — once each, after the change commits."""

from __future__ import annotations

import pytest
from django.core import mail

from kyc import services as kyc
from kyc.models import KycRecord
from wallet.notices.models import Notification
from wallet.references import order_reference

from .transfers import recipient_add, transfer_deliver, transfer_reject, transfer_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(wallet_customer):
    wallet_customer.user.email = "aisha@example.com"
    wallet_customer.user.save()
    return wallet_customer


def test_delivered_transfer_notifies_once_in_app_and_by_email(
    corridor, customer, django_capture_on_commit_callbacks
):
    order = transfer_send(customer, recipient_add(customer))
    with django_capture_on_commit_callbacks(execute=True):
        transfer_deliver(corridor, order)
    notice = Notification.objects.get()
    assert (notice.user, notice.kind, notice.order_id) == (customer.user, "delivered", order.pk)
    assert notice.read_at is None and notice.emailed_at is not None
    [email] = mail.outbox
    assert email.to == ["aisha@example.com"]
    assert email.subject == f"Transfer {order_reference(order.pk)} delivered"
    assert "reached your recipient's mobile wallet" in email.body
    assert f"/wallet/transfers/{order.pk}" in email.body
    # the hook heard again (a retried task) neither duplicates the notice nor the e-mail
    from wallet.notices.services import notices_orders_create

    assert notices_orders_create(order_ids=[str(order.pk)]) == 0
    assert Notification.objects.count() == 1 and len(mail.outbox) == 1


def test_refunded_transfer_notifies(corridor, customer, django_capture_on_commit_callbacks):
    order = transfer_send(customer, recipient_add(customer))
    with django_capture_on_commit_callbacks(execute=True):
        transfer_reject(corridor, order)
    notice = Notification.objects.get()
    assert notice.kind == "refunded"
    assert "RM105.50 is back in your wallet" in mail.outbox[0].body


def test_nothing_is_told_for_a_transfer_still_on_its_way(
    corridor, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        transfer_send(customer, recipient_add(customer))
    assert not Notification.objects.exists() and not mail.outbox


def test_kyc_needs_info_notifies_the_customer(customer, django_capture_on_commit_callbacks):
    record = KycRecord.objects.get(kyc_ref=customer.kyc_ref)
    with django_capture_on_commit_callbacks(execute=True):
        kyc.kyc_record_status_set(
            record=record, status="needs_info", reason="proof of address", actor="staff:test"
        )
    notice = Notification.objects.get()
    assert (notice.user, notice.kind, notice.order) == (customer.user, "needs_info", None)
    assert mail.outbox[0].subject == "We need more information to verify you"
    assert "/wallet/identity" in mail.outbox[0].body


def test_a_customer_without_an_email_gets_the_in_app_notice_only(
    corridor, wallet_customer, django_capture_on_commit_callbacks
):
    order = transfer_send(wallet_customer, recipient_add(wallet_customer))
    with django_capture_on_commit_callbacks(execute=True):
        transfer_deliver(corridor, order)
    assert Notification.objects.get().emailed_at is None
    assert not mail.outbox
