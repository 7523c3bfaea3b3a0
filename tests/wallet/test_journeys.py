"""The customer's journey through the wallet, page by page with Django's test client: sign up,
confirm the code, send identity, get verified, add a recipient after the bank names the
account, send with the price and limits shown first, track, cancel. Refusals keep what was
typed and say what to do."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from kyc import services as kyc
from kyc.models import KycAccessLog, KycDocument, KycRecord
from ledger.models import Account
from remittance.models import NameCheck, Recipient, RemittanceOrder
from remittance.services import name_checks
from tests.remittance.conftest import fund
from wallet.models import VerificationCode, WalletProfile

from .conftest import PNG, last_code

pytestmark = pytest.mark.django_db

IDENTITY = {
    "given": "Aisha",
    "family": "Khan",
    "original_script": "عائشہ خان",
    "date_of_birth": "1994-03-02",
    "nationality": "PK",
    "id_type": "passport",
    "id_number": "AB1234567",
    "id_expiry": "2031-01-01",
    "phone": "012-345 6789",
    "line1": "Unit 3-1, Jalan Ampang",
    "city": "Kuala Lumpur",
    "postcode": "50450",
    "region": "Kuala Lumpur",
    "occupation": "Electrician",
    "source_of_funds": "salary",
    "consent": "on",
}


def _sign_up(client, identifier="aisha@example.com"):
    return client.post(
        "/wallet/sign-up",
        {"identifier": identifier, "password1": "x7!Ghosts-pw", "password2": "x7!Ghosts-pw"},
    )


def test_sign_up_sends_a_code_and_only_the_right_code_verifies(client, corridor):
    response = _sign_up(client)
    assert response.status_code == 302 and response["Location"] == "/wallet/verify"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["aisha@example.com"]
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    page = client.post("/wallet/verify", {"code": wrong})
    assert "That code is not right" in page.content.decode()
    assert client.get("/wallet/").status_code == 302  # not verified yet: back to the code
    assert client.post("/wallet/verify", {"code": code}).status_code == 302
    profile = WalletProfile.objects.get(user__username="aisha@example.com")
    assert profile.contact_verified_at is not None


def test_sign_up_by_mobile_number_texts_the_code(client, corridor, sms):
    _sign_up(client, "012-345 6789")
    assert sms and sms[0][0] == "+60123456789"
    assert client.post("/wallet/verify", {"code": last_code()}).status_code == 302


def test_sign_up_refuses_a_taken_name_and_keeps_what_was_typed(client, corridor):
    _sign_up(client)
    client.logout()
    page = _sign_up(client, "AISHA@example.com").content.decode()
    assert "already exists. Log in instead." in page
    assert 'value="AISHA@example.com"' in page


def test_too_many_wrong_codes_need_a_new_code(client, corridor, settings):
    _sign_up(client)
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(settings.WALLET_CODE_MAX_ATTEMPTS):
        client.post("/wallet/verify", {"code": wrong})
    page = client.post("/wallet/verify", {"code": code}).content.decode()
    assert "Too many wrong codes. Ask for a new code below." in page
    refused = client.post("/wallet/verify", {"resend": "1"}, follow=True).content.decode()
    assert "Wait a minute, then ask again." in refused  # not a flood of messages
    VerificationCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    client.post("/wallet/verify", {"resend": "1"})
    assert client.post("/wallet/verify", {"code": last_code()}).status_code == 302


def test_at_most_five_codes_an_hour(client, corridor):
    _sign_up(client)
    for minutes in range(4):
        VerificationCode.objects.update(created_at=timezone.now() - timedelta(minutes=2 + minutes))
        client.post("/wallet/verify", {"resend": "1"})
    VerificationCode.objects.filter(created_at__gte=timezone.now() - timedelta(minutes=1)).update(
        created_at=timezone.now() - timedelta(minutes=2)
    )
    sent = len(mail.outbox)
    page = client.post("/wallet/verify", {"resend": "1"}, follow=True).content.decode()
    assert "Too many codes in an hour. Try again later." in page
    assert len(mail.outbox) == sent


def _verified_customer(client, corridor):
    _sign_up(client)
    client.post("/wallet/verify", {"code": last_code()})
    response = client.post(
        "/wallet/identity",
        {**IDENTITY, "document": SimpleUploadedFile("p.png", PNG, content_type="image/png")},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user = get_user_model().objects.get(username="aisha@example.com")
    return user.customer


def test_identity_is_stored_encrypted_as_a_pending_kyc_record_with_its_document(client, corridor):
    customer = _verified_customer(client, corridor)
    record = KycRecord.objects.get(kyc_ref=customer.kyc_ref)
    assert record.status == "pending" and record.owner.code == "VALYOU-MY"
    assert b"Aisha" not in bytes(record.ciphertext)
    document = KycDocument.objects.get(record=record)
    assert PNG not in bytes(document.ciphertext)
    data = kyc.kyc_record_read(record=record, actor="staff:test", purpose="test")["data"]
    assert data["occupation"] == "Electrician" and data["source_of_funds"] == "salary"
    assert data["name"]["original_script"] == "عائشہ خان"
    assert "being checked" in client.get("/wallet/identity").content.decode()
    assert WalletProfile.objects.get(user=customer.user).consent_at is not None


def test_needs_info_shows_what_is_missing_and_a_new_submission_replaces_the_record(
    client, corridor
):
    customer = _verified_customer(client, corridor)
    record = KycRecord.objects.get(kyc_ref=customer.kyc_ref)
    kyc.kyc_record_status_set(
        record=record, status="needs_info", reason="The passport photo is blurred.", actor="staff:c"
    )
    page = client.get("/wallet/identity").content.decode()
    assert "we need more information" in page and "The passport photo is blurred." in page
    client.post(
        "/wallet/identity",
        {**IDENTITY, "document": SimpleUploadedFile("p.png", PNG, content_type="image/png")},
    )
    customer.refresh_from_db()
    assert customer.kyc_ref != record.kyc_ref
    assert KycRecord.objects.get(kyc_ref=customer.kyc_ref).status == "pending"


def test_an_unverified_customer_is_told_before_a_quote(client, corridor):
    customer = _verified_customer(client, corridor)
    recipient = _recipient(client, customer)
    page = client.post(
        "/wallet/quote", {"recipient": str(recipient.pk), "amount": "100", "currency": "MYR"}
    )
    assert page.status_code == 422
    assert "We are still checking your identity" in page.content.decode()


def _recipient(client, customer, msisdn="0300 1234567", title="ALI RAZA"):
    form = {
        "payout": "easypaisa",
        "msisdn": msisdn,
        "given": "Ali",
        "family": "Raza",
        "relationship": "sibling",
    }
    page = client.post("/wallet/recipients/new", form)
    assert page.status_code == 200
    check = NameCheck.objects.get(customer=customer, status="pending")
    assert "Asking their bank" in page.content.decode()
    # the receiving bank answers (the simulator does this over the partner API)
    name_checks.name_check_answer(
        institution=check.receiving_institution,
        check_id=check.pk,
        matched=True,
        account_title=title,
    )
    partial = client.get(f"/wallet/name-checks/{check.pk}").content.decode()
    assert title in partial and "hx-trigger" not in partial
    saved = client.post(f"/wallet/name-checks/{check.pk}/save", form)
    assert saved.status_code == 302
    return Recipient.objects.filter(customer=customer, removed_at__isnull=True).latest("created_at")


def _verify(customer):
    record = KycRecord.objects.get(kyc_ref=customer.kyc_ref)
    kyc.kyc_record_status_set(
        record=record, status="verified", reason="ok", actor="staff:c", tier=1
    )


def test_recipient_is_a_beneficiary_kyc_record_with_the_checked_number(client, corridor):
    customer = _verified_customer(client, corridor)
    recipient = _recipient(client, customer)
    record = KycRecord.objects.get(kyc_ref=recipient.kyc_ref)
    assert record.role == "beneficiary" and record.owner_id == customer.institution_id
    data = kyc.kyc_record_read(record=record, actor="staff:test", purpose="test")["data"]
    assert data["account"]["identifier"] == "+923001234567"
    assert data["relationship"] == "sibling"
    assert recipient.payout_hint == "••••4567"
    listing = client.get("/wallet/recipients").content.decode()
    assert "Ali Raza" in listing


def test_name_check_webhook_carries_no_pii(client, corridor):
    from webhooks.models import WebhookDelivery
    from webhooks.services import webhook_endpoint_create

    webhook_endpoint_create(
        institution=corridor.network.tmb.institution, url="http://127.0.0.1:9/webhooks"
    )
    customer = _verified_customer(client, corridor)
    client.post(
        "/wallet/recipients/new",
        {
            "payout": "easypaisa",
            "msisdn": "0300 1234567",
            "given": "Ali",
            "family": "Raza",
            "relationship": "sibling",
        },
    )
    delivery = WebhookDelivery.objects.get(event_type="name_check.requested")
    assert "923001234567" not in delivery.payload and "Ali" not in delivery.payload
    check = NameCheck.objects.get(customer=customer)
    assert str(check.pk) in delivery.payload
    assert b"923001234567" not in bytes(check.sealed)


def test_an_unknown_account_cannot_be_saved(client, corridor):
    customer = _verified_customer(client, corridor)
    form = {
        "payout": "easypaisa",
        "msisdn": "0300 1234567",
        "given": "Ali",
        "relationship": "sibling",
    }
    client.post("/wallet/recipients/new", form)
    check = NameCheck.objects.get(customer=customer)
    name_checks.name_check_answer(
        institution=check.receiving_institution, check_id=check.pk, matched=False
    )
    assert (
        "has no account with this number"
        in client.get(f"/wallet/name-checks/{check.pk}").content.decode()
    )
    client.post(f"/wallet/name-checks/{check.pk}/save", form)
    assert not Recipient.objects.filter(customer=customer).exists()


def test_a_number_changed_after_the_check_is_refused(client, corridor):
    customer = _verified_customer(client, corridor)
    form = {
        "payout": "easypaisa",
        "msisdn": "0300 1234567",
        "given": "Ali",
        "relationship": "sibling",
    }
    client.post("/wallet/recipients/new", form)
    check = NameCheck.objects.get(customer=customer)
    name_checks.name_check_answer(
        institution=check.receiving_institution,
        check_id=check.pk,
        matched=True,
        account_title="ALI",
    )
    page = client.post(f"/wallet/name-checks/{check.pk}/save", {**form, "msisdn": "0300 7654321"})
    assert "The number changed after the check" in page.content.decode()
    assert not Recipient.objects.filter(customer=customer).exists()


def test_edit_points_at_a_new_record_and_remove_hides_the_recipient(client, corridor):
    customer = _verified_customer(client, corridor)
    recipient = _recipient(client, customer)
    old_ref = recipient.kyc_ref
    form = {
        "payout": "jazzcash",
        "msisdn": "0321 7654321",
        "given": "Ali",
        "family": "Raza",
        "relationship": "sibling",
    }
    client.post(f"/wallet/recipients/{recipient.pk}/edit", form)
    check = NameCheck.objects.get(customer=customer, status="pending")
    name_checks.name_check_answer(
        institution=check.receiving_institution,
        check_id=check.pk,
        matched=True,
        account_title="ALI RAZA",
    )
    client.post(f"/wallet/name-checks/{check.pk}/save", {**form, "recipient_id": str(recipient.pk)})
    recipient.refresh_from_db()
    assert recipient.kyc_ref != old_ref and recipient.payout_hint == "••••4321"
    assert "JazzCash" in client.get("/wallet/recipients").content.decode()
    client.post(f"/wallet/recipients/{recipient.pk}/remove")
    recipient.refresh_from_db()
    assert recipient.removed_at is not None
    assert "You have no recipients yet." in client.get("/wallet/recipients").content.decode()


def _funded_verified(client, corridor, minor=200_000):
    customer = _verified_customer(client, corridor)
    _verify(customer)
    fund(Account.objects.get(pk=customer.wallet_id), minor)
    return customer, _recipient(client, customer)


def test_send_shows_balance_limits_and_fee_before_confirming_and_tracks_to_delivered(
    client, corridor
):
    customer, recipient = _funded_verified(client, corridor)
    page = client.get("/wallet/send").content.decode()
    assert "RM2,000.00" in page  # balance
    assert "RM3,000.00" in page  # tier 1 per-transaction limit
    confirm = client.post(
        "/wallet/quote", {"recipient": str(recipient.pk), "amount": "100", "currency": "MYR"}
    )
    body = confirm.content.decode()
    assert "RM105.50" in body and "PKR" in body and "Ali Raza" in body
    assert 'id="countdown"' in body and "data-expires" in body
    fields = dict(re.findall(r'name="(quote_id|recipient_id|order_id)" value="([^"]+)"', body))
    sent = client.post("/wallet/confirm", fields)
    order = RemittanceOrder.objects.get(customer=customer)
    track = client.get(sent["Location"]).content.decode()
    assert 'aria-live="polite"' in track and "Paid" in track
    from wallet.references import order_reference

    assert order_reference(order.pk) in track
    _deliver(corridor, order)
    partial = client.get(sent["Location"], headers={"HX-Request": "true"}).content.decode()
    assert (
        "Delivered to Ali Raza&#x27;s Easypaisa wallet" in partial
        or "Delivered to Ali Raza's Easypaisa wallet" in partial
    )
    assert "EP-123" in partial  # the receiving bank's payout reference
    assert "hx-trigger" not in partial
    assert "credited" not in partial and "institution:" not in partial


def _deliver(corridor, order):
    from core.money import Money
    from remittance.services.orders import AnswerRequest, SignedStatement, order_answer
    from tests.remittance.conftest import signed

    tmb = corridor.network.tmb
    oid = str(order.pk)
    order_answer(
        AnswerRequest(
            step="accept",
            institution=tmb.institution,
            order_id=order.pk,
            signed=SignedStatement.from_request(**signed(tmb, "order.accepted", {"order_id": oid})),
        )
    )
    receive = Money.from_minor(order.receive_minor, "PKR")
    credited = signed(
        tmb,
        "order.credited",
        {"order_id": oid, "payout_reference": "EP-123", "receive_amount": receive.to_wire()},
    )
    order_answer(
        AnswerRequest(
            step="credit",
            institution=tmb.institution,
            order_id=order.pk,
            payout_reference="EP-123",
            receive_amount=receive,
            signed=SignedStatement.from_request(**credited),
        )
    )


def test_a_pkr_amount_is_priced_as_what_they_receive(client, corridor):
    _customer, recipient = _funded_verified(client, corridor)
    body = client.post(
        "/wallet/quote", {"recipient": str(recipient.pk), "amount": "10000", "currency": "PKR"}
    ).content.decode()
    assert "Rs10,000.00" in body or "PKR10,000.00" in body


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1999", "With the fee this costs RM2,014.00; your wallet holds RM1,000.00. Send less."),
        ("5", "We send between"),
        ("3500", "You can send up to RM1,000.00"),
    ],
)
def test_refusals_before_confirming_keep_the_amount_and_say_what_to_do(
    client, corridor, amount, message
):
    customer, recipient = _funded_verified(client, corridor, minor=100_000)
    if amount == "3500":
        fund(Account.objects.get(pk=customer.wallet_id), 1_000_000)
    page = client.post(
        "/wallet/quote", {"recipient": str(recipient.pk), "amount": amount, "currency": "MYR"}
    )
    body = page.content.decode()
    assert page.status_code == 422
    assert f'value="{amount}"' in body
    if amount == "3500":
        assert "You can send up to RM3,000.00 now" in body
    else:
        assert message in body
    assert not RemittanceOrder.objects.exists()


def test_a_small_transfer_warns_about_the_fee(client, corridor):
    _customer, recipient = _funded_verified(client, corridor)
    body = client.post(
        "/wallet/quote", {"recipient": str(recipient.pk), "amount": "10", "currency": "MYR"}
    ).content.decode()
    assert "The fee is 50.5% of what you send." in body


def test_cancel_before_the_bank_accepts_refunds_through_the_rejected_path(client, corridor):
    customer, recipient = _funded_verified(client, corridor)
    body = client.post(
        "/wallet/quote", {"recipient": str(recipient.pk), "amount": "100", "currency": "MYR"}
    ).content.decode()
    fields = dict(re.findall(r'name="(quote_id|recipient_id|order_id)" value="([^"]+)"', body))
    client.post("/wallet/confirm", fields)
    order = RemittanceOrder.objects.get()
    wallet = Account.objects.get(pk=customer.wallet_id)
    assert wallet.debits_pending == 10_550
    page = client.post(f"/wallet/transfers/{order.pk}/cancel", follow=True).content.decode()
    assert "Cancelled. The money is back in your wallet." in page
    order.refresh_from_db()
    assert order.status == "refunded" and order.reason_code == "sender_cancelled"
    assert [c.to_status for c in order.history.all()] == ["submitted", "rejected", "refunded"]
    wallet.refresh_from_db()
    assert wallet.debits_pending == 0 and wallet.available == 200_000


def test_cancel_after_the_bank_accepted_is_refused(client, corridor):
    from remittance.services.orders import AnswerRequest, SignedStatement, order_answer
    from tests.remittance.conftest import signed

    _customer, recipient = _funded_verified(client, corridor)
    body = client.post(
        "/wallet/quote", {"recipient": str(recipient.pk), "amount": "100", "currency": "MYR"}
    ).content.decode()
    fields = dict(re.findall(r'name="(quote_id|recipient_id|order_id)" value="([^"]+)"', body))
    client.post("/wallet/confirm", fields)
    order = RemittanceOrder.objects.get()
    tmb = corridor.network.tmb
    order_answer(
        AnswerRequest(
            step="accept",
            institution=tmb.institution,
            order_id=order.pk,
            signed=SignedStatement.from_request(
                **signed(tmb, "order.accepted", {"order_id": str(order.pk)})
            ),
        )
    )
    page = client.post(f"/wallet/transfers/{order.pk}/cancel", follow=True).content.decode()
    assert "can no longer be cancelled" in page
    order.refresh_from_db()
    assert order.status == "accepted"


def test_recipient_names_are_decrypted_once_per_session(client, corridor):
    _customer, recipient = _funded_verified(client, corridor)
    client.get("/wallet/recipients")
    reads = KycAccessLog.objects.filter(record__kyc_ref=recipient.kyc_ref)
    assert reads.count() == 1  # decrypted for the customer's eyes, and logged
    assert reads.get().purpose == "customer_display"
    for _ in range(3):
        client.get("/wallet/recipients")
    assert reads.count() == 1


def test_other_customers_cannot_see_or_cancel_a_transfer(client, corridor, django_user_model):
    _customer, recipient = _funded_verified(client, corridor)
    body = client.post(
        "/wallet/quote", {"recipient": str(recipient.pk), "amount": "100", "currency": "MYR"}
    ).content.decode()
    fields = dict(re.findall(r'name="(quote_id|recipient_id|order_id)" value="([^"]+)"', body))
    client.post("/wallet/confirm", fields)
    order = RemittanceOrder.objects.get()
    client.logout()
    _sign_up(client, "mallory@example.com")
    assert client.get(f"/wallet/transfers/{order.pk}").status_code == 404
    assert client.post(f"/wallet/transfers/{order.pk}/cancel").status_code == 404
    order.refresh_from_db()
    assert order.status == "submitted"


def test_a_tampered_confirmation_is_refused_with_a_way_back(client, corridor):
    _funded_verified(client, corridor)
    page = client.post(
        "/wallet/confirm",
        {"quote_id": "qt_nope", "recipient_id": "not-a-uuid", "order_id": "x"},
        follow=True,
    )
    assert "That quote is no longer available. Please start again." in page.content.decode()
    assert not RemittanceOrder.objects.exists()


def test_a_refusal_at_confirmation_says_what_to_do_and_keeps_the_amount(client, corridor):
    """The balance can change between the price and the confirmation: the order service
    refuses, and the customer is sent back to the form with the amount still in it."""
    import uuid as uuid_module

    from ledger.models import AccountKind
    from ledger.services.money import (
        TransferSpec,
        account_get_or_create,
        transfers_create_or_raise,
    )

    customer, recipient = _funded_verified(client, corridor, minor=20_000)
    body = client.post(
        "/wallet/quote", {"recipient": str(recipient.pk), "amount": "100", "currency": "MYR"}
    ).content.decode()
    fields = dict(re.findall(r'name="(quote_id|recipient_id|order_id)" value="([^"]+)"', body))
    out = account_get_or_create(code="funding:test:MYR", kind=AccountKind.FUNDING, currency="MYR")
    transfers_create_or_raise(
        transfers=[
            TransferSpec(
                id=uuid_module.uuid4(),
                debit_account_id=customer.wallet_id,
                credit_account_id=out.pk,
                amount=15_000,
            )
        ]
    )
    page = client.post("/wallet/confirm", fields, follow=True)
    text = page.content.decode()
    assert "Your wallet does not hold enough for this. Top up or send less." in text
    assert 'value="100.00"' in text
    assert not RemittanceOrder.objects.exists()


def test_a_mobile_customer_logs_in_with_any_common_form_and_resets_by_text(client, corridor, sms):
    _sign_up(client, "012-345 6789")
    client.logout()
    logged_in = client.post(
        "/accounts/login/", {"username": "+60 12 345 6789", "password": "x7!Ghosts-pw"}
    )
    assert logged_in.status_code == 302 and logged_in["Location"] == "/wallet/"
    client.logout()
    sms.clear()
    done = client.post("/accounts/password_reset/", {"email": "0123456789"})
    assert done.status_code == 302
    assert sms and sms[-1][0] == "+60123456789"
    link = re.findall(r"https?://\S+/accounts/reset/\S+", sms[-1][1])[0]
    form = client.get(link.split("testserver", 1)[1], follow=True)
    assert b"new_password1" in form.content
    assert not mail.outbox[1:]  # no e-mail for a customer without an address


def test_a_reset_for_an_unknown_address_says_the_same_and_sends_nothing(client, corridor, sms):
    page = client.post("/accounts/password_reset/", {"email": "nobody@example.com"}, follow=True)
    assert "If an account uses that e-mail address or number" in page.content.decode()
    assert not mail.outbox and not sms


def test_without_an_sms_provider_a_mobile_sign_up_is_refused_before_any_account(
    client, corridor, settings
):
    settings.WALLET_SMS_BACKEND = "wallet.messaging.NoSms"  # production's default
    page = _sign_up(client, "012-345 6789").content.decode()
    assert "We cannot send text messages right now. Sign up with an e-mail address instead." in page
    assert not get_user_model().objects.filter(username="+60123456789").exists()
