"""An order's money: the shapes of its transfers and the calls that move them.

Transfer ids derive from the order id (uuid5 per leg), so a retried step finds its transfer
instead of moving money twice. Money moves only through `ledger.services.money`, under its
account locks; accounts are named by `ledger.services.accounts`.

| leg | when | from → to |
|---|---|---|
| `reserve` (pending) | submit, or release of a liquidity hold | sender's wallet / prefund → sending institution's position |
| `post` | credit | the reservation, posted |
| `fee` | credit | sending position → sending institution's fee income |
| `payout` | credit | FX position (payout currency) → receiving institution's position |
| `void` | reject, expire, compliance reject | the reservation, voided (refund) |
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from core.errors import DomainError
from core.money import Money
from institutions.models import Institution
from ledger.models import Account
from ledger.services import accounts
from ledger.services.money import TransferRefused, TransferSpec, transfers_create
from remittance.errors import InsufficientFunds
from remittance.models import RemittanceOrder


def transfer_id(order_id: uuid.UUID, leg: str) -> uuid.UUID:
    return uuid.uuid5(order_id, leg)


def reservation(
    order_id: uuid.UUID, *, source_id: int, position_id: int, amount: Money
) -> TransferSpec:
    """The one shape of an order's reservation: pending, source → the sending institution's
    position. No ledger timeout: order_expire owns the deadline (a ledger-side void of a live
    order would let a later credit pay out unfunded money)."""
    return TransferSpec(
        id=transfer_id(order_id, "reserve"),
        debit_account_id=source_id,
        credit_account_id=position_id,
        amount=amount.minor,
        kind="pending",
        code="order.reserve",
        reference=str(order_id),
    )


def refusal(result: object, amount: Money) -> DomainError:
    """What a refused reservation means to the client."""
    if getattr(result, "result", None) == "exceeds_credits":
        return InsufficientFunds(f"{amount} is more than the available balance")
    return TransferRefused(result)  # type: ignore[arg-type]


def reserve_one(
    *, order_id: uuid.UUID, source: Account, sending_institution: Institution, amount: Money
) -> None:
    """Reserve for one order (a held order released for liquidity; a submit batch reserves
    all of its orders in one call)."""
    position = accounts.account_open(accounts.position(sending_institution, amount.currency))
    results = transfers_create(
        transfers=[
            reservation(order_id, source_id=source.pk, position_id=position.pk, amount=amount)
        ],
        subject=str(order_id),
    )
    if not results[0].ok:
        raise refusal(results[0], amount)


def refund(order: RemittanceOrder) -> None:
    """Void the order's reservation: the sender has its money back. A void already done
    (a retried step) is fine."""
    assert order.pending_transfer_id is not None, "only a reserved order is refunded"
    results = transfers_create(
        transfers=[
            TransferSpec.void(
                id=transfer_id(order.id, "void"),
                pending_id=order.pending_transfer_id,
                code="order.refund",
                reference=str(order.id),
            )
        ],
        subject=str(order.id),
    )
    if not results[0].ok and results[0].result != "pending_transfer_already_voided":
        raise TransferRefused(results[0])


def credit_legs(
    orders: Sequence[tuple[RemittanceOrder, Institution]],
) -> list[tuple[RemittanceOrder, list[TransferSpec]]]:
    """The legs of each credited order (order, receiving institution): post the reservation,
    book the fee, pay out. Opens the accounts they name (one query)."""
    names: list[accounts.AccountName] = []
    for order, receiving in orders:
        sending = order.sending_institution
        names += [
            accounts.position(sending, order.send_currency),
            accounts.fee_income(sending, order.send_currency),
            accounts.fx_position(order.receive_currency),
            accounts.position(receiving, order.receive_currency),
        ]
    named = accounts.accounts_open(names)

    def pk(name: accounts.AccountName) -> int:
        return named[name.code].pk

    legs = []
    for order, receiving in orders:
        sending, ref = order.sending_institution, str(order.id)
        assert order.pending_transfer_id is not None, "a credited order was reserved"
        order_legs = [
            TransferSpec.post(
                id=transfer_id(order.id, "post"),
                pending_id=order.pending_transfer_id,
                code="order.post",
                reference=ref,
            )
        ]
        if order.fee_minor:
            order_legs.append(
                TransferSpec(
                    id=transfer_id(order.id, "fee"),
                    debit_account_id=pk(accounts.position(sending, order.send_currency)),
                    credit_account_id=pk(accounts.fee_income(sending, order.send_currency)),
                    amount=order.fee_minor,
                    code="order.fee",
                    reference=ref,
                )
            )
        order_legs.append(
            TransferSpec(
                id=transfer_id(order.id, "payout"),
                debit_account_id=pk(accounts.fx_position(order.receive_currency)),
                credit_account_id=pk(accounts.position(receiving, order.receive_currency)),
                amount=order.receive_minor,
                code="order.payout",
                reference=ref,
            )
        )
        legs.append((order, order_legs))
    return legs
