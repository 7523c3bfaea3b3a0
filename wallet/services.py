"""Writes of the wallet web app. Identity goes through the KYC services (`kyc_record_create`),
money through the ledger and orders services; the wallet itself keeps only preferences,
sign-up verification and codes (wallet/models.py).

Who calls: the wallet's views (one service per request) and `seed_demo`."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from institutions.models import Institution
from kyc import services as kyc
from kyc.models import KycRecord
from kyc.validation import DocumentUpload
from ledger.models import AccountKind
from ledger.services.money import account_get_or_create
from remittance.models import Customer, NameCheck, Recipient, RemittanceOrder
from remittance.services import name_checks
from remittance.services.orders import order_cancel
from wallet.errors import WalletRefusal
from wallet.messaging import SmsUnavailable, email_send, sms_available, sms_send
from wallet.models import VerificationCode, WalletProfile

logger = logging.getLogger(__name__)
CORRIDOR = "MY-PK"
CONSENT_VERSION = "2026-12"
# Codes cost money and can be abused to flood someone's phone: one a minute, five an hour.
CODE_RESEND_SECONDS = 60
CODES_PER_HOUR = 5


def wallet_institution() -> Institution:
    return Institution.objects.get(code=settings.WALLET_INSTITUTION)


# --- sign-up and codes ----------------------------------------------------------------------


def customer_sign_up(*, username: str, channel: str, password: str, language: str = "") -> Customer:
    """A new wallet customer: a login named by their e-mail address or E.164 mobile number
    (already normalised by the form), an empty MYR wallet, no KYC record yet, and a code sent
    to prove the address (once the account is committed). Refused if the name is taken."""
    if channel == WalletProfile.Channel.PHONE and not sms_available():
        raise WalletRefusal(
            _("We cannot send text messages right now. Sign up with an e-mail address instead."),
            field="identifier",
        )
    customer = _customer_create(
        username=username, channel=channel, password=password, language=language
    )
    verification_code_send(user=customer.user)
    return customer


@transaction.atomic
def _customer_create(*, username: str, channel: str, password: str, language: str) -> Customer:
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise WalletRefusal(
            _("An account with this e-mail or number already exists. Log in instead."),
            field="identifier",
        )
    user = User.objects.create_user(
        username=username,
        password=password,
        email=username if channel == WalletProfile.Channel.EMAIL else "",
    )
    institution = wallet_institution()
    wallet = account_get_or_create(
        code=f"wallet:{uuid.uuid4()}:MYR",
        kind=AccountKind.WALLET,
        currency="MYR",
        institution=institution,
        debits_must_not_exceed_credits=True,
    )
    customer = Customer.objects.create(user=user, institution=institution, wallet=wallet)
    WalletProfile.objects.create(user=user, channel=channel, language=language)
    return customer


def _code_hash(user_id: int, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"wallet-code\n{user_id}\n{code}".encode(), hashlib.sha256).hexdigest()


def verification_code_send(*, user: User) -> None:
    """A fresh six-digit code to the address the customer signed up with; earlier codes stop
    working. Stored (hashed) first, then sent: no transaction waits on a mail server."""
    profile = WalletProfile.objects.get(user=user)
    now = timezone.now()
    recent = VerificationCode.objects.filter(user=user, created_at__gte=now - timedelta(hours=1))
    if recent.filter(created_at__gte=now - timedelta(seconds=CODE_RESEND_SECONDS)).exists():
        raise WalletRefusal(
            _("We sent a code less than a minute ago. Wait a minute, then ask again.")
        )
    if recent.count() >= CODES_PER_HOUR:
        raise WalletRefusal(_("Too many codes in an hour. Try again later."))
    code = f"{secrets.randbelow(1_000_000):06d}"
    with transaction.atomic():
        VerificationCode.objects.filter(user=user, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        VerificationCode.objects.create(
            user=user,
            purpose=VerificationCode.Purpose.SIGN_UP,
            code_hash=_code_hash(user.pk, code),
            expires_at=timezone.now() + timedelta(seconds=settings.WALLET_CODE_TTL_SECONDS),
        )
    text = _("Your Remit verification code is %(code)s. It expires in %(minutes)s minutes.") % {
        "code": code,
        "minutes": settings.WALLET_CODE_TTL_SECONDS // 60,
    }
    to = user.get_username()
    if profile.channel == WalletProfile.Channel.EMAIL:
        email_send(to=to, subject=_("Your Remit verification code"), text=text)
        return
    try:
        sms_send(to=to, text=text)
    except SmsUnavailable:
        logger.error("a verification code could not be texted: no SMS provider configured")
        raise WalletRefusal(
            _("We cannot send text messages right now. Sign up with an e-mail address instead.")
        ) from None


def verification_code_check(*, user: User, code: str) -> WalletProfile:
    """Mark the customer's e-mail or number verified if `code` is their latest live code.
    A wrong code counts against the code (committed even though the check refuses)."""
    refusal = _code_check(user=user, code=code)
    if refusal is not None:
        raise refusal
    return WalletProfile.objects.get(user=user)


@transaction.atomic
def _code_check(*, user: User, code: str) -> WalletRefusal | None:
    profile = WalletProfile.objects.select_for_update().get(user=user)
    if profile.contact_verified_at is not None:
        return None
    latest = (
        VerificationCode.objects.select_for_update()
        .filter(user=user, used_at__isnull=True)
        .order_by("-created_at", "-pk")
        .first()
    )
    if latest is None or latest.expires_at <= timezone.now():
        return WalletRefusal(_("This code has expired. Ask for a new code below."), field="code")
    if latest.attempts >= settings.WALLET_CODE_MAX_ATTEMPTS:
        return WalletRefusal(_("Too many wrong codes. Ask for a new code below."), field="code")
    if not hmac.compare_digest(latest.code_hash, _code_hash(user.pk, code.strip())):
        latest.attempts += 1
        latest.save(update_fields=["attempts"])
        return WalletRefusal(
            _("That code is not right. Check the latest message we sent and try again."),
            field="code",
        )
    now = timezone.now()
    latest.used_at = now
    latest.save(update_fields=["used_at"])
    profile.contact_verified_at = now
    profile.save(update_fields=["contact_verified_at"])
    return None


# --- KYC onboarding ---------------------------------------------------------------------------


@transaction.atomic
def customer_kyc_submit(
    *,
    customer: Customer,
    data: dict[str, Any],
    documents: Sequence[DocumentUpload],
    consent_version: str = CONSENT_VERSION,
) -> KycRecord:
    """The customer's identity as a new sender KYC record of the wallet's institution
    (encrypted, documents with it), status pending for compliance to review. A customer whose
    record needs more information sends a new record; the customer then points at it."""
    current = (
        KycRecord.objects.filter(kyc_ref=customer.kyc_ref).first() if customer.kyc_ref else None
    )
    if current is not None and current.status in (
        KycRecord.Status.PENDING,
        KycRecord.Status.VERIFIED,
    ):
        raise WalletRefusal(_("Your identity details are already with us."))
    record = kyc.kyc_record_create(
        owner=customer.institution, role="sender", data=data, documents=documents
    )
    customer.kyc_ref = record.kyc_ref
    customer.save(update_fields=["kyc_ref"])
    WalletProfile.objects.filter(user_id=customer.user_id).update(
        consent_version=consent_version, consent_at=timezone.now()
    )
    return record


# --- recipients -------------------------------------------------------------------------------


def recipient_name_check_start(
    *, customer: Customer, payout_method: str, identifier: str
) -> NameCheck:
    """Ask the receiving bank whose wallet or account this is (answered by webhook round trip,
    usually within a second)."""
    return name_checks.name_check_request(
        institution=customer.institution,
        corridor_code=CORRIDOR,
        payout_method=payout_method,
        identifier=identifier,
        customer=customer,
    )


def _hint(identifier: str) -> str:
    return "••••" + identifier[-4:]


@transaction.atomic
def recipient_save(
    *,
    customer: Customer,
    check: NameCheck,
    data: dict[str, Any],
    provider: str = "",
    recipient: Recipient | None = None,
) -> Recipient:
    """Save a recipient (new, or `recipient` edited) as a beneficiary KYC record of the
    customer's institution, once the receiving bank has named the account (`check`). KYC
    records do not change: an edit is a new record the recipient points at from now on;
    transfers already made keep naming the record they were made with."""
    if check.customer_id != customer.pk or check.status != NameCheck.Status.MATCHED:
        raise WalletRefusal(
            _("The receiving bank has not confirmed this account yet. Check the name again.")
        )
    identifier = name_checks.name_check_view(check=check).identifier
    account_type = "wallet" if check.payout_method == "mobile_wallet" else "iban"
    record_data = dict(data)
    record_data["account"] = {
        "type": account_type,
        "identifier": identifier,
        # the wallet's brand (Easypaisa, JazzCash) as the customer chose it, else the bank
        "institution": provider or check.receiving_institution.code,
    }
    if account_type == "wallet":
        record_data["phone"] = identifier
    record = kyc.kyc_record_create(owner=customer.institution, role="beneficiary", data=record_data)
    if recipient is None:
        return Recipient.objects.create(
            customer=customer,
            kyc_ref=record.kyc_ref,
            payout_method=check.payout_method,
            payout_hint=_hint(identifier),
        )
    recipient.kyc_ref = record.kyc_ref
    recipient.payout_method = check.payout_method
    recipient.payout_hint = _hint(identifier)
    recipient.save(update_fields=["kyc_ref", "payout_method", "payout_hint"])
    return recipient


def recipient_remove(*, customer: Customer, recipient: Recipient) -> None:
    """No longer offered to send to; kept for the transfers that name it."""
    if recipient.customer_id != customer.pk:
        raise WalletRefusal(_("No such recipient."))
    recipient.removed_at = timezone.now()
    recipient.save(update_fields=["removed_at"])


# --- transfers --------------------------------------------------------------------------------


def transfer_cancel(*, customer: Customer, order: RemittanceOrder) -> RemittanceOrder:
    if order.customer_id != customer.pk:
        raise WalletRefusal(_("No such transfer."))
    return order_cancel(
        order_id=order.pk,
        sending_institution=customer.institution,
        actor=f"customer:{customer.pk}",
    )


# --- preferences and sessions -----------------------------------------------------------------


def profile_for(user: User) -> WalletProfile:
    """The user's profile. A user without one did not sign up here (seed_demo's customers, a
    login made by staff): their contact is taken as confirmed by whoever created them."""
    profile, _created = WalletProfile.objects.get_or_create(
        user=user,
        defaults={"channel": WalletProfile.Channel.EMAIL, "contact_verified_at": timezone.now()},
    )
    return profile


def profile_language_set(*, user: User, language: str) -> None:
    if language not in dict(settings.LANGUAGES):
        raise WalletRefusal(_("That language is not offered."))
    profile = profile_for(user)
    profile.language = language
    profile.save(update_fields=["language"])


TIME_ZONES = ("Asia/Kuala_Lumpur", "Asia/Karachi", "Asia/Dubai", "Asia/Riyadh", "UTC")


def profile_time_zone_set(*, user: User, time_zone: str) -> None:
    """The zone the customer's times are shown in (Malaysia's until they choose)."""
    if time_zone not in TIME_ZONES:
        raise WalletRefusal(_("Choose a time zone from the list."), field="time_zone")
    profile = profile_for(user)
    profile.time_zone = time_zone
    profile.save(update_fields=["time_zone"])


def sessions_end_everywhere(*, user: User) -> None:
    """Every session of this user that logged in before now ends on its next request
    (wallet.middleware.WalletUserMiddleware)."""
    profile = profile_for(user)
    profile.sessions_valid_after = timezone.now()
    profile.save(update_fields=["sessions_valid_after"])
