"""The batch driver shared by submits and answers: one transaction for many requests, each
answered as if it had run alone.

A batch attempt (`submit.py`, `answers.py`) runs in one durable transaction and ends in one
of three ways:
- it returns one answer per request (the order, or the DomainError refusing that request);
- it raises `NothingChanged`: every request was refused, so everything is rolled back and the
  refusals are stored under their Idempotency-Keys on their own (`refusals_store`);
- it raises `Redo` at the write stage (the ledger refused a transfer, a liquidity re-check
  failed): everything is rolled back and the batch runs again from the start without those
  requests, which get that refusal — so the others are judged as if they had never been in it.
An IntegrityError means another request committed one of these order ids or keys after the
batch looked: it runs again and finds the stored answer (at most a few times).

Idempotency-Keys (`Claim`) are read first, in the batch's transaction, and stored with the
answers (`claims_first`, `claims_store`): the key's record commits with the change or not at
all. How an answer is stored is the API's business: each claim carries the view's own
`respond` function (the view's serializer), so a replay is byte for byte the first response.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from django.db import IntegrityError, transaction

from core.errors import DomainError
from institutions.idempotency import Claim, Replay, claims_resolve, claims_store
from remittance.models import RemittanceOrder

# A request's answer: the order as this request left it, the refusal, or the first answer
# again for an Idempotency-Key seen before.
Answer = RemittanceOrder | DomainError | Replay
MAX_COLLISIONS = 3


class Keyed(Protocol):
    @property
    def claim(self) -> Claim | None: ...


R = TypeVar("R", bound=Keyed)


class NothingChanged(Exception):
    """Rolls the batch's transaction back when no request in it changed anything (so a
    refused request writes nothing, not even its screening's access-log rows)."""

    def __init__(self, results: Sequence[Answer | None], keyed: Sequence[int] = ()) -> None:
        self.results = list(results)
        self.keyed = list(keyed)  # requests whose Idempotency-Keys are still to be stored


class Redo(Exception):
    """Roll the batch's transaction back and run it again without these requests (index →
    the error that refuses each)."""

    def __init__(self, refused: dict[int, DomainError]) -> None:
        self.refused = refused


def batch_run(
    requests: list[R],
    attempt: Callable[[list[R], dict[int, DomainError]], list[Answer]],
) -> list[Answer]:
    """Run `attempt` until it answers every request (see the module docstring)."""
    refused: dict[int, DomainError] = {}
    collisions = 0
    while True:
        try:
            return attempt(requests, refused)
        except NothingChanged as nothing:
            return refusals_store(requests, nothing)
        except Redo as redo:  # raised out of the transaction: everything was rolled back
            refused.update(redo.refused)
        except IntegrityError:
            collisions += 1
            if collisions > MAX_COLLISIONS:
                raise


def claims_first(
    requests: Sequence[Keyed], refused: dict[int, DomainError]
) -> tuple[list[Answer | None], list[int]]:
    """A batch's first step: its Idempotency-Keys, all of them (a refused request's too: its
    key may have been stored by another request since, and it still decides for a later one
    with the same key). Returns the answers known already — the earlier answer of a key seen
    before, else the refusal from an earlier run — and the requests whose keys this batch
    must store with its answers."""
    earlier = claims_resolve([r.claim for r in requests])
    keyed = [i for i, r in enumerate(requests) if r.claim is not None and earlier[i] is None]
    return [earlier[i] or refused.get(i) for i in range(len(requests))], keyed


def claims_finish(requests: Sequence[Keyed], keyed: Sequence[int], results: Sequence[Any]) -> None:
    """Store the batch's answers under their keys, in its transaction; a key another request
    stored meanwhile raises IntegrityError and the batch runs again (it then replays)."""
    claims_store([(requests[i].claim, results[i]) for i in keyed])  # type: ignore[misc]


def refusals_store(requests: Sequence[Keyed], nothing: NothingChanged) -> list[Answer]:
    """A batch that changed nothing was rolled back whole; its answers are stored with their
    keys on their own. The keys are read again first, in this transaction: a request with the
    same key that committed while this batch waited on its locks (a concurrent retry of the
    same request) answers for it — the caller gets that first answer, not its own late
    refusal ("already accepted", "quote used")."""
    results = list(nothing.results)
    with transaction.atomic():
        known = claims_resolve([requests[i].claim for i in nothing.keyed])
        for i, answer in zip(nothing.keyed, known, strict=True):
            if answer is not None:
                results[i] = answer
        claims_store(
            [
                (requests[i].claim, results[i])  # type: ignore[misc]
                for i, answer in zip(nothing.keyed, known, strict=True)
                if answer is None
            ],
            skip_conflicts=True,
        )
    return results  # type: ignore[return-value]
