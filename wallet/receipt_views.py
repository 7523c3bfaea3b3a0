"""Receipts (HTML and PDF), the verify page and its proof JSON, the transfer history with its
CSV, and the notices page. Thin views: a customer sees only their own transfers (anything
else is 404, as if it did not exist)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.money import Money
from remittance.models import Customer, RemittanceOrder
from wallet import selectors
from wallet.display import user_time_zone
from wallet.history import HistoryFilterForm, recipient_label, transfers_csv, transfers_for
from wallet.notices.models import Notification
from wallet.notices.services import notice_text, notices_mark_read
from wallet.receipt_pdf import pdf_language, qr_svg_data_uri, receipt_pdf, receipt_rows
from wallet.receipts import proof_bundle, receipt_for
from wallet.references import order_reference


def _user_id(request: HttpRequest) -> int:
    if request.user.pk is None:  # login_required keeps visitors out; this is for the types
        raise Http404
    return int(request.user.pk)


def _customer(request: HttpRequest) -> Customer:
    customer = (
        Customer.objects.select_related("institution").filter(user_id=_user_id(request)).first()
    )
    if customer is None:
        raise Http404
    return customer


def _own_order(request: HttpRequest, order_id: uuid.UUID) -> RemittanceOrder:
    order = (
        RemittanceOrder.objects.select_related(
            "quote", "recipient", "sending_institution", "receiving_institution"
        )
        .filter(pk=order_id, customer=_customer(request))
        .first()
    )
    if order is None:
        raise Http404
    return order


def _labels(request: HttpRequest, customer: Customer, kyc_refs: list[str]) -> dict[str, Any]:
    """Recipients' names and providers (decrypted once per session, with an access-log row)."""
    return selectors.recipient_labels(customer=customer, session=request.session, kyc_refs=kyc_refs)


def _recipient_text(request: HttpRequest, order: RemittanceOrder) -> str:
    customer = order.customer
    if customer is None:
        return recipient_label(order.recipient)
    label = _labels(request, customer, [order.beneficiary_kyc_ref]).get(order.beneficiary_kyc_ref)
    return recipient_label(order.recipient, label)


def _times_note(request: HttpRequest) -> str:
    zone = str(getattr(user_time_zone(request.user), "key", "Asia/Kuala_Lumpur"))
    return _("Times are shown in your time zone (%(zone)s).") % {"zone": zone}


def repeat_url(order: RemittanceOrder) -> str:
    """The send form prefilled with this transfer's recipient and amount."""
    amount = Money.from_minor(order.send_minor, order.send_currency).amount
    query = urlencode({"recipient": str(order.recipient_id or ""), "amount": str(amount)})
    try:
        send_page = reverse("wallet-send-form")
    except NoReverseMatch:
        send_page = reverse("wallet")
    return f"{send_page}?{query}"


@login_required
@require_GET
def receipt(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    order = _own_order(request, order_id)
    facts = receipt_for(
        order, tz=user_time_zone(request.user), recipient=_recipient_text(request, order)
    )
    verify_url = request.build_absolute_uri(reverse("wallet-verify", args=[order.pk]))
    return render(
        request,
        "wallet/receipts/receipt.html",
        {
            "order": order,
            "receipt": facts,
            "rows": receipt_rows(facts),
            "qr": qr_svg_data_uri(verify_url),
            "verify_url": verify_url,
            "times_note": _times_note(request),
        },
    )


@login_required
@require_GET
def receipt_pdf_download(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    order = _own_order(request, order_id)
    verify_url = request.build_absolute_uri(reverse("wallet-verify", args=[order.pk]))
    language = pdf_language(translation.get_language())
    with translation.override(language):
        facts = receipt_for(
            order,
            tz=user_time_zone(request.user),
            language=language,
            recipient=_recipient_text(request, order),
        )
        body = receipt_pdf(facts, verify_url=verify_url, times_note=_times_note(request))
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-{facts.reference}.pdf"'
    return response


@login_required
@require_GET
def verify(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    order = _own_order(request, order_id)
    return render(
        request,
        "wallet/receipts/verify.html",
        {
            "order": order,
            "reference": order_reference(order.pk),
            "reference_html": format_html(
                '<span class="r-nowrap" dir="ltr">{}</span>', order_reference(order.pk)
            ),
            "verify_messages": verify_messages(),
        },
    )


def verify_messages() -> dict[str, str]:
    """What verify.js says, in the active language ({name} placeholders filled in by it)."""
    return {
        "checking": _("Checking…"),
        "passed": _("✓ Passed:"),
        "failed": _("✗ Failed:"),
        "summary_passed": _(
            "Verified: every recorded step of this transfer is in the public ledger, and "
            "every signature checks out."
        ),
        "summary_failed": _(
            "Not verified: at least one check failed (marked below). Do not rely on this "
            "receipt; please contact us."
        ),
        "pending_none": _(
            "This transfer is not in the ledger yet: it is being recorded. Try again in a "
            "few seconds."
        ),
        "pending_some": _("{n} later step(s) are still being recorded; check again shortly."),
        "error": _("The check could not run ({error}). Reload the page to try again."),
        "unsupported": _(
            "This browser cannot check Ed25519 signatures. Use a recent Chrome, Edge, "
            "Firefox or Safari."
        ),
        "check_operator": _(
            "The checkpoint of the ledger {origin} ({size} entries) is signed by the "
            "network operator's key:"
        ),
        "check_witness": _("Witness {name} ({code}) signed the same checkpoint."),
        "no_witness": _(
            "No witness bank has signed this checkpoint yet; only the operator vouches for it."
        ),
        "check_inclusion": _("Entry #{seq} ({step}) is included in that checkpoint."),
        "check_statement": _("Entry #{seq} is signed by {signer}."),
        "kind_order_submitted": _("transfer paid and sent"),
        "kind_order_accepted": _("accepted by the receiving bank"),
        "kind_order_credited": _("paid out to the recipient"),
        "kind_order_rejected": _("refused by the receiving bank"),
        "kind_order_expired": _("not accepted in time"),
        "kind_order_refunded": _("refunded to you"),
        "kind_order_cancelled": _("cancelled by you"),
        "kind_ledger_transfers": _("money moved between accounts"),
    }


@login_required
@require_GET
def proof_json(request: HttpRequest, order_id: uuid.UUID) -> JsonResponse:
    order = _own_order(request, order_id)
    response = JsonResponse(proof_bundle(order))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    recipients = list(customer.recipients.all())
    labels = _labels(request, customer, [r.kyc_ref for r in recipients])
    form = HistoryFilterForm(request.GET or None, customer=customer, labels=labels)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    orders = transfers_for(
        customer, status=filters.get("status", ""), recipient=filters.get("recipient", "")
    )
    page = Paginator(orders, 25).get_page(request.GET.get("page"))
    tz = user_time_zone(request.user)
    labels.update(_labels(request, customer, [o.beneficiary_kyc_ref for o in page]))
    rows = [
        (
            o,
            receipt_for(o, tz=tz, with_ledger=False),
            recipient_label(o.recipient, labels.get(o.beneficiary_kyc_ref)),
            repeat_url(o),
        )
        for o in page
    ]
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "wallet/receipts/history.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "csv_url": reverse("wallet-history-csv") + (f"?{query}" if query else ""),
            "query": query,
            "times_note": _times_note(request),
        },
    )


@login_required
@require_GET
def history_csv(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    form = HistoryFilterForm(request.GET or None, customer=customer)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    orders = list(
        transfers_for(
            customer, status=filters.get("status", ""), recipient=filters.get("recipient", "")
        )
    )
    labels = _labels(request, customer, sorted({o.beneficiary_kyc_ref for o in orders}))
    body = transfers_csv(orders, tz=user_time_zone(request.user), labels=labels)
    response = HttpResponse("\ufeff" + body, content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime(timezone.now(), user_time_zone(request.user)).strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="transfers-{stamp}.csv"'
    return response


@login_required
def notices(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        notices_mark_read(user_id=_user_id(request))
        return redirect("wallet-notices")
    found = Notification.objects.filter(user_id=_user_id(request)).select_related("order")[:50]
    tz = user_time_zone(request.user)
    return render(
        request,
        "wallet/receipts/notices.html",
        {
            "notices": [(n, notice_text(n), timezone.localtime(n.created_at, tz)) for n in found],
            "unread": sum(1 for n in found if n.read_at is None),
        },
    )
