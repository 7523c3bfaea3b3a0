"""The wallet's forms. Each one validates what a person typed and says, next to the field,
what to do; messages are translatable. Identity rules are the KYC service's (kyc/validation.py)
applied again here so that the customer reads them in their language."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import phonenumbers
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.my import nric
from stdnum.pk import cnic

from kyc.validation import COUNTRIES, DOCUMENT_TYPES, PASSPORT
from remittance.models import Customer
from wallet.messaging import sms_send
from wallet.models import WalletProfile

DOCUMENT_MAX_BYTES = 5 * 1024 * 1024


def contact_normalise(value: str) -> tuple[str, str] | None:
    """(channel, username) for an e-mail address or a Malaysian mobile number in any common
    form (012-345 6789, +60 12 345 6789), or None."""
    text = value.strip()
    if "@" in text:
        try:
            validate_email(text)
        except ValidationError:
            return None
        return WalletProfile.Channel.EMAIL, text.lower()
    try:
        number = phonenumbers.parse(text, "MY")
    except phonenumbers.NumberParseException:
        return None
    if (
        phonenumbers.region_code_for_number(number) != "MY"
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE
    ):
        return None
    return WalletProfile.Channel.PHONE, phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164
    )


def pk_mobile(value: str) -> str | None:
    """A Pakistani mobile number (0300 1234567, +92 300 1234567) as E.164, or None."""
    try:
        number = phonenumbers.parse(value.strip(), "PK")
    except phonenumbers.NumberParseException:
        return None
    if (
        phonenumbers.region_code_for_number(number) != "PK"
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE
    ):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class SignUpForm(forms.Form):
    identifier = forms.CharField(
        label=_("E-mail or Malaysian mobile number"),
        max_length=150,
        help_text=_("For example aisha@example.com or 012-345 6789."),
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters, not only digits, not a common password."),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_identifier(self) -> str:
        found = contact_normalise(self.cleaned_data["identifier"])
        if found is None:
            raise ValidationError(
                _("Enter an e-mail address, or a Malaysian mobile number such as 012-345 6789.")
            )
        self.channel, username = found
        return username

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ. Type the same one twice."))
        elif first and "identifier" in data:
            user = get_user_model()(username=data["identifier"])
            try:
                password_validation.validate_password(first, user)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Verification code"),
        max_length=12,
        help_text=_("The six digits we sent you."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )

    def clean_code(self) -> str:
        code = re.sub(r"\s", "", self.cleaned_data["code"])
        if not re.fullmatch(r"[0-9]{6}", code):
            raise ValidationError(_("The code is six digits, for example 123456."))
        return code


class WalletLoginForm(AuthenticationForm):
    """Log in with the e-mail address or mobile number signed up with, in any common form."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("E-mail or mobile number")

    def clean_username(self) -> str:
        typed = str(self.cleaned_data.get("username", ""))
        found = contact_normalise(typed)
        return found[1] if found else typed.strip()


class WalletPasswordResetForm(PasswordResetForm):
    """A reset link by e-mail, or by text message to a customer who signed up with a mobile
    number. The page says the same whether or not an account exists."""

    email = forms.CharField(label=_("E-mail or mobile number"), max_length=254)

    def get_users(self, email: str) -> Any:
        found = contact_normalise(email)
        username = found[1] if found else email.strip()
        return (
            u
            for u in get_user_model()._default_manager.filter(
                username__iexact=username, is_active=True
            )
            if u.has_usable_password()
        )

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        if to_email and "@" in to_email:
            super().send_mail(
                subject_template_name,
                email_template_name,
                context,
                from_email,
                to_email,
                html_email_template_name,
            )
            return
        from django.template import loader

        # signed up with a mobile number: the user's name is that number (E.164)
        number = context["user"].get_username()
        if number.startswith("+"):  # anyone else without an e-mail address gets nothing
            sms_send(to=number, text=loader.render_to_string(email_template_name, context))


NATIONALITIES = [
    ("MY", _("Malaysia")),
    ("PK", _("Pakistan")),
    ("BD", _("Bangladesh")),
    ("ID", _("Indonesia")),
    ("IN", _("India")),
    ("NP", _("Nepal")),
    ("MM", _("Myanmar")),
    ("PH", _("Philippines")),
]
ID_TYPES = [("nric", _("MyKad (Malaysian identity card)")), ("passport", _("Passport"))]
SOURCES = [
    ("salary", _("Salary")),
    ("business", _("Business income")),
    ("savings", _("Savings")),
    ("family", _("Family support")),
    ("other", _("Other")),
]
STATES = [
    "Johor",
    "Kedah",
    "Kelantan",
    "Kuala Lumpur",
    "Labuan",
    "Melaka",
    "Negeri Sembilan",
    "Pahang",
    "Penang",
    "Perak",
    "Perlis",
    "Putrajaya",
    "Sabah",
    "Sarawak",
    "Selangor",
    "Terengganu",
]


class KycForm(forms.Form):
    given = forms.CharField(label=_("Given names (as on your document)"), max_length=100)
    family = forms.CharField(label=_("Family name"), max_length=100, required=False)
    original_script = forms.CharField(
        label=_("Full name in your own script (optional)"),
        max_length=100,
        required=False,
        help_text=_("For example in Urdu: عائشہ خان"),
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("You must be 18 or older."),
    )
    nationality = forms.ChoiceField(label=_("Nationality"), choices=NATIONALITIES)
    id_type = forms.ChoiceField(label=_("Identity document"), choices=ID_TYPES)
    id_number = forms.CharField(
        label=_("Document number"),
        max_length=32,
        help_text=_("MyKad: 12 digits, e.g. 900101-14-5678. Passport: 6 to 9 letters or digits."),
    )
    id_expiry = forms.DateField(
        label=_("Passport expiry date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=32,
        help_text=_("Malaysian or Pakistani mobile number."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    line1 = forms.CharField(label=_("Address"), max_length=100)
    line2 = forms.CharField(label=_("Address line 2 (optional)"), max_length=100, required=False)
    city = forms.CharField(label=_("Town or city"), max_length=100)
    postcode = forms.RegexField(
        label=_("Postcode"),
        regex=r"^[0-9]{5}$",
        error_messages={"invalid": _("A Malaysian postcode is 5 digits, e.g. 50450.")},
    )
    region = forms.ChoiceField(label=_("State"), choices=[(s, s) for s in STATES])
    occupation = forms.CharField(label=_("Occupation"), max_length=64)
    source_of_funds = forms.ChoiceField(label=_("Where the money comes from"), choices=SOURCES)
    document = forms.FileField(
        label=_("Photo of your document"),
        help_text=_("A JPEG, PNG or PDF of the photo page, up to 5 MB."),
    )
    consent = forms.BooleanField(
        label=_(
            "I confirm these details are true, and I agree that Remit keeps them encrypted, "
            "checks them against sanctions lists and shares them only with the banks that "
            "handle my transfers, as the law requires."
        ),
        error_messages={
            "required": _("Tick this box to continue: we cannot check you without it.")
        },
    )

    def clean_date_of_birth(self) -> date:
        dob: date = self.cleaned_data["date_of_birth"]
        today = timezone.localdate()
        age = today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))
        if dob > today or dob.year < 1900:
            raise ValidationError(_("Enter your real date of birth."))
        if age < getattr(settings, "KYC_MIN_SENDER_AGE", 18):
            raise ValidationError(_("You must be 18 or older to send money."))
        return dob

    def clean_phone(self) -> str:
        typed = self.cleaned_data["phone"]
        found = contact_normalise(typed)
        if found and found[0] == WalletProfile.Channel.PHONE:
            return found[1]
        pk = pk_mobile(typed)
        if pk:
            return pk
        raise ValidationError(_("Enter a Malaysian or Pakistani mobile number, e.g. 012-345 6789."))

    def clean_id_expiry(self) -> date | None:
        expiry: date | None = self.cleaned_data.get("id_expiry")
        if expiry is not None and expiry < timezone.localdate():
            raise ValidationError(_("This passport has expired. Use a valid document."))
        return expiry

    def clean_document(self) -> Any:
        upload = self.cleaned_data["document"]
        content_type = getattr(upload, "content_type", "")
        if upload.size > DOCUMENT_MAX_BYTES:
            raise ValidationError(_("The file is larger than 5 MB. Send a smaller photo."))
        head = upload.read(8)
        upload.seek(0)
        magic = DOCUMENT_TYPES.get(content_type)
        if magic is None or not head.startswith(magic):
            raise ValidationError(_("Send a JPEG, PNG or PDF file."))
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, number = data.get("id_type"), data.get("id_number")
        if kind == "nric" and number:
            try:
                data["id_number"] = nric.format(nric.validate(number))
            except StdnumError:
                self.add_error(
                    "id_number",
                    _("This is not a valid MyKad number: 12 digits, e.g. 900101-14-5678."),
                )
        elif kind == "passport" and number:
            compact = re.sub(r"[\s-]", "", number).upper()
            if not PASSPORT.fullmatch(compact):
                self.add_error("id_number", _("A passport number is 6 to 9 letters or digits."))
            else:
                data["id_number"] = compact
            if not data.get("id_expiry") and "id_expiry" not in self.errors:
                self.add_error("id_expiry", _("Enter the passport's expiry date."))
        return data

    def record_data(self, *, customer: Customer) -> dict[str, Any]:
        """The cleaned answers in the KYC record's shape (kyc/validation.py)."""
        d = self.cleaned_data
        nationality = d["nationality"]
        document = {
            "type": d["id_type"],
            "number": d["id_number"],
            "issuing_country": "MY" if d["id_type"] == "nric" else nationality,
        }
        if d["id_type"] == "passport" and d.get("id_expiry"):
            document["expiry_date"] = d["id_expiry"].isoformat()
        name = {"given": d["given"], "family": d["family"], "original_script": d["original_script"]}
        address = {
            "line1": d["line1"],
            "line2": d["line2"],
            "city": d["city"],
            "region": d["region"],
            "postcode": d["postcode"],
            "country": "MY",
        }
        return {
            "name": {k: v for k, v in name.items() if v},
            "date_of_birth": d["date_of_birth"].isoformat(),
            "nationality": nationality if nationality in COUNTRIES else "PK",
            "address": {k: v for k, v in address.items() if v},
            "id_documents": [document],
            "phone": d["phone"],
            "occupation": d["occupation"],
            "source_of_funds": d["source_of_funds"],
            "reference": str(customer.pk),
        }


PAYOUT_CHOICES = [
    ("easypaisa", _("Easypaisa mobile wallet")),
    ("jazzcash", _("JazzCash mobile wallet")),
    ("bank", _("Bank account in Pakistan (IBAN)")),
]
RELATIONSHIPS = [
    ("family", _("Family member")),
    ("spouse", _("Husband or wife")),
    ("parent", _("Parent")),
    ("child", _("Son or daughter")),
    ("sibling", _("Brother or sister")),
    ("friend", _("Friend")),
    ("self", _("Myself")),
    ("other", _("Other")),
]


class RecipientForm(forms.Form):
    payout = forms.ChoiceField(
        label=_("How they receive"), choices=PAYOUT_CHOICES, widget=forms.RadioSelect
    )
    msisdn = forms.CharField(
        label=_("Their mobile wallet number"),
        max_length=20,
        required=False,
        help_text=_("A Pakistani mobile number, e.g. 0300 1234567."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    iban = forms.CharField(
        label=_("Their IBAN"),
        max_length=42,
        required=False,
        help_text=_("24 characters starting with PK, e.g. PK36 SCBL 0000 0011 2345 6702."),
    )
    given = forms.CharField(label=_("Their given names"), max_length=100)
    family = forms.CharField(label=_("Their family name"), max_length=100, required=False)
    relationship = forms.ChoiceField(label=_("They are your"), choices=RELATIONSHIPS)
    cnic = forms.CharField(
        label=_("Their CNIC number"),
        max_length=20,
        required=False,
        help_text=_("Needed for bank accounts: 13 digits, e.g. 35202-1234567-1."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        payout = data.get("payout")
        if payout in ("easypaisa", "jazzcash"):
            number = pk_mobile(data.get("msisdn", ""))
            if number is None:
                self.add_error(
                    "msisdn",
                    _("Enter a Pakistani mobile number, e.g. 0300 1234567."),
                )
            else:
                data["identifier"] = number
        elif payout == "bank":
            try:
                iban = IBAN(data.get("iban", ""))
                if iban.country_code != "PK":
                    raise SchwiftyException("not PK")
                data["identifier"] = iban.compact
            except SchwiftyException:
                self.add_error(
                    "iban",
                    _("This is not a valid Pakistani IBAN. Check it on their bank card or app."),
                )
        typed_cnic = (data.get("cnic") or "").strip()
        if typed_cnic:
            try:
                data["cnic"] = cnic.format(cnic.validate(typed_cnic))
            except StdnumError:
                self.add_error("cnic", _("A CNIC is 13 digits, e.g. 35202-1234567-1."))
        elif payout == "bank":
            self.add_error("cnic", _("Enter their CNIC: banks need it to pay into an account."))
        return data

    @property
    def payout_method(self) -> str:
        return "bank_account" if self.cleaned_data["payout"] == "bank" else "mobile_wallet"

    def record_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        data: dict[str, Any] = {
            "name": {k: v for k, v in {"given": d["given"], "family": d["family"]}.items() if v},
            "relationship": d["relationship"],
        }
        if d.get("cnic"):
            data["id_documents"] = [{"type": "cnic", "number": d["cnic"], "issuing_country": "PK"}]
        return data


class SendForm(forms.Form):
    recipient = forms.ChoiceField(label=_("To"))
    amount = forms.DecimalField(
        label=_("Amount"),
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        error_messages={
            "invalid": _("Enter an amount in numbers, e.g. 250 or 250.50."),
            "min_value": _("Enter an amount more than zero."),
            "max_decimal_places": _("Use at most 2 decimal places."),
            "max_digits": _("That amount is too large."),
            "max_whole_digits": _("That amount is too large."),
        },
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    currency = forms.ChoiceField(
        label=_("The amount is"),
        choices=[("MYR", _("what I send (MYR)")), ("PKR", _("what they receive (PKR)"))],
        widget=forms.RadioSelect,
        initial="MYR",
    )

    def __init__(self, *args: Any, recipients: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        recipient_field = self.fields["recipient"]
        assert isinstance(recipient_field, forms.ChoiceField)
        recipient_field.choices = recipients
        self.fields["recipient"].error_messages["required"] = _("Choose who to send to.")
        self.fields["amount"].error_messages["required"] = _("Enter how much to send.")


class CalculatorForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount"),
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        initial=Decimal("500"),
        error_messages={"invalid": _("Enter an amount in numbers, e.g. 500.")},
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    currency = forms.ChoiceField(
        label=_("The amount is"),
        choices=[("MYR", _("what I send (MYR)")), ("PKR", _("what they receive (PKR)"))],
        widget=forms.RadioSelect,
        initial="MYR",
    )


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label=_("Show times in"),
        choices=[
            ("Asia/Kuala_Lumpur", _("Malaysia (MYT)")),
            ("Asia/Karachi", _("Pakistan (PKT)")),
            ("Asia/Dubai", _("United Arab Emirates (GST)")),
            ("Asia/Riyadh", _("Saudi Arabia (AST)")),
            ("UTC", _("UTC")),
        ],
        error_messages={"invalid_choice": _("Choose a time zone from the list.")},
    )
