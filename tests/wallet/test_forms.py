"""Every wallet form's validation: what is accepted, normalised, and what the customer is told
(next to the field) when it is not."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from wallet.forms import (
    CodeForm,
    KycForm,
    RecipientForm,
    SendForm,
    SignUpForm,
    contact_normalise,
    pk_mobile,
)

from .conftest import PNG

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Aisha@Example.COM", ("email", "aisha@example.com")),
        ("012-345 6789", ("phone", "+60123456789")),
        ("+60 12 345 6789", ("phone", "+60123456789")),
        ("0123456789", ("phone", "+60123456789")),
    ],
)
def test_sign_up_accepts_an_email_or_a_malaysian_mobile(typed, expected):
    assert contact_normalise(typed) == expected


@pytest.mark.parametrize("typed", ["aisha@", "03-2123 4567", "+92 300 1234567", "12", "hello"])
def test_sign_up_refuses_landlines_foreign_numbers_and_non_addresses(typed):
    form = SignUpForm(
        {"identifier": typed, "password1": "x7!Ghosts-pw", "password2": "x7!Ghosts-pw"}
    )
    assert not form.is_valid()
    assert "Malaysian mobile number such as 012-345 6789" in form.errors["identifier"][0]


def test_sign_up_passwords_must_match_and_be_strong():
    form = SignUpForm(
        {"identifier": "a@example.com", "password1": "x7!Ghosts-pw", "password2": "x7!Ghosts-px"}
    )
    assert not form.is_valid()
    assert form.errors["password2"] == ["The two passwords differ. Type the same one twice."]
    weak = SignUpForm(
        {"identifier": "a@example.com", "password1": "12345678", "password2": "12345678"}
    )
    assert not weak.is_valid()
    assert any("too common" in e or "entirely numeric" in e for e in weak.errors["password1"])


@pytest.mark.parametrize(
    ("typed", "ok"), [("123456", True), (" 123 456 ", True), ("12345", False), ("abcdef", False)]
)
def test_code_is_six_digits(typed, ok):
    form = CodeForm({"code": typed})
    assert form.is_valid() is ok
    if not ok:
        assert form.errors["code"] == ["The code is six digits, for example 123456."]


def _kyc(**changes):
    data = {
        "given": "Aisha",
        "family": "Khan",
        "original_script": "عائشہ خان",
        "date_of_birth": "1994-03-02",
        "nationality": "PK",
        "id_type": "passport",
        "id_number": "ab 123 4567",
        "id_expiry": (date.today() + timedelta(days=400)).isoformat(),
        "phone": "012-345 6789",
        "line1": "Unit 3-1, Jalan Ampang",
        "city": "Kuala Lumpur",
        "postcode": "50450",
        "region": "Kuala Lumpur",
        "occupation": "Electrician",
        "source_of_funds": "salary",
        "consent": "on",
    }
    data.update(changes)
    files = {"document": SimpleUploadedFile("passport.png", PNG, content_type="image/png")}
    return KycForm(data, files)


def test_kyc_form_accepts_and_shapes_a_record():
    form = _kyc()
    assert form.is_valid(), form.errors
    assert form.cleaned_data["id_number"] == "AB1234567"
    assert form.cleaned_data["phone"] == "+60123456789"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"date_of_birth": (date.today() - timedelta(days=365 * 17)).isoformat()},
            "date_of_birth",
            "You must be 18 or older to send money.",
        ),
        (
            {"id_type": "nric", "id_number": "123"},
            "id_number",
            "This is not a valid MyKad number: 12 digits, e.g. 900101-14-5678.",
        ),
        ({"id_number": "A1"}, "id_number", "A passport number is 6 to 9 letters or digits."),
        ({"id_expiry": ""}, "id_expiry", "Enter the passport's expiry date."),
        (
            {"id_expiry": "2020-01-01"},
            "id_expiry",
            "This passport has expired. Use a valid document.",
        ),
        (
            {"phone": "12345"},
            "phone",
            "Enter a Malaysian or Pakistani mobile number, e.g. 012-345 6789.",
        ),
        ({"postcode": "5045"}, "postcode", "A Malaysian postcode is 5 digits, e.g. 50450."),
        ({"consent": ""}, "consent", "Tick this box to continue: we cannot check you without it."),
    ],
)
def test_kyc_form_says_what_to_fix(changes, field, message):
    form = _kyc(**changes)
    assert not form.is_valid()
    assert form.errors[field] == [message]


def test_kyc_form_refuses_a_document_that_is_not_an_image_or_pdf():
    form = _kyc()
    form.files = {"document": SimpleUploadedFile("x.png", b"GIF89a....", content_type="image/png")}
    assert not form.is_valid()
    assert form.errors["document"] == ["Send a JPEG, PNG or PDF file."]


def test_kyc_form_accepts_a_mykad():
    form = _kyc(id_type="nric", id_number="900101145678", id_expiry="")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["id_number"] == "900101-14-5678"


def _recipient(**changes):
    data = {
        "payout": "easypaisa",
        "msisdn": "0300 1234567",
        "given": "Ali",
        "family": "Raza",
        "relationship": "sibling",
    }
    data.update(changes)
    return RecipientForm(data)


def test_recipient_wallet_number_is_normalised():
    form = _recipient()
    assert form.is_valid(), form.errors
    assert form.cleaned_data["identifier"] == "+923001234567"
    assert form.payout_method == "mobile_wallet"
    assert pk_mobile("+60123456789") is None


def test_recipient_bank_account_needs_a_pakistani_iban_and_a_cnic():
    form = _recipient(payout="bank", iban="PK36SCBL0000001123456702", cnic="")
    assert not form.is_valid()
    assert form.errors["cnic"] == ["Enter their CNIC: banks need it to pay into an account."]
    ok = _recipient(payout="bank", iban="pk36 scbl 0000 0011 2345 6702", cnic="3520212345671")
    assert ok.is_valid(), ok.errors
    assert ok.cleaned_data["identifier"] == "PK36SCBL0000001123456702"
    assert ok.cleaned_data["cnic"] == "35202-1234567-1"
    assert ok.payout_method == "bank_account"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"msisdn": "0423 1234567"},
            "msisdn",
            "Enter a Pakistani mobile number, e.g. 0300 1234567.",
        ),
        (
            {"payout": "bank", "iban": "PK36SCBL0000001123456703", "cnic": "3520212345671"},
            "iban",
            "This is not a valid Pakistani IBAN. Check it on their bank card or app.",
        ),
        (
            {"payout": "bank", "iban": "DE89370400440532013000", "cnic": "3520212345671"},
            "iban",
            "This is not a valid Pakistani IBAN. Check it on their bank card or app.",
        ),
        ({"cnic": "12"}, "cnic", "A CNIC is 13 digits, e.g. 35202-1234567-1."),
    ],
)
def test_recipient_form_says_what_to_fix(changes, field, message):
    form = _recipient(**changes)
    assert not form.is_valid()
    assert form.errors[field] == [message]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "Enter how much to send."),
        ("abc", "Enter an amount in numbers, e.g. 250 or 250.50."),
        ("0", "Enter an amount more than zero."),
        ("10.555", "Use at most 2 decimal places."),
    ],
)
def test_send_form_amount_messages(amount, message):
    form = SendForm(
        {"recipient": "r1", "amount": amount, "currency": "MYR"}, recipients=[("r1", "Ali")]
    )
    assert not form.is_valid()
    assert form.errors["amount"] == [message]


def test_send_form_needs_one_of_the_customers_recipients():
    form = SendForm(
        {"recipient": "someone-else", "amount": "10", "currency": "MYR"}, recipients=[("r1", "Ali")]
    )
    assert not form.is_valid()
    assert "recipient" in form.errors
