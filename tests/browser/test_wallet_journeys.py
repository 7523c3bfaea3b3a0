"""The wallet's journeys end to end in Chromium against a live server: before login (the
calculator), sign-up with the code and KYC onboarding until compliance verifies, recipients
with the receiving bank's name check, send with a refusal that keeps what was typed, track
live to Delivered, cancel, and the password pages — in English and Urdu, at 1280 and 390 px.
Every page: `dir`, no horizontal scroll, 44 px targets, axe-core 0 violations, a screenshot.

The receiving bank is played in-process here (its answers go through the same services the
partner API calls); tests/browser/test_wallet_delivery.py runs the real worker and simulator."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from kyc import services as kyc
from kyc.models import KycRecord
from remittance.models import NameCheck, Recipient, RemittanceOrder
from remittance.services import name_checks
from tests.wallet.test_journeys import _deliver

from .wallet_pages import (
    COMBO_IDS,
    COMBOS,
    PASSWORD,
    PNG,
    log_in,
    page_check,
    user,
    verified_customer,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def priced(corridor):
    return corridor


combos = pytest.mark.parametrize(("lang", "width"), COMBOS, ids=COMBO_IDS)


def _code() -> str:
    return re.findall(r"\b([0-9]{6})\b", mail.outbox[-1].body)[0]


@combos
def test_calculator_before_login(live_server, page_at, priced, lang, width):
    page = page_at(width, lang)
    page.goto(live_server.url + "/")
    page_check(page, journey="calculator", step="home", lang=lang, width=width)
    page.fill("#id_amount", "1000")
    page.check("input[name=currency][value=MYR]")
    page.locator("form[method=get] button[type=submit]").click()
    page.wait_for_url("**/?amount=1000*")
    text = page.locator("main").inner_text()
    assert "62,865.00" in text  # 1,000 × 63.5 × (1 − 1%)
    assert "63.5" in text and "62.865" in text  # mid-market rate beside ours
    assert "1,010.00" in text  # RM 5.00 + 0.5 % fee
    page_check(page, journey="calculator", step="priced", lang=lang, width=width)
    page.fill("#id_amount", "10")
    page.locator("form[method=get] button[type=submit]").click()
    page.wait_for_url("**/?amount=10*")
    assert page.locator(".notice.warn").count() == 1  # a fee that is a large share is said
    page.fill("#id_amount", "50000")
    page.locator("form[method=get] button[type=submit]").click()
    page.wait_for_url("**/?amount=50000*")
    assert page.locator("#id_amount").input_value() == "50000"
    page_check(page, journey="calculator", step="out-of-range", lang=lang, width=width)


@combos
def test_sign_up_code_and_kyc_onboarding(live_server, page_at, priced, lang, width):
    page = page_at(width, lang)
    username = f"new-{lang}-{width}@example.com"
    page.goto(live_server.url + "/wallet/sign-up")
    page_check(page, journey="signup", step="form", lang=lang, width=width)
    page.fill("#id_identifier", username)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD + "x")
    page.locator("main form button[type=submit]").click()
    assert page.locator("#id_password2_error").is_visible()
    assert page.locator("#id_identifier").input_value() == username  # kept
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/wallet/verify")
    page_check(page, journey="signup", step="code", lang=lang, width=width)
    page.fill("#id_code", "000000" if _code() != "000000" else "111111")
    page.locator("main form").first.locator("button[type=submit]").click()
    assert page.locator("#id_code_error").is_visible()
    page.fill("#id_code", _code())
    page.locator("main form").first.locator("button[type=submit]").click()
    page.wait_for_url("**/wallet/identity")
    page_check(page, journey="signup", step="identity", lang=lang, width=width)
    for field, value in {
        "given": "Aisha",
        "family": "Khan",
        "original_script": "عائشہ خان",
        "date_of_birth": "1994-03-02",
        "id_number": "AB1234567",
        "id_expiry": "2031-01-01",
        "phone": "012-345 6789",
        "line1": "Unit 3-1, Jalan Ampang",
        "city": "Kuala Lumpur",
        "postcode": "5045",  # one digit short: said next to the field, the rest kept
        "occupation": "Electrician",
    }.items():
        page.fill(f"#id_{field}", value)
    page.select_option("#id_nationality", "PK")
    page.select_option("#id_id_type", "passport")
    page.select_option("#id_source_of_funds", "salary")
    page.set_input_files(
        "#id_document", files=[{"name": "passport.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.check("#id_consent")
    page.locator("main form button[type=submit]").click()
    assert page.locator("#id_postcode_error").is_visible()
    assert page.locator("#id_given").input_value() == "Aisha"
    page_check(page, journey="signup", step="identity-error", lang=lang, width=width)
    page.fill("#id_postcode", "50450")
    page.set_input_files(
        "#id_document", files=[{"name": "passport.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.check("#id_consent")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/wallet/identity")
    customer = user(username).customer
    record = KycRecord.objects.get(kyc_ref=customer.kyc_ref)
    assert record.status == "pending"
    page_check(page, journey="signup", step="pending", lang=lang, width=width)
    # compliance asks for more, then verifies (in the admin: the same service)
    kyc.kyc_record_status_set(
        record=record, status="needs_info", reason="Passport photo is blurred.", actor="staff:c"
    )
    page.reload()
    assert "Passport photo is blurred." in page.locator("main").inner_text()
    page_check(page, journey="signup", step="needs-info", lang=lang, width=width)
    kyc.kyc_record_status_set(record=record, status="verified", reason="ok", actor="staff:c")
    page.reload()
    assert page.locator("a[href='/wallet/send']").count() >= 1
    page_check(page, journey="signup", step="verified", lang=lang, width=width)


def _add_recipient(page, live_server, customer, *, msisdn="0300 1234567", title="ALI RAZA"):
    page.check("input[name=payout][value=easypaisa]")
    page.fill("#id_msisdn", msisdn)
    page.fill("#id_given", "Ali")
    page.fill("#id_family", "Raza")
    page.select_option("#id_relationship", "sibling")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/wallet/recipients/**")
    check = NameCheck.objects.filter(customer=customer, status="pending").latest("created_at")
    name_checks.name_check_answer(
        institution=check.receiving_institution,
        check_id=check.pk,
        matched=True,
        account_title=title,
    )
    page.locator("[data-testid=account-title]").wait_for()  # htmx polled it in
    return check


@combos
def test_recipients_add_with_name_check_edit_and_remove(live_server, page_at, priced, lang, width):
    username = f"rcp-{lang}-{width}@example.com"
    customer = verified_customer(priced, username=username, language=lang)
    page = page_at(width, lang)
    log_in(page, live_server.url, username)
    page.goto(live_server.url + "/wallet/recipients")
    page_check(page, journey="recipients", step="empty", lang=lang, width=width)
    page.goto(live_server.url + "/wallet/recipients/new")
    page_check(page, journey="recipients", step="form", lang=lang, width=width)
    page.check("input[name=payout][value=easypaisa]")
    page.fill("#id_msisdn", "0423 1234567")  # a landline: not a wallet
    page.fill("#id_given", "Ali")
    page.locator("main form button[type=submit]").click()
    assert page.locator("#id_msisdn_error").is_visible()
    assert page.locator("#id_given").input_value() == "Ali"
    page_check(page, journey="recipients", step="form-error", lang=lang, width=width)
    _add_recipient(page, live_server, customer)
    assert page.locator("[data-testid=account-title]").inner_text() == "ALI RAZA"
    page_check(page, journey="recipients", step="name-check", lang=lang, width=width)
    page.locator("#name-check button[type=submit]").click()
    page.wait_for_url("**/wallet/recipients")
    assert "Ali Raza" in page.locator("main").inner_text()
    page_check(page, journey="recipients", step="saved", lang=lang, width=width)
    recipient = Recipient.objects.get(customer=customer)
    page.goto(f"{live_server.url}/wallet/recipients/{recipient.pk}/edit")
    page.check("input[name=payout][value=jazzcash]")
    page.fill("#id_msisdn", "0321 7654321")
    page.fill("#id_given", "Ali")
    page.fill("#id_family", "Raza")
    page.select_option("#id_relationship", "sibling")
    page.locator("main form button[type=submit]").click()
    check = NameCheck.objects.filter(customer=customer, status="pending").latest("created_at")
    name_checks.name_check_answer(
        institution=check.receiving_institution, check_id=check.pk, matched=False
    )
    page.locator("#name-check [role=alert]").wait_for()  # no such account: cannot save
    page_check(page, journey="recipients", step="not-found", lang=lang, width=width)
    assert page.locator("#name-check button[type=submit]").count() == 0
    recipient.refresh_from_db()
    assert recipient.payout_hint == "••••4567"
    page.goto(f"{live_server.url}/wallet/recipients/{recipient.pk}/edit")
    page.check("input[name=payout][value=jazzcash]")
    page.fill("#id_msisdn", "0321 7654321")
    page.fill("#id_given", "Ali")
    page.fill("#id_family", "Raza")
    page.select_option("#id_relationship", "sibling")
    page.locator("main form button[type=submit]").click()
    check = NameCheck.objects.filter(customer=customer, status="pending").latest("created_at")
    name_checks.name_check_answer(
        institution=check.receiving_institution,
        check_id=check.pk,
        matched=True,
        account_title="ALI RAZA",
    )
    page.locator("[data-testid=account-title]").wait_for()
    page.locator("#name-check button[type=submit]").click()
    page.wait_for_url("**/wallet/recipients")
    assert "JazzCash" in page.locator("main").inner_text()
    recipient.refresh_from_db()
    assert recipient.payout_hint == "••••4321"
    page.locator(f"form[action$='/{recipient.pk}/remove'] button").click()
    page.wait_for_url("**/wallet/recipients")
    assert "Ali Raza" not in page.locator("main").inner_text()
    page_check(page, journey="recipients", step="removed", lang=lang, width=width)


@combos
def test_send_refusal_confirm_track_live_to_delivered_and_cancel(
    live_server, page_at, priced, lang, width
):
    username = f"snd-{lang}-{width}@example.com"
    customer = verified_customer(priced, username=username, language=lang, minor=100_000)
    page = page_at(width, lang)
    log_in(page, live_server.url, username)
    page_check(page, journey="send", step="wallet-home", lang=lang, width=width)
    page.goto(live_server.url + "/wallet/recipients/new")
    _add_recipient(page, live_server, customer)
    page.locator("#name-check button[type=submit]").click()
    page.wait_for_url("**/wallet/recipients")
    page.goto(live_server.url + "/wallet/send")
    page_check(page, journey="send", step="form", lang=lang, width=width)
    # RM 999 + RM 10.00 fee is more than the RM 1,000.00 in the wallet: said before confirming
    page.fill("#id_amount", "999")
    page.check("input[name=currency][value=MYR]")
    page.locator("main form button[type=submit]").click()
    assert page.locator("#id_amount_error").is_visible()
    assert page.locator("#id_amount").input_value() == "999"
    page_check(page, journey="send", step="over-balance", lang=lang, width=width)
    page.fill("#id_amount", "100")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/wallet/quote")
    assert "105.50" in page.locator("main").inner_text()
    page.locator("#countdown span.muted").wait_for()  # the quote's expiry counts down
    assert re.search(r"\d\d:\d\d", page.locator("#countdown").inner_text())
    page_check(page, journey="send", step="confirm", lang=lang, width=width)
    page.locator("#confirm").click()
    page.wait_for_url("**/wallet/transfers/**")
    order = RemittanceOrder.objects.get(customer=customer)
    assert page.locator("[aria-live=polite]").count() >= 1
    page_check(page, journey="send", step="paid", lang=lang, width=width)
    _deliver(priced, order)  # the receiving bank accepts and credits
    page.locator("[data-testid=status]", has_text="Ali Raza").wait_for()  # updated in place
    assert "EP-123" in page.locator("main").inner_text()
    page_check(page, journey="send", step="delivered", lang=lang, width=width)
    # a second transfer, cancelled before the bank accepts it
    page.goto(live_server.url + "/wallet/send")
    page.fill("#id_amount", "50")
    page.check("input[name=currency][value=MYR]")
    page.locator("main form button[type=submit]").click()
    page.locator("#confirm").click()
    page.wait_for_url("**/wallet/transfers/**")
    page.locator("form[action$='/cancel'] button").click()
    page.wait_for_url("**/wallet/transfers/**")
    second = RemittanceOrder.objects.filter(customer=customer).latest("created_at")
    assert second.status == "refunded" and second.reason_code == "sender_cancelled"
    page_check(page, journey="send", step="cancelled", lang=lang, width=width)


@combos
def test_password_reset_change_and_log_out_everywhere(live_server, page_at, priced, lang, width):
    username = f"pw-{lang}-{width}@example.com"
    verified_customer(priced, username=username, language=lang)
    page = page_at(width, lang)
    page.goto(live_server.url + "/accounts/login/")
    page_check(page, journey="account", step="login", lang=lang, width=width)
    page.click("a[href='/accounts/password_reset/']")
    page_check(page, journey="account", step="reset-form", lang=lang, width=width)
    page.fill("#id_email", username)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/password_reset/done/")
    page_check(page, journey="account", step="reset-sent", lang=lang, width=width)
    link = re.findall(r"https?://\S+/accounts/reset/\S+", mail.outbox[-1].body)[0]
    page.goto(link)
    page_check(page, journey="account", step="reset-new", lang=lang, width=width)
    page.fill("#id_new_password1", "n3w!Ghosts-pw")
    page.fill("#id_new_password2", "n3w!Ghosts-pw")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/reset/done/")
    log_in(page, live_server.url, username, "n3w!Ghosts-pw")
    page.goto(live_server.url + "/wallet/security")
    page_check(page, journey="account", step="security", lang=lang, width=width)
    page.goto(live_server.url + "/accounts/password_change/")
    page_check(page, journey="account", step="change", lang=lang, width=width)
    page.fill("#id_old_password", "n3w!Ghosts-pw")
    page.fill("#id_new_password1", "s3cond!Ghosts")
    page.fill("#id_new_password2", "s3cond!Ghosts")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/password_change/done/")
    # a second device, then log out everywhere from the first: both sessions end
    other = page_at(width, lang)
    log_in(other, live_server.url, username, "s3cond!Ghosts")
    page.goto(live_server.url + "/wallet/security")
    page.locator("button[name=everywhere]").click()
    page.wait_for_url("**/accounts/login/")
    other.goto(live_server.url + "/wallet/")
    assert "/accounts/login/" in other.url
