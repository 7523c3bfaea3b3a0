"""The wallet web UI for customers of a hosted sending institution: balance, recipients,
quote, send, and a live status page (htmx polling) that shows the money land."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from core.money import Money
from remittance.models import Customer, OrderStatus, Quote, RemittanceOrder
from remittance.services.orders import order_submit
from remittance.services.quotes import quote_create

FINAL = {OrderStatus.CREDITED, OrderStatus.SETTLED, OrderStatus.REFUNDED, OrderStatus.FAILED}


def _customer(request: HttpRequest) -> Customer:
    customer = (
        Customer.objects.select_related("wallet", "institution").filter(user=request.user).first()
    )
    if customer is None:
        raise Http404("no wallet for this login")
    return customer


def _money(minor: int, currency: str) -> str:
    return Money.from_minor(minor, currency).format("en_MY")


class SendForm(forms.Form):
    recipient = forms.ChoiceField()
    amount = forms.DecimalField(min_value=1, max_digits=12, decimal_places=2, label="Send (MYR)")

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipient"].choices = [
            (str(r.pk), f"{r.get_payout_method_display()} {r.payout_hint}")
            for r in customer.recipients.all()
        ]


@login_required
def wallet_home(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    wallet = customer.wallet
    orders = customer.orders.order_by("-created_at")[:10]
    return render(
        request,
        "wallet/home.html",
        {
            "customer": customer,
            "available": _money(wallet.available, "MYR") if wallet else "—",
            "reserved": _money(wallet.debits_pending, "MYR") if wallet else "—",
            "orders": [
                (
                    o,
                    _money(o.send_minor, o.send_currency),
                    _money(o.receive_minor, o.receive_currency),
                )
                for o in orders
            ],
            "form": SendForm(customer=customer),
        },
    )


@login_required
@require_http_methods(["POST"])
def wallet_quote(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    form = SendForm(request.POST, customer=customer)
    if not form.is_valid():
        messages.error(request, "Choose a recipient and an amount.")
        return redirect("wallet")
    recipient = customer.recipients.get(pk=form.cleaned_data["recipient"])
    try:
        quote = quote_create(
            institution=customer.institution,
            customer=customer,
            corridor_code="MY-PK",
            payout_method=recipient.payout_method,
            send_amount=Money(form.cleaned_data["amount"], "MYR"),
        )
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("wallet")
    return render(
        request,
        "wallet/confirm.html",
        {
            "quote": quote,
            "recipient": recipient,
            "send": _money(quote.send_minor, "MYR"),
            "fee": _money(quote.fee_minor, "MYR"),
            "total": _money(quote.send_minor + quote.fee_minor, "MYR"),
            "receive": _money(quote.receive_minor, quote.receive_currency),
            "order_id": uuid.uuid4(),
        },
    )


@login_required
@require_http_methods(["POST"])
def wallet_send(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    quote = Quote.objects.filter(
        pk=request.POST.get("quote_id"), institution=customer.institution, customer=customer
    ).first()
    recipient = customer.recipients.filter(pk=request.POST.get("recipient_id")).first()
    try:
        order_id = uuid.UUID(request.POST.get("order_id", ""))
    except ValueError:
        order_id = None
    if quote is None or recipient is None or order_id is None:
        messages.error(request, "That quote is no longer available; please start again.")
        return redirect("wallet")
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
        messages.error(request, exc.detail)
        return redirect("wallet")
    return redirect("wallet-order", order_id=order.pk)


@login_required
def wallet_order(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    customer = _customer(request)
    order = RemittanceOrder.objects.filter(pk=order_id, customer=customer).first()
    if order is None:
        raise Http404("no such transfer")
    context = {
        "order": order,
        "final": order.status in FINAL,
        "send": _money(order.send_minor, order.send_currency),
        "receive": _money(order.receive_minor, order.receive_currency),
        "history": order.history.all(),
    }
    template = "wallet/_status.html" if request.htmx else "wallet/order.html"
    return render(request, template, context)
