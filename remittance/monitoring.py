"""The hook through which a higher app (compliance) judges a batch of orders inside the submit
transaction, before the receiving bank is told (DESIGN.md §2: remittance never imports it).

`submit.py` hands the batch's accepted orders to the registered judge, once per batch; the
judge answers the indexes of the orders to hold for compliance review (`hold_reason`
`monitoring`). With no judge registered nothing is held and nothing is read."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Candidate:
    """One order of the batch, as the monitoring rules see it (no PII: refs and amounts)."""

    index: int
    order_id: uuid.UUID
    sender_kyc_ref: str
    beneficiary_kyc_ref: str
    amount_minor: int
    currency: str
    sending_institution_id: int
    at: datetime
    holds: tuple[str, ...] = ()  # why it is held already (screening, liquidity)


Judge = Callable[[Sequence[Candidate]], set[int]]
_judges: list[Judge] = []


def judge_register(judge: Judge) -> None:
    """Called from an AppConfig.ready(); registering the same judge twice is harmless."""
    if judge not in _judges:
        _judges.append(judge)


def batch_judge(candidates: Sequence[Candidate]) -> set[int]:
    """The indexes to hold: the union of every registered judge's answer."""
    held: set[int] = set()
    if not candidates:
        return held
    for judge in _judges:
        held |= judge(candidates)
    return held
