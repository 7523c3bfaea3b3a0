"""Name checks (docs/api.md, Name checks): before a customer saves a recipient, the receiving
bank says whose wallet or account it is.

The hub asks by webhook `name_check.requested` carrying only the check's id (no PII in
webhooks); the bank reads the identifier with `GET /name-checks/{id}` and answers with
`POST /name-checks/{id}/answer`. The identifier and the answered title are kept sealed under
the KEK, bound to the check id.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, DomainError, NotFound
from institutions.crypto import keyring
from institutions.models import Corridor, Institution
from remittance.models import CorridorPricing, Customer, NameCheck, PayoutMethod
from webhooks.services import webhook_event_publish

TITLE_MAX = 100


class NameCheckAnswered(Conflict):
    code, title = "name_check_answered", "Name check already answered"


@dataclass(frozen=True)
class NameCheckView:
    """What a party may see of a check: its state, the account asked about, the answer."""

    check: NameCheck
    identifier: str
    account_title: str


def name_check_aad(check_id: uuid.UUID) -> bytes:
    return f"remit-name-check/v1\n{check_id}".encode()


def _seal(check: NameCheck, payload: dict[str, str]) -> None:
    check.sealed = keyring().wrap(json.dumps(payload).encode(), aad=name_check_aad(check.id))


def _open(check: NameCheck) -> dict[str, str]:
    return dict(json.loads(keyring().unwrap(bytes(check.sealed), aad=name_check_aad(check.id))))


def receiving_institution_for(*, corridor_code: str) -> Institution:
    corridor = Corridor.objects.filter(code=corridor_code, active=True).first()
    pricing = (
        CorridorPricing.objects.select_related("receiving_institution")
        .filter(corridor=corridor)
        .first()
    )
    if pricing is None:
        raise NotFound(f"no open corridor {corridor_code}")
    return pricing.receiving_institution


@transaction.atomic
def name_check_request(
    *,
    institution: Institution,
    corridor_code: str,
    payout_method: str,
    identifier: str,
    customer: Customer | None = None,
) -> NameCheck:
    """Ask the corridor's receiving bank whose account `identifier` (an E.164 MSISDN for a
    mobile wallet, an IBAN for a bank account, already validated) is. The webhook goes out when
    the caller's transaction commits."""
    if payout_method not in PayoutMethod.values:
        raise DomainError("payout_method must be mobile_wallet or bank_account")
    if not institution.is_sending:
        raise DomainError("only a sending institution may ask for a name check")
    receiving = receiving_institution_for(corridor_code=corridor_code)
    check = NameCheck(
        id=uuid.uuid4(),
        requesting_institution=institution,
        receiving_institution=receiving,
        customer=customer,
        payout_method=payout_method,
    )
    _seal(check, {"identifier": identifier, "account_title": ""})
    check.save()
    webhook_event_publish(
        institution=receiving,
        event_type="name_check.requested",
        data={
            "check_id": str(check.id),
            "payout_method": payout_method,
            "receiving_institution": receiving.code,
        },
    )
    return check


def name_check_view(*, check: NameCheck) -> NameCheckView:
    payload = _open(check)
    return NameCheckView(
        check=check, identifier=payload["identifier"], account_title=payload["account_title"]
    )


def name_check_get_for(*, institution: Institution, check_id: Any) -> NameCheck:
    """A check its requesting or receiving institution may see; anything else is not found."""
    try:
        pk = uuid.UUID(str(check_id))
    except ValueError:
        raise NotFound(f"no name check {check_id}") from None
    check = NameCheck.objects.select_related("receiving_institution").filter(pk=pk).first()
    if check is None or institution.pk not in (
        check.receiving_institution_id,
        check.requesting_institution_id,
    ):
        raise NotFound(f"no name check {check_id}")
    return check


@transaction.atomic
def name_check_answer(
    *, institution: Institution, check_id: Any, matched: bool, account_title: str = ""
) -> NameCheck:
    """The receiving bank's answer: the account's title, or that there is no such account.
    Answering again with the same answer is a no-op; with another, 409."""
    check = name_check_get_for(institution=institution, check_id=check_id)
    if check.receiving_institution_id != institution.pk:
        raise NotFound(f"no name check {check_id}")
    check = NameCheck.objects.select_for_update().get(pk=check.pk)
    title = " ".join(account_title.split())
    if matched and not title:
        raise DomainError("account_title is required when the account exists")
    if len(title) > TITLE_MAX:
        raise DomainError(f"account_title: at most {TITLE_MAX} characters")
    status = NameCheck.Status.MATCHED if matched else NameCheck.Status.NOT_FOUND
    payload = _open(check)
    if check.status != NameCheck.Status.PENDING:
        if check.status == status and payload["account_title"] == (title if matched else ""):
            return check
        raise NameCheckAnswered(f"name check {check.id} was already answered")
    payload["account_title"] = title if matched else ""
    _seal(check, payload)
    check.status = status
    check.answered_at = timezone.now()
    check.save(update_fields=["sealed", "status", "answered_at"])
    return check
