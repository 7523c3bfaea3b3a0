"""Notices to customers: created set-based, once per event, then e-mailed in the customer's
language when they gave an e-mail address (Django's EMAIL_BACKEND: the console in
development, SMTP from the environment in production)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from remittance.models import Customer, RemittanceOrder
from wallet.display import PAYOUT_WORDS, money_text, user_language
from wallet.notices.listeners import ORDER_NOTICES
from wallet.notices.models import NoticeKind, Notification
from wallet.references import order_reference

logger = logging.getLogger(__name__)


class MailFailed(Exception):
    """The mail server refused or could not be reached; the task retries."""


@dataclass(frozen=True)
class NoticeText:
    title: str
    body: str
    link: str


def notices_orders_create(*, order_ids: Iterable[str]) -> int:
    """A notice for each customer's order among `order_ids` that is now delivered or
    refunded (one per order and kind, whatever the number of calls); returns how many e-mails it sent."""
    orders = list(
        RemittanceOrder.objects.filter(pk__in=list(order_ids), customer__user__isnull=False)
        .filter(status__in=[*ORDER_NOTICES, "settled"])
        .select_related("customer")
    )
    kinds = {"settled": NoticeKind.DELIVERED, **ORDER_NOTICES}
    wanted = [
        Notification(user_id=o.customer.user_id, kind=kinds[o.status], order=o)
        for o in orders
        if o.customer is not None
    ]
    Notification.objects.bulk_create(wanted, ignore_conflicts=True)
    return _send_unsent(
        Notification.objects.filter(order__in=orders, emailed_at__isnull=True, read_at__isnull=True)
    )


def notice_kyc_create(*, kyc_ref: str, change_id: int) -> int:
    """A notice to the wallet customer whose KYC record `kyc_ref` now needs information."""
    customers = Customer.objects.filter(kyc_ref=kyc_ref, user__isnull=False)
    Notification.objects.bulk_create(
        [
            Notification(user_id=c.user_id, kind=NoticeKind.NEEDS_INFO, kyc_change_id=change_id)
            for c in customers
        ],
        ignore_conflicts=True,
    )
    return _send_unsent(
        Notification.objects.filter(kyc_change_id=change_id, emailed_at__isnull=True)
    )


def notice_text(notice: Notification) -> NoticeText:
    """The notice's words in the active language."""
    order = notice.order
    if order is None:
        return NoticeText(
            _("We need more information to verify you"),
            _("Please open your identity page to see what is missing, then send it to us."),
            reverse("wallet-identity"),
        )
    reference = order_reference(order.pk)
    link = reverse("wallet-order", kwargs={"order_id": order.pk})
    method = str(PAYOUT_WORDS.get(order.payout_method, order.payout_method))
    if notice.kind == NoticeKind.DELIVERED:
        return NoticeText(
            _("Transfer %(reference)s delivered") % {"reference": reference},
            _("%(amount)s reached your recipient's %(method)s.")
            % {
                "amount": money_text(order.receive_minor, order.receive_currency),
                "method": method.lower(),
            },
            link,
        )
    return NoticeText(
        _("Transfer %(reference)s refunded") % {"reference": reference},
        _("The receiving bank did not pay it out; %(amount)s is back in your wallet.")
        % {"amount": money_text(order.send_minor + order.fee_minor, order.send_currency)},
        link,
    )


def notices_mark_read(*, user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def _send_unsent(notices: Iterable[Notification]) -> int:
    """E-mail each notice once: claimed (emailed_at set) before sending, released again if
    the mail server fails so the retry sends it."""
    sent = 0
    base = getattr(settings, "WALLET_PUBLIC_URL", "").rstrip("/")
    model = get_user_model()
    for notice in notices:
        user = model.objects.filter(pk=notice.user_id).first()
        address = getattr(user, "email", "")
        if user is None or not address:
            continue  # an in-app notice only (a customer who signed up by phone)
        claimed = Notification.objects.filter(pk=notice.pk, emailed_at__isnull=True).update(
            emailed_at=timezone.now()
        )
        if not claimed:
            continue
        with translation.override(user_language(user)):
            text = notice_text(notice)
            footer = _("See it in your wallet: %(link)s") % {"link": base + text.link}
        try:
            send_mail(
                subject=text.title,
                message=f"{text.body}\n\n{footer}\n",
                from_email=None,
                recipient_list=[address],
            )
        except OSError as exc:
            with transaction.atomic():
                Notification.objects.filter(pk=notice.pk).update(emailed_at=None)
            logger.warning("notice %s: the mail server failed (%s)", notice.pk, type(exc).__name__)
            raise MailFailed from exc
        sent += 1
    return sent
