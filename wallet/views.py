"""The wallet web app's pages (thin views: validate a form, call one service or selector,
render). Every refusal keeps what was typed and says, next to the field, what to do."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError
from core.money import Money, MoneyError
from kyc.errors import KycValidationError
from kyc.validation import DocumentUpload
from remittance.models import (
    Customer,
    NameCheck,
    OrderStatus,
    Quote,
    Recipient,
    RemittanceOrder,
)
from remittance.services.name_checks import name_check_view
from remittance.services.orders import order_submit
from remittance.services.quotes import quote_create
from settlement.rates import RateUnavailable
from wallet import selectors, services
from wallet.errors import WalletRefusal
from wallet.forms import (
    CalculatorForm,
    CodeForm,
    KycForm,
    RecipientForm,
    SendForm,
    SignUpForm,
    TimeZoneForm,
)
from wallet.models import WalletProfile
from wallet.references import order_reference
from wallet.templatetags.wallet_format import money

S = OrderStatus
FINAL = {S.CREDITED, S.SETTLED, S.REFUNDED, S.FAILED, S.REJECTED}
CORRIDOR = "MY-PK"
PROVIDERS = {"easypaisa": "Easypaisa", "jazzcash": "JazzCash"}


def _customer(request: HttpRequest) -> Customer:
    customer = selectors.customer_of(request.user)
    if customer is None:
        raise Http404("no wallet for this login")
    return customer


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text or "")
    except ValueError:
        return None


def _user(request: HttpRequest) -> User:
    """The logged-in user (views behind login_required only)."""
    assert isinstance(request.user, User)
    return request.user


def _profile(request: HttpRequest) -> WalletProfile:
    return services.profile_for(_user(request))


# --- before login --------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    """The public page: what a transfer costs, from the quote service's own pricing."""
    form = CalculatorForm(request.GET or None)
    amount, currency = Decimal("500"), "MYR"
    if form.is_bound and form.is_valid():
        amount, currency = form.cleaned_data["amount"], form.cleaned_data["currency"]
    result, problem = None, ""
    try:
        result = selectors.estimate(amount=amount, currency=currency)
    except RateUnavailable:
        problem = _("Prices are being updated. Try again in a minute.")
    except MoneyError:
        problem = _("That amount is too large.")
    if result is not None and not (result.min_send <= result.send <= result.max_send):
        problem = _("We send between %(low)s and %(high)s per transfer.") % {
            "low": money(result.min_send),
            "high": money(result.max_send),
        }
    limits: dict[str, Any] = dict(settings.KYC_TIER_LIMITS).get(CORRIDOR, {})
    tiers: dict[str, dict[str, str]] = limits.get("tiers", {})
    return render(
        request,
        "home.html",
        {
            "form": form if form.is_bound else CalculatorForm(),
            "estimate": result,
            "problem": problem,
            "fee_warning": result is not None
            and result.fee_percent >= settings.WALLET_FEE_WARNING_PERCENT,
            "tier1": {k: Money.parse(v, "MYR") for k, v in tiers.get("1", {}).items()},
        },
    )


@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("wallet")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_sign_up(
                username=form.cleaned_data["identifier"],
                channel=form.channel,
                password=form.cleaned_data["password1"],
                language=(request.LANGUAGE_CODE or "")[:2],
            )
        except WalletRefusal as exc:
            form.add_error(exc.field, exc.detail)
        else:
            login(request, customer.user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("wallet-code")
    return render(request, "wallet/sign_up.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    profile = _profile(request)
    if profile.contact_verified_at is not None:
        return redirect("wallet-identity")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and "resend" in request.POST:
        try:
            services.verification_code_send(user=_user(request))
        except WalletRefusal as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, _("We sent you a new code."))
        return redirect("wallet-code")
    if request.method == "POST" and form.is_valid():
        try:
            services.verification_code_check(user=_user(request), code=form.cleaned_data["code"])
        except WalletRefusal as exc:
            form.add_error("code", exc.detail)
        else:
            messages.success(request, _("Thank you: your contact details are confirmed."))
            return redirect("wallet-identity")
    return render(
        request,
        "wallet/code.html",
        {"form": form, "profile": profile, "address": request.user.get_username()},
    )


# --- KYC onboarding --------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def identity(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    profile = _profile(request)
    if profile.contact_verified_at is None:
        return redirect("wallet-code")
    state = selectors.kyc_state(customer)
    may_submit = state.status in ("none", "needs_info", "rejected")
    form = KycForm(request.POST or None, request.FILES or None) if may_submit else None
    if form is not None and request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["document"]
        document = DocumentUpload(
            kind="id_front" if form.cleaned_data["id_type"] == "nric" else "passport_scan",
            content_type=upload.content_type,
            content=upload.read(),
            filename=upload.name or "",
        )
        try:
            services.customer_kyc_submit(
                customer=customer,
                data=form.record_data(customer=customer),
                documents=[document],
            )
        except KycValidationError as exc:
            form.add_error(
                None,
                _("Some details could not be accepted: %(fields)s.")
                % {"fields": ", ".join(sorted(exc.errors))},
            )
        except WalletRefusal as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, _("Thank you. We are checking your details."))
            return redirect("wallet-identity")
    return render(request, "wallet/identity.html", {"form": form, "state": state})


# --- home, recipients --------------------------------------------------------------------------


def _recipient_choices(request: HttpRequest, customer: Customer) -> list[tuple[str, str]]:
    recipients = list(selectors.recipients_of(customer))
    labels = selectors.recipient_labels(
        customer=customer, session=request.session, kyc_refs=[r.kyc_ref for r in recipients]
    )
    return [(str(r.pk), _recipient_text(r, labels.get(r.kyc_ref))) for r in recipients]


def _recipient_text(recipient: Recipient, label: Any) -> str:
    name = label.name if label and label.name else _("Recipient")
    if recipient.payout_method == "mobile_wallet":
        where = label.provider if label and label.provider else _("Mobile wallet")
    else:
        where = _("Bank account")
    return f"{name} · {where} {recipient.payout_hint}"


@login_required
def wallet_home(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    profile = _profile(request)
    if profile.contact_verified_at is None:
        return redirect("wallet-code")
    state = selectors.kyc_state(customer)
    recipients = _recipient_choices(request, customer)
    return render(
        request,
        "wallet/home.html",
        {
            "customer": customer,
            "state": state,
            "allowance": selectors.allowance(customer),
            "reserved": Money.from_minor(
                customer.wallet.debits_pending if customer.wallet else 0, "MYR"
            ),
            "recipients": recipients,
            "orders": [
                (o, order_reference(o.pk), _customer_status(o))
                for o in selectors.transfers_of(customer)[:5]
            ],
        },
    )


@login_required
def recipients(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    rows = list(selectors.recipients_of(customer))
    labels = selectors.recipient_labels(
        customer=customer, session=request.session, kyc_refs=[r.kyc_ref for r in rows]
    )
    return render(
        request,
        "wallet/recipients.html",
        {"rows": [(r, labels.get(r.kyc_ref)) for r in rows]},
    )


def _own_recipient(customer: Customer, recipient_id: uuid.UUID) -> Recipient:
    recipient = selectors.recipients_of(customer).filter(pk=recipient_id).first()
    if recipient is None:
        raise Http404("no such recipient")
    return recipient


@login_required
@require_http_methods(["GET", "POST"])
def recipient_edit(request: HttpRequest, recipient_id: uuid.UUID | None = None) -> HttpResponse:
    """Step 1 of adding or editing: the details, checked here; then the receiving bank is
    asked whose account it is (step 2, `recipient_check`)."""
    customer = _customer(request)
    recipient = _own_recipient(customer, recipient_id) if recipient_id else None
    form = RecipientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = services.recipient_name_check_start(
            customer=customer,
            payout_method=form.payout_method,
            identifier=form.cleaned_data["identifier"],
        )
        return render(
            request,
            "wallet/recipient_check.html",
            {"form": form, "check": check, "recipient": recipient, "answer": None},
        )
    return render(request, "wallet/recipient_form.html", {"form": form, "recipient": recipient})


def _own_check(customer: Customer, check_id: uuid.UUID) -> NameCheck:
    check = NameCheck.objects.filter(pk=check_id, customer=customer).first()
    if check is None:
        raise Http404("no such name check")
    return check


@login_required
def recipient_check(request: HttpRequest, check_id: uuid.UUID) -> HttpResponse:
    """The name check's answer, polled by the check page (htmx) until the bank answers."""
    customer = _customer(request)
    check = _own_check(customer, check_id)
    answer = name_check_view(check=check).account_title if check.status == "matched" else ""
    return render(request, "wallet/_name_check.html", {"check": check, "answer": answer})


@login_required
@require_POST
def recipient_save(request: HttpRequest, check_id: uuid.UUID) -> HttpResponse:
    customer = _customer(request)
    check = _own_check(customer, check_id)
    try:
        recipient_id = (
            uuid.UUID(request.POST["recipient_id"]) if request.POST.get("recipient_id") else None
        )
    except ValueError:
        raise Http404("no such recipient") from None
    recipient = _own_recipient(customer, recipient_id) if recipient_id else None
    form = RecipientForm(request.POST)
    if not form.is_valid():
        return render(request, "wallet/recipient_form.html", {"form": form, "recipient": recipient})
    identifier = name_check_view(check=check).identifier
    if identifier != form.cleaned_data["identifier"]:
        form.add_error(None, _("The number changed after the check. Check the name again."))
        return render(request, "wallet/recipient_form.html", {"form": form, "recipient": recipient})
    data = form.record_data()
    try:
        services.recipient_save(
            customer=customer,
            check=check,
            data=data,
            provider=PROVIDERS.get(form.cleaned_data["payout"], ""),
            recipient=recipient,
        )
    except WalletRefusal as exc:
        form.add_error(None, exc.detail)
        return render(request, "wallet/recipient_form.html", {"form": form, "recipient": recipient})
    full = " ".join(p for p in (form.cleaned_data["given"], form.cleaned_data["family"]) if p)
    messages.success(request, _("%(name)s is saved.") % {"name": full})
    return redirect("wallet-recipients")


@login_required
@require_POST
def recipient_remove(request: HttpRequest, recipient_id: uuid.UUID) -> HttpResponse:
    customer = _customer(request)
    recipient = _own_recipient(customer, recipient_id)
    services.recipient_remove(customer=customer, recipient=recipient)
    messages.success(request, _("The recipient is removed. Past transfers still show them."))
    return redirect("wallet-recipients")


# --- send ---------------------------------------------------------------------------------------


def _refusal_text(code: str) -> str:
    """What a refusal of the quote or order services means to a customer, and what to do."""
    texts = {
        "insufficient_funds": _("Your wallet does not hold enough for this. Top up or send less."),
        "limit_exceeded": _("This is over your sending limit. Send less, or wait until tomorrow."),
        "kyc_not_verified": _("We are still checking your identity. You can send once it is done."),
        "quote_expired": _("This price has expired. Get a new quote."),
        "quote_used": _("This quote was already used. Get a new quote."),
        "rate_unavailable": _("Prices are being updated. Try again in a minute."),
        "travel_rule_incomplete": _(
            "We need more details about you or your recipient for an amount this large."
        ),
    }
    return str(texts.get(code, _("We could not send this. Please try again.")))


def _send_page(
    request: HttpRequest, customer: Customer, form: SendForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "wallet/send.html",
        {
            "form": form,
            "allowance": selectors.allowance(customer),
            "state": selectors.kyc_state(customer),
        },
        status=status,
    )


@login_required
def send(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    initial = {"currency": "MYR"}
    for key in ("recipient", "amount", "currency"):
        if request.GET.get(key):
            initial[key] = request.GET[key]
    form = SendForm(initial=initial, recipients=_recipient_choices(request, customer))
    return _send_page(request, customer, form)


@login_required
@require_POST
def wallet_quote(request: HttpRequest) -> HttpResponse:
    """Price the transfer, check it against the balance and limits, and show it to confirm.
    A refusal shows the form again with what was typed and what to do."""
    customer = _customer(request)
    form = SendForm(request.POST, recipients=_recipient_choices(request, customer))
    if not form.is_valid():
        return _send_page(request, customer, form, status=422)
    recipient = selectors.recipients_of(customer).get(pk=form.cleaned_data["recipient"])
    amount = Money(form.cleaned_data["amount"], form.cleaned_data["currency"])
    allowance = selectors.allowance(customer)
    if not allowance.verified:
        form.add_error(None, _refusal_text("kyc_not_verified"))
        return _send_page(request, customer, form, status=422)
    try:
        quote = quote_create(
            institution=customer.institution,
            customer=customer,
            corridor_code=CORRIDOR,
            payout_method=recipient.payout_method,
            send_amount=amount if amount.currency == "MYR" else None,
            receive_amount=amount if amount.currency != "MYR" else None,
        )
    except DomainError as exc:
        limits = selectors.send_range()
        if exc.code == "amount_out_of_range" and limits is not None:
            form.add_error(
                "amount",
                _("We send between %(low)s and %(high)s per transfer. Change the amount.")
                % {"low": money(limits[0]), "high": money(limits[1])},
            )
        else:
            form.add_error("amount", _refusal_text(exc.code))
        return _send_page(request, customer, form, status=422)
    send_money = Money.from_minor(quote.send_minor, "MYR")
    total = Money.from_minor(quote.send_minor + quote.fee_minor, "MYR")
    if allowance.most < send_money:
        form.add_error(
            "amount",
            _("You can send up to %(most)s now (your limits). Send less.")
            % {"most": money(allowance.most)},
        )
        return _send_page(request, customer, form, status=422)
    if allowance.balance < total:
        form.add_error(
            "amount",
            _("With the fee this costs %(total)s; your wallet holds %(balance)s. Send less.")
            % {"total": money(total), "balance": money(allowance.balance)},
        )
        return _send_page(request, customer, form, status=422)
    labels = selectors.recipient_labels(
        customer=customer, session=request.session, kyc_refs=[recipient.kyc_ref]
    )
    fee_percent = Decimal(quote.fee_minor * 100) / Decimal(quote.send_minor)
    return render(
        request,
        "wallet/confirm.html",
        {
            "quote": quote,
            "recipient": recipient,
            "recipient_text": _recipient_text(recipient, labels.get(recipient.kyc_ref)),
            "send": send_money,
            "fee": Money.from_minor(quote.fee_minor, "MYR"),
            "total": total,
            "receive": Money.from_minor(quote.receive_minor, quote.receive_currency),
            "fee_percent": fee_percent.quantize(Decimal("0.1")),
            "fee_warning": fee_percent >= settings.WALLET_FEE_WARNING_PERCENT,
            "order_id": uuid.uuid4(),
            "back": reverse("wallet-send-form")
            + f"?recipient={recipient.pk}&amount={form.cleaned_data['amount']}"
            + f"&currency={amount.currency}",
        },
    )


@login_required
@require_POST
def wallet_send(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    quote = Quote.objects.filter(
        pk=request.POST.get("quote_id", ""), institution=customer.institution, customer=customer
    ).first()
    recipient_id, order_id = (
        _uuid(request.POST.get("recipient_id")),
        _uuid(request.POST.get("order_id")),
    )
    recipient = (
        selectors.recipients_of(customer).filter(pk=recipient_id).first() if recipient_id else None
    )
    if quote is None or recipient is None or order_id is None:
        messages.error(request, _("That quote is no longer available. Please start again."))
        return redirect("wallet-send-form")
    try:
        order = order_submit(
            sending_institution=customer.institution,
            order_id=order_id,
            quote_id=quote.pk,
            sender_kyc_ref=customer.kyc_ref,
            beneficiary_kyc_ref=recipient.kyc_ref,
            customer=customer,
            recipient=recipient,
        )
    except DomainError as exc:
        messages.error(request, _refusal_text(exc.code))
        return redirect(
            reverse("wallet-send-form")
            + f"?recipient={recipient.pk}&amount={Money.from_minor(quote.send_minor, 'MYR').amount}"
        )
    return redirect("wallet-order", order_id=order.pk)


# --- track --------------------------------------------------------------------------------------


def _bank_name(order: RemittanceOrder) -> str:
    return order.receiving_institution.name.split(" /")[0].split(" (")[0]


def _customer_status(order: RemittanceOrder) -> str:
    texts: dict[str, str] = {
        S.SUBMITTED: _("Paid"),
        S.HELD: _("Being checked"),
        S.ACCEPTED: _("At the receiving bank"),
        S.CREDITED: _("Delivered"),
        S.SETTLED: _("Delivered"),
        S.REJECTED: _("Cancelled"),
        S.EXPIRED: _("Not delivered"),
        S.REFUNDED: _("Refunded"),
        S.FAILED: _("Failed"),
    }
    return texts.get(order.status, order.status)


def _timeline(order: RemittanceOrder, where: str, bank: str) -> list[tuple[str, Any, bool]]:
    """The customer's steps (label, when, done): Paid → At <bank> → Delivered to <where>."""
    changes = {c.to_status: c.created_at for c in order.history.all()}
    steps: list[tuple[str, Any, bool]] = [(_("Paid"), order.created_at, True)]
    if S.HELD in changes:
        steps.append((_("Routine check by our compliance team"), changes[S.HELD], True))
    if order.status in (S.REJECTED, S.REFUNDED, S.EXPIRED) or S.REJECTED in changes:
        if order.reason_code == "sender_cancelled":
            steps.append((_("Cancelled by you"), changes.get(S.REJECTED), True))
        else:
            steps.append(
                (
                    _("The receiving bank could not pay it"),
                    changes.get(S.REJECTED) or changes.get(S.EXPIRED),
                    True,
                )
            )
        steps.append(
            (_("Money back in your wallet"), changes.get(S.REFUNDED), order.status == S.REFUNDED)
        )
        return steps
    steps.append(
        (_("At %(bank)s") % {"bank": bank}, changes.get(S.ACCEPTED), S.ACCEPTED in changes)
    )
    steps.append(
        (
            _("Delivered to %(where)s") % {"where": where},
            order.credited_at,
            order.credited_at is not None,
        )
    )
    return steps


@login_required
def wallet_order(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    customer = _customer(request)
    order = (
        RemittanceOrder.objects.select_related("receiving_institution", "recipient")
        .filter(pk=order_id, customer=customer)
        .first()
    )
    if order is None:
        raise Http404("no such transfer")
    label = selectors.recipient_labels(
        customer=customer, session=request.session, kyc_refs=[order.beneficiary_kyc_ref]
    ).get(order.beneficiary_kyc_ref)
    name = label.name if label and label.name else _("your recipient")
    if order.payout_method == "mobile_wallet":
        provider = label.provider if label and label.provider else _("mobile")
        where = _("%(name)s's %(provider)s wallet") % {"name": name, "provider": provider}
    else:
        where = _("%(name)s's bank account") % {"name": name}
    bank = _bank_name(order)
    context = {
        "order": order,
        "reference": order_reference(order.pk),
        "final": order.status in FINAL,
        "cancellable": order.status in (S.SUBMITTED, S.HELD),
        "status_text": _customer_status(order),
        "where": where,
        "bank": bank,
        "steps": _timeline(order, where, bank),
        "send": Money.from_minor(order.send_minor, order.send_currency),
        "fee": Money.from_minor(order.fee_minor, order.send_currency),
        "receive": Money.from_minor(order.receive_minor, order.receive_currency),
        "total": Money.from_minor(order.send_minor + order.fee_minor, order.send_currency),
    }
    template = "wallet/_status.html" if request.htmx else "wallet/order.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@login_required
@require_POST
def wallet_cancel(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    customer = _customer(request)
    order = RemittanceOrder.objects.filter(pk=order_id, customer=customer).first()
    if order is None:
        raise Http404("no such transfer")
    try:
        services.transfer_cancel(customer=customer, order=order)
    except DomainError:
        messages.error(
            request,
            _(
                "The receiving bank has already accepted this transfer, so it can no longer be cancelled."
            ),
        )
    else:
        messages.success(request, _("Cancelled. The money is back in your wallet."))
    return redirect("wallet-order", order_id=order_id)


# --- preferences and security --------------------------------------------------------------------


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """The language switcher: remembered in a cookie, and for a logged-in user on their
    profile (so it follows them to another device)."""
    code = request.POST.get("language", "")
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "/"
    response = redirect(target)
    if code in dict(settings.LANGUAGES):
        if request.user.is_authenticated:
            services.profile_language_set(user=_user(request), language=code)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


@login_required
@require_http_methods(["GET", "POST"])
def security(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and "everywhere" in request.POST:
        services.sessions_end_everywhere(user=_user(request))
        messages.success(request, _("You are logged out on every device. Log in again here."))
        return redirect(settings.LOGIN_URL)
    profile = _profile(request)
    zone_form = TimeZoneForm(
        request.POST if "time_zone" in request.POST else None,
        initial={"time_zone": profile.time_zone or settings.WALLET_DEFAULT_TIME_ZONE},
    )
    if zone_form.is_bound and zone_form.is_valid():
        services.profile_time_zone_set(
            user=_user(request), time_zone=zone_form.cleaned_data["time_zone"]
        )
        messages.success(request, _("Saved: times are shown in the zone you chose."))
        return redirect("wallet-security")
    return render(request, "wallet/security.html", {"zone_form": zone_form})
