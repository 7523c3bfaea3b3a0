"""The signed statement of each order step: the partner's own, checked and put on the log
verbatim, or — for a hosted institution or the operator — signed by the hub.

A partner's statement must be the step it claims (kind, signer) and carry the request's facts;
the ledger checks its form, body schema, clock and signature (`statements_check`)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import DomainError, InvalidSignature
from institutions.models import Institution
from ledger.services.log import (
    statement_append,
    statement_issue,
    statements_check,
    statements_issue,
    statements_queue,
)
from remittance.errors import StatementMismatch


@dataclass(frozen=True)
class SignedStatement:
    """What a partner sends with a request that moves an order."""

    statement: dict[str, Any]
    signature: bytes

    @classmethod
    def from_request(cls, statement: Any, signature: Any) -> SignedStatement:
        if not isinstance(statement, dict) or not isinstance(signature, str):
            raise InvalidSignature("send `statement` (object) and `signature` (base64)")
        try:
            raw = base64.b64decode(signature, validate=True)
        except ValueError:
            raise InvalidSignature("signature is not base64") from None
        return cls(statement=statement, signature=raw)


def signed_check(
    signed: SignedStatement,
    *,
    institution: Institution,
    kind: str,
    expected: dict[str, Any],
    required: tuple[str, ...] = (),
) -> None:
    """The partner's statement is the step it claims and carries the request's facts:
    `required` facts must be signed; the others are checked when the partner chose to sign
    them (the quote's amounts on a submit)."""
    statement = signed.statement
    if statement.get("kind") != kind:
        raise StatementMismatch(f"statement kind must be {kind}")
    if statement.get("signer") != institution.code:
        raise StatementMismatch("statement must be signed by the calling institution")
    raw = statement.get("body")
    body: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for name, value in expected.items():
        if (name in body or name in required) and body.get(name) != value:
            raise StatementMismatch(f"signed body field {name} does not match the request")


def signatures_check(signed: Sequence[SignedStatement]) -> list[DomainError | None]:
    """The ledger's verdict on each partner statement (one key query for all)."""
    return statements_check([(s.statement, s.signature) for s in signed])


@dataclass(frozen=True)
class StepStatement:
    """One step's statement to record: the partner's (`signed`), else the hub signs `body` as
    `institution`."""

    institution: Institution | str
    kind: str
    body: dict[str, Any]
    subject: str
    signed: SignedStatement | None = None


def statements_record(steps: Sequence[StepStatement]) -> list[int]:
    """Queue each step's statement — partners' verbatim in one INSERT, hosted ones signed by
    the hub in another — and return their refs in the order of `steps`. Partner statements
    must have passed `signatures_check`."""
    partner = [n for n, step in enumerate(steps) if step.signed is not None]
    hosted = [n for n, step in enumerate(steps) if step.signed is None]
    queued = statements_queue(
        [
            (steps[n].signed.statement, steps[n].signed.signature, steps[n].subject)  # type: ignore[union-attr]
            for n in partner
        ]
    )
    issued = statements_issue(
        [(steps[n].institution, steps[n].kind, steps[n].body, steps[n].subject) for n in hosted]
    )
    refs: dict[int, int] = {n: q.pk for n, q in zip(partner, queued, strict=True)}
    refs.update({n: q.pk for n, q in zip(hosted, issued, strict=True)})
    return [refs[n] for n in range(len(steps))]


def step_record(
    *,
    institution: Institution,
    signed: SignedStatement | None,
    kind: str,
    facts: dict[str, Any],
    subject: str,
) -> int:
    """One answer's statement (every fact of an answer is signed): the partner's, checked
    and queued verbatim, or the hub's for a hosted institution. Returns its ref."""
    if signed is not None:
        signed_check(
            signed, institution=institution, kind=kind, expected=facts, required=tuple(facts)
        )
        return statement_append(
            statement=signed.statement, signature=signed.signature, subject=subject
        ).pk
    if not institution.hosted:
        raise InvalidSignature(f"send the {kind} statement you signed")
    return operator_record(institution, kind, facts, subject)


def operator_record(
    institution: Institution | str, kind: str, body: dict[str, Any], subject: str
) -> int:
    """A statement the hub signs (as the operator or a hosted institution); its ref."""
    return statement_issue(institution=institution, kind=kind, body=body, subject=subject).pk
