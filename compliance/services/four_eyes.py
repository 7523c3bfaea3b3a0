"""Four eyes (maker-checker) over the decisions that move money or change who may be paid
(docs/compliance.md, "Four eyes").

One person proposes with a reason (`proposal_create`); a different person holding the kind's
approve permission approves (`proposal_approve`), which runs the wrapped service as the
approver, or rejects it. A proposal not decided by `expires_at` expires. Each approval is
stated on the ledger by the operator (`compliance.decision`) with opaque staff ids — never
names, never the free-text reason (it may name people)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from compliance.models import Proposal, ProposalKind, ProposalStatus
from compliance.services.staff import audit_record, staff_ref
from core.errors import Conflict, DomainError, NotFound
from core.money import Money, MoneyError
from institutions.models import Institution
from kyc.crypto import new_ref
from kyc.models import KycRecord
from ledger.services.log import statement_issue
from remittance.models import OrderStatus, RemittanceOrder
from settlement.models import SettlementWindow, WindowStatus

logger = logging.getLogger(__name__)

STATEMENT_KIND = "compliance.decision"


class FourEyesError(DomainError):
    code, status, title = "four_eyes", 403, "Four eyes"


@dataclass(frozen=True)
class KindSpec:
    propose_perm: str
    approve_perm: str
    check: Callable[[str, dict[str, Any], bytes | None], None]  # raises DomainError
    run: Callable[[Proposal, str], str]  # (proposal, actor) → outcome


def _ttl() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "FOUR_EYES_TTL_SECONDS", 24 * 3600)))


# --- what each kind checks and runs ----------------------------------------------------------


def _held_order(target: str) -> RemittanceOrder:
    order = RemittanceOrder.objects.filter(pk=target).first()
    if order is None:
        raise NotFound(f"no order {target}")
    if order.status != OrderStatus.HELD:
        raise Conflict(f"order {target} is {order.status}, not held")
    return order


def _check_order(target: str, params: dict[str, Any], attachment: bytes | None) -> None:
    _held_order(target)


def _run_order(release: bool) -> Callable[[Proposal, str], str]:
    def run(proposal: Proposal, actor: str) -> str:
        from remittance.services.orders import order_hold_decide

        order = order_hold_decide(
            order_id=proposal.target,  # type: ignore[arg-type]
            release=release,
            actor=actor,
            reason=f"{proposal.ref}: {proposal.reason}"[:200],
        )
        return f"order {order.pk} is {order.status}"

    return run


def _settlement_rate(params: dict[str, Any]) -> Decimal:
    try:
        rate = Decimal(str(params.get("rate", "")))
    except InvalidOperation:
        rate = Decimal(0)
    if not rate.is_finite() or rate <= 0:
        raise DomainError("the settlement rate is a positive decimal, e.g. 63.5")
    return rate


def _check_settle(target: str, params: dict[str, Any], attachment: bytes | None) -> None:
    window = SettlementWindow.objects.filter(pk=target).first()
    if window is None:
        raise NotFound(f"no settlement window {target}")
    if window.status == WindowStatus.SETTLED:
        raise Conflict(f"{window} is already settled")
    if window.status != WindowStatus.CLOSED:
        raise Conflict(f"{window} is {window.status}; only a closed window settles")
    _settlement_rate(params)


def _run_settle(proposal: Proposal, actor: str) -> str:
    from settlement.services.windows import window_settle

    window = SettlementWindow.objects.get(pk=proposal.target)
    if window.status == WindowStatus.SETTLED:
        raise Conflict(f"{window} is already settled")
    window = window_settle(
        window_id=int(proposal.target),
        settlement_rate=_settlement_rate(proposal.params),
        rate_source=str(proposal.params.get("rate_source") or "manual"),
        actor=actor,
    )
    return f"{window} settled at {window.settlement_rate}"


def _limit_amount(params: dict[str, Any]) -> Money:
    try:
        return Money.parse(str(params.get("amount", "")), str(params.get("currency", "")))
    except (MoneyError, ValueError):
        raise DomainError("the limit is an amount in major units, e.g. 500000.00") from None


def _check_limit(target: str, params: dict[str, Any], attachment: bytes | None) -> None:
    if not Institution.objects.filter(code=target).exists():
        raise NotFound(f"no institution {target}")
    if _limit_amount(params).minor < 0:
        raise DomainError("a limit is not negative")


def _run_limit(proposal: Proposal, actor: str) -> str:
    from settlement.services.liquidity import liquidity_limit_set

    institution = Institution.objects.get(code=proposal.target)
    amount = _limit_amount(proposal.params)
    kwargs: dict[str, Any] = {
        name: proposal.params[name]
        for name in ("mode", "on_breach", "alert_percent")
        if proposal.params.get(name) not in (None, "")
    }
    liquidity_limit_set(institution=institution, amount=amount, **kwargs)
    return f"{institution.code} limit is {amount}"


def _check_kyc(target: str, params: dict[str, Any], attachment: bytes | None) -> None:
    record = KycRecord.objects.filter(kyc_ref=target).first()
    if record is None:
        raise NotFound(f"no KYC record {target}")
    if params.get("status") not in ("verified", "rejected"):
        raise DomainError("status: verified or rejected")


def _run_kyc(proposal: Proposal, actor: str) -> str:
    from kyc.services import kyc_record_status_set

    record = KycRecord.objects.get(kyc_ref=proposal.target)
    tier = proposal.params.get("tier")
    record = kyc_record_status_set(
        record=record,
        status=proposal.params["status"],
        tier=int(tier) if tier not in (None, "") else None,
        reason=f"{proposal.ref}: {proposal.reason}",
        actor=actor,
    )
    return f"{record.kyc_ref} is {record.status} at tier {record.tier}"


def _check_list(target: str, params: dict[str, Any], attachment: bytes | None) -> None:
    if params.get("format") not in ("un-xml", "ofac-csv"):
        raise DomainError("format: un-xml or ofac-csv")
    if not attachment:
        raise DomainError("attach the list file")
    from kyc.screening import ListFormatError, parse_ofac_csv, parse_un_xml

    parser = parse_un_xml if params["format"] == "un-xml" else parse_ofac_csv
    try:
        count = sum(1 for _ in parser(attachment))
    except (ListFormatError, ValueError) as exc:
        raise DomainError(f"not a valid {params['format']} file: {exc}") from None
    if count == 0:
        raise DomainError("the file lists nobody")


def _run_list(proposal: Proposal, actor: str) -> str:
    from compliance.services.sanctions import rescreen_start
    from kyc.services import screening_list_import

    list_import = screening_list_import(
        fmt=proposal.params["format"], content=bytes(proposal.attachment or b""), actor=actor
    )
    run = rescreen_start(list_import_id=list_import.pk)
    return f"{list_import} loaded; re-screening run #{run.pk} started"


KINDS: dict[str, KindSpec] = {
    ProposalKind.ORDER_RELEASE: KindSpec(
        "compliance.propose_order_decision",
        "compliance.approve_order_decision",
        _check_order,
        _run_order(True),
    ),
    ProposalKind.ORDER_REJECT: KindSpec(
        "compliance.propose_order_decision",
        "compliance.approve_order_decision",
        _check_order,
        _run_order(False),
    ),
    ProposalKind.WINDOW_SETTLE: KindSpec(
        "compliance.propose_settlement", "compliance.approve_settlement", _check_settle, _run_settle
    ),
    ProposalKind.LIQUIDITY_LIMIT: KindSpec(
        "compliance.propose_settlement", "compliance.approve_settlement", _check_limit, _run_limit
    ),
    ProposalKind.KYC_STATUS: KindSpec(
        "compliance.propose_kyc_decision",
        "compliance.approve_kyc_decision",
        _check_kyc,
        _run_kyc,
    ),
    ProposalKind.SANCTIONS_LIST: KindSpec(
        "compliance.propose_sanctions_list",
        "compliance.approve_sanctions_list",
        _check_list,
        _run_list,
    ),
}


# --- the services ---------------------------------------------------------------------------


def proposal_create(
    *,
    kind: str,
    target: str,
    reason: str,
    proposer: AbstractBaseUser,
    params: dict[str, Any] | None = None,
    attachment: bytes | None = None,
) -> Proposal:
    """Propose a decision. The proposer needs the kind's propose permission; a pending
    proposal of the same kind for the same target is refused (one at a time)."""
    spec = KINDS.get(kind)
    if spec is None:
        raise DomainError(f"unknown decision {kind}")
    if not proposer.has_perm(spec.propose_perm):  # type: ignore[attr-defined]
        raise FourEyesError("your role cannot propose this decision")
    if not reason or not reason.strip():
        raise DomainError("a reason is required: say why, for the approver and the record")
    params = dict(params or {})
    spec.check(target, params, attachment)
    proposals_expire()
    with transaction.atomic():
        if Proposal.objects.filter(
            kind=kind, target=target, status=ProposalStatus.PENDING
        ).exists():
            raise Conflict("a proposal for this is already waiting for approval")
        if attachment is not None:
            params["sha256"] = hashlib.sha256(attachment).hexdigest()
            params["size"] = len(attachment)
        proposal = Proposal.objects.create(
            ref=new_ref("prp"),
            kind=kind,
            target=str(target),
            params=params,
            attachment=attachment,
            reason=reason.strip()[:500],
            proposed_by_id=proposer.pk,
            expires_at=timezone.now() + _ttl(),
        )
        audit_record(
            actor=staff_ref(proposer),
            action="proposal.created",
            object_type="proposal",
            object_ref=proposal.ref,
            detail={"kind": kind, "target": proposal.target},
        )
    return proposal


def proposal_approve(*, proposal_id: int, approver: AbstractBaseUser, note: str = "") -> Proposal:
    """Approve and run. The approver must not be the proposer and must hold the kind's
    approve permission; an expired or decided proposal is refused. The proposal is claimed
    (pending → approved) before the service runs, so two approvers cannot both run it; if the
    service refuses, the proposal is `failed` with why, and nothing else changed."""
    proposals_expire()
    proposal = Proposal.objects.filter(pk=proposal_id).first()
    if proposal is None:
        raise NotFound(f"no proposal {proposal_id}")
    spec = KINDS[proposal.kind]
    if proposal.proposed_by_id == approver.pk:
        raise FourEyesError("a second person must approve: you proposed this")
    if not approver.has_perm(spec.approve_perm):  # type: ignore[attr-defined]
        raise FourEyesError("your role cannot approve this decision")
    approver_ref = staff_ref(approver)
    claimed = Proposal.objects.filter(
        pk=proposal.pk, status=ProposalStatus.PENDING, expires_at__gt=timezone.now()
    ).update(
        status=ProposalStatus.APPROVED,
        decided_by_id=approver.pk,
        decided_at=timezone.now(),
        decision_note=note.strip()[:500],
    )
    if not claimed:
        proposal.refresh_from_db()
        raise Conflict(f"proposal {proposal.ref} is {proposal.status}")
    proposal.refresh_from_db()
    actor = f"staff:{approver_ref}"
    try:
        outcome = spec.run(proposal, actor)
    except Exception as exc:
        # the service refused (or broke): nothing it does commits half-way, so the proposal
        # is `failed`, not approved; a DomainError says why, anything else is a bug
        detail = exc.detail if isinstance(exc, DomainError) else "internal error"
        code = exc.code if isinstance(exc, DomainError) else type(exc).__name__
        Proposal.objects.filter(pk=proposal.pk).update(
            status=ProposalStatus.FAILED, outcome=detail[:300]
        )
        audit_record(
            actor=approver_ref,
            action="proposal.failed",
            object_type="proposal",
            object_ref=proposal.ref,
            detail={"error": code},
        )
        raise
    with transaction.atomic():
        statement = statement_issue(
            institution=str(settings.LEDGER_OPERATOR_CODE),
            kind=STATEMENT_KIND,
            body={
                "proposal": proposal.ref,
                "decision": proposal.kind,
                "target": proposal.target,
                "proposed_by": staff_ref(proposal.proposed_by),
                "proposed_at": proposal.proposed_at.isoformat(),
                "approved_by": approver_ref,
                **(
                    {"file_sha256": proposal.params["sha256"]}
                    if "sha256" in proposal.params
                    else {}
                ),
            },
            subject=f"proposal:{proposal.ref}",
        )
        Proposal.objects.filter(pk=proposal.pk).update(
            outcome=outcome[:300], statement_ref=statement.pk
        )
        audit_record(
            actor=approver_ref,
            action="proposal.approved",
            object_type="proposal",
            object_ref=proposal.ref,
            detail={"kind": proposal.kind, "target": proposal.target, "outcome": outcome[:200]},
        )
    proposal.refresh_from_db()
    return proposal


@transaction.atomic
def proposal_reject(*, proposal_id: int, user: AbstractBaseUser, note: str) -> Proposal:
    """Turn a proposal down (an approver) or withdraw it (its proposer), with a note."""
    if not note or not note.strip():
        raise DomainError("say why it is turned down")
    proposal = Proposal.objects.select_for_update().filter(pk=proposal_id).first()
    if proposal is None:
        raise NotFound(f"no proposal {proposal_id}")
    if proposal.status != ProposalStatus.PENDING:
        raise Conflict(f"proposal {proposal.ref} is {proposal.status}")
    is_proposer = proposal.proposed_by_id == user.pk
    if not is_proposer and not user.has_perm(KINDS[proposal.kind].approve_perm):  # type: ignore[attr-defined]
        raise FourEyesError("your role cannot decide this proposal")
    proposal.status = ProposalStatus.REJECTED
    proposal.decided_by_id = None if is_proposer else user.pk
    proposal.decided_at = timezone.now()
    proposal.decision_note = ("withdrawn: " if is_proposer else "") + note.strip()[:480]
    proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(
        actor=staff_ref(user),
        action="proposal.withdrawn" if is_proposer else "proposal.rejected",
        object_type="proposal",
        object_ref=proposal.ref,
    )
    return proposal


def proposals_expire() -> int:
    """Pending proposals past their time become `expired`."""
    return Proposal.objects.filter(
        status=ProposalStatus.PENDING, expires_at__lte=timezone.now()
    ).update(status=ProposalStatus.EXPIRED)


# --- what the confirmation page shows ---------------------------------------------------------


def proposal_preview(*, proposal: Proposal) -> list[tuple[str, str]]:
    """What approving will do, in words and figures (money in major units)."""
    kind, p = proposal.kind, proposal.params
    if kind in (ProposalKind.ORDER_RELEASE, ProposalKind.ORDER_REJECT):
        order = RemittanceOrder.objects.filter(pk=proposal.target).first()
        if order is None:
            return [("Order", "not found")]
        send = Money.from_minor(order.send_minor, order.send_currency)
        total = Money.from_minor(order.send_minor + order.fee_minor, order.send_currency)
        receive = Money.from_minor(order.receive_minor, order.receive_currency)
        effect = (
            f"The order goes to {order.receiving_institution.code}, which credits {receive}."
            if kind == ProposalKind.ORDER_RELEASE
            else f"The order is rejected and {total} returned to the sender."
        )
        return [
            ("Order", str(order.pk)),
            ("Status now", f"{order.status} ({order.hold_reason or '—'})"),
            ("Sends", str(send)),
            ("Recipient gets", str(receive)),
            ("Sender / beneficiary", f"{order.sender_kyc_ref} / {order.beneficiary_kyc_ref}"),
            ("On approval", effect),
        ]
    if kind == ProposalKind.WINDOW_SETTLE:
        return settlement_preview(window_id=int(proposal.target), rate=p.get("rate"))
    if kind == ProposalKind.LIQUIDITY_LIMIT:
        from settlement.models import LiquidityLimit

        current = LiquidityLimit.objects.filter(
            institution__code=proposal.target, currency=p.get("currency")
        ).first()
        now = str(Money.from_minor(current.amount_minor, current.currency)) if current else "none"
        return [
            ("Institution", proposal.target),
            ("Limit now", now),
            ("On approval", f"limit becomes {_limit_amount(p)}"),
        ]
    if kind == ProposalKind.KYC_STATUS:
        record = KycRecord.objects.filter(kyc_ref=proposal.target).first()
        return [
            ("KYC record", proposal.target),
            ("Now", f"{record.status}, tier {record.tier}" if record else "not found"),
            ("On approval", f"{p.get('status')}, tier {p.get('tier') or 'unchanged'}"),
        ]
    if kind == ProposalKind.SANCTIONS_LIST:
        return [
            ("List format", str(p.get("format"))),
            ("File", f"{p.get('filename', '')} ({p.get('size', 0)} bytes)"),
            ("SHA-256", str(p.get("sha256", ""))),
            (
                "On approval",
                "the source's earlier entries are deactivated, this list loaded, and every "
                "customer record and open order re-screened against it (hits become alerts)",
            ),
        ]
    return []


def settlement_preview(*, window_id: int, rate: Any) -> list[tuple[str, str]]:
    """Net positions and the FX result at the proposed rate beside the latest market rate."""
    from settlement.models import NetPosition
    from settlement.services.windows import convert_minor

    window = SettlementWindow.objects.select_related("corridor").get(pk=window_id)
    send, recv = window.send_currency, window.receive_currency
    rows: list[tuple[str, str]] = [
        ("Window", str(window)),
        ("Status", window.get_status_display()),
        ("Orders", str(window.order_count)),
        ("Sent", str(Money.from_minor(window.send_minor, send))),
        ("Paid out", str(Money.from_minor(window.receive_minor, recv))),
    ]
    for position in NetPosition.objects.filter(window=window).select_related("institution"):
        rows.append(
            (
                f"Net position {position.institution.code}",
                f"{position.role}: {Money.from_minor(abs(position.net_minor), position.currency)}",
            )
        )
    latest = suggested_rate(window=window)
    market = latest if latest is not None else None
    for label, value in (("proposed", rate), ("latest market", market)):
        if value in (None, ""):
            rows.append((f"FX at the {label} rate", "no rate"))
            continue
        value = format(Decimal(str(value)).normalize(), "f")
        converted = convert_minor(
            window.send_minor, Decimal(value), from_currency=send, to_currency=recv
        )
        pnl = converted - window.receive_minor
        rows.append(
            (
                f"FX at the {label} rate {value}",
                f"converted {Money.from_minor(converted, recv)}; "
                f"{'gain' if pnl >= 0 else 'loss'} {Money.from_minor(abs(pnl), recv)}",
            )
        )
    return rows


def suggested_rate(*, window: SettlementWindow) -> Decimal | None:
    """The latest market rate for the window's pair (what the settle form suggests)."""
    from settlement.models import FxRate

    latest = (
        FxRate.objects.filter(base_id=window.send_currency, quote_id=window.receive_currency)
        .order_by("-as_of")
        .first()
    )
    return latest.rate if latest else None
