"""Writes to the signed log: queue statements, integrate them, publish checkpoints, take
witness cosignatures.

Who may call: any service, inside its own transaction. `statement_append` / `statement_issue`
only INSERT one queue row — no global lock, no read of the log head — so they never block on
other writers. `ledger_integrate` is the one sequencer (advisory lock on PostgreSQL; SQLite
serialises writers anyway) and runs in Celery, coalesced, in batches.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from core import events
from core.db import objs_insert, rows_copy
from core.errors import Conflict, DomainError, InvalidSignature
from core.tasks import task_request
from institutions.models import Institution, SigningKey
from institutions.selectors import signing_key_active, signing_keys_lookup
from institutions.services import signing_key_private
from ledger.models import Checkpoint, Cosignature, Entry, QueuedStatement, TreeNode
from ledger.services.witnesses import witness_cosigned
from partner_sdk import merkle
from partner_sdk.note import (
    Checkpoint as CheckpointBody,
)
from partner_sdk.note import (
    NoteError,
    parse_checkpoint,
    parse_signature_line,
    sign_note,
    verify_cosignature,
)
from partner_sdk.statements import StatementBodyError, check_body
from partner_sdk.wire import (
    STATEMENT_DOMAIN,
    WireFormatError,
    canonical_json,
    format_time,
    parse_time,
    validate_statement,
    verify_statement,
)

logger = logging.getLogger(__name__)

# pg advisory lock key of the single integrator ("ledger" in ASCII).
INTEGRATOR_LOCK_KEY = 0x6C6564676572
INTEGRATION_REQUESTED = "ledger:integration-requested"
# Kinds only the hub writes; a partner-signed statement may not claim them.
OPERATOR_KINDS = (
    "ledger.",
    "institution.",
    "key.",
    "corridor.",
    "settlement.",
    "kyc.",
    "compliance.",
)


class InvalidStatement(DomainError):
    code, status, title = "invalid_statement", 400, "Invalid statement"


class InconsistentCheckpoint(DomainError):
    code, status, title = "inconsistent_checkpoint", 409, "Checkpoint not consistent with the log"


# --- queueing -------------------------------------------------------------------------------


def statement_append(
    *, statement: dict[str, Any], signature: bytes, subject: str = ""
) -> QueuedStatement:
    """Queue a statement a partner signed, after checking it against the signer's registered,
    active key. Refuses (InvalidStatement / InvalidSignature) before anything is written.

    The statement goes on the log verbatim, so the partner can later prove exactly what it
    said and nothing more."""
    error = statements_check([(statement, signature)])[0]
    if error is not None:
        raise error
    return statements_queue([(statement, signature, subject)])[0]


def statements_check(items: Sequence[tuple[dict[str, Any], bytes]]) -> list[DomainError | None]:
    """Check partner-signed statements (form, no personal data, not an operator kind, the
    signer's registered active key, the signature): one query for all the keys they name.
    Returns, per statement, None when it may be queued, else the error refusing it."""
    results: list[DomainError | None] = []
    pending: list[tuple[int, dict[str, Any], bytes]] = []
    now = timezone.now()
    for n, (statement, signature) in enumerate(items):
        results.append(None)
        try:
            validate_statement(statement)
        except WireFormatError as exc:
            results[n] = InvalidStatement(str(exc))
            continue
        if statement["kind"].startswith(OPERATOR_KINDS):
            results[n] = InvalidStatement(
                f"{statement['kind']} statements are issued by the operator only"
            )
            continue
        try:
            check_body(statement["kind"], statement["body"])
        except StatementBodyError as exc:
            results[n] = InvalidStatement(str(exc))
            continue
        late = _outside_clock_window(parse_time(statement["at"]), now)
        if late:
            results[n] = InvalidStatement(late)
        else:
            pending.append((n, statement, signature))
    keys = signing_keys_lookup(pairs={(s["signer"], s["key_id"]) for _, s, _ in pending})
    for n, statement, signature in pending:
        key = keys.get((statement["signer"], statement["key_id"]))
        if key is None:
            results[n] = InvalidSignature(
                f"unknown key {statement['key_id']} for {statement['signer']}"
            )
        elif not key.active:
            results[n] = InvalidSignature(f"key {key.key_id} was retired and may no longer sign")
        elif not verify_statement(bytes(key.public_key), statement, signature):
            results[n] = InvalidSignature("the signature does not verify against the signer's key")
    return results


def _outside_clock_window(at: datetime, now: datetime) -> str | None:
    """A partner's `at` must be near the hub's clock: not older than
    LEDGER_STATEMENT_MAX_AGE_SECONDS, not ahead by more than LEDGER_STATEMENT_MAX_SKEW_SECONDS
    (docs/ledger.md). Returns the refusal, or None."""
    age = (now - at).total_seconds()
    if age > settings.LEDGER_STATEMENT_MAX_AGE_SECONDS:
        return (
            f"statement `at` is more than {settings.LEDGER_STATEMENT_MAX_AGE_SECONDS} s before "
            "the hub's clock; sign it again with the current time"
        )
    if -age > settings.LEDGER_STATEMENT_MAX_SKEW_SECONDS:
        return (
            f"statement `at` is more than {settings.LEDGER_STATEMENT_MAX_SKEW_SECONDS} s after "
            "the hub's clock; check your clock (NTP)"
        )
    return None


def statements_queue(
    items: Sequence[tuple[dict[str, Any], bytes, str]],
) -> list[QueuedStatement]:
    """Queue checked partner statements (statement, signature, subject) verbatim, in one
    INSERT. Only for statements `statements_check` passed."""
    return _queue_many(
        [
            (canonical_json(statement), signature, statement["kind"], statement["signer"], subject)
            for statement, signature, subject in items
        ]
    )


def statement_issue(
    *, institution: Institution | str, kind: str, body: dict[str, Any], subject: str = ""
) -> QueuedStatement:
    """Sign a statement as a hosted institution (the operator, or one the hub signs for) and
    queue it. `body` holds facts only: ids, decimal-string amounts, refs — never PII."""
    return statements_issue([(institution, kind, body, subject)])[0]


def statements_issue(
    items: Sequence[tuple[Institution | str, str, dict[str, Any], str]],
) -> list[QueuedStatement]:
    """`statement_issue` for many (institution, kind, body, subject): one query for the
    signers' active keys, one INSERT."""
    codes = [i if isinstance(i, str) else i.code for i, _, _, _ in items]
    # the institutions' active keys (the hub holds their private halves)
    key_ids = dict(
        SigningKey.objects.filter(institution__code__in=set(codes), active=True).values_list(
            "institution__code", "key_id"
        )
    )
    at = format_time(timezone.now())
    rows = []
    for code, (_, kind, body, subject) in zip(codes, items, strict=True):
        if code not in key_ids:
            raise SigningKey.DoesNotExist(f"{code} has no active signing key")
        statement = {
            "v": 1,
            "kind": kind,
            "at": at,
            "signer": code,
            "key_id": key_ids[code],
            "body": body,
        }
        canonical = canonical_json(statement)  # once: it is what we sign and what we store
        signature = _private_key(key_ids[code]).sign(STATEMENT_DOMAIN + canonical)
        rows.append((canonical, signature, kind, code, subject))
    return _queue_many(rows)


@lru_cache(maxsize=64)
def _private_key(key_id: str) -> Ed25519PrivateKey:
    """Unwrapped hosted key, cached per process (a key id names one immutable key)."""
    return signing_key_private(signing_key=SigningKey.objects.get(key_id=key_id))


def _queue_many(rows: Sequence[tuple[bytes, bytes, str, str, str]]) -> list[QueuedStatement]:
    """One INSERT of (canonical, signature, kind, signer, subject) rows; the integrator is
    asked to run when the caller's transaction commits."""
    if not rows:
        return []
    queued = objs_insert(
        [
            QueuedStatement(
                statement=canonical,
                signature=signature,
                kind=kind,
                signer=signer,
                subject=subject[:64],
            )
            for canonical, signature, kind, signer, subject in rows
        ],
        returning_pk=True,
    )
    transaction.on_commit(integration_request, robust=True)
    return queued


def integration_request() -> None:
    """Ask for an integrator run, coalesced: at most one run is requested at a time. The
    integrator clears the flag before it reads the queue, so a statement committed after that
    read requests a fresh run; the beat safety net covers a lost flag."""
    try:
        if cache.add(INTEGRATION_REQUESTED, 1, timeout=30):
            task_request("ledger.tasks.integrate_pending")
    except Exception:
        # The statement is durably queued; beat's safety net integrates it within seconds.
        cache.delete(INTEGRATION_REQUESTED)
        logger.exception("could not request ledger integration; beat will pick it up")


# --- integration ----------------------------------------------------------------------------


def _entry_leaf(seq: int, canonical_statement: bytes, signature: bytes) -> bytes:
    """JCS({"seq", "sig", "statement"}) built by concatenation: the keys are already in RFC 8785
    order, the integer and base64 need no escaping, and the statement bytes are canonical.
    Equal to partner_sdk.wire.entry_bytes (tests/ledger/test_integrate.py)."""
    sig = base64.b64encode(signature)
    return b'{"seq":%d,"sig":"%s","statement":%s}' % (seq, sig, canonical_statement)


def _lock_integrator() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [INTEGRATOR_LOCK_KEY])


def ledger_integrate(*, batch_size: int | None = None, coalesce_seconds: float = 0.0) -> int:
    """Sequence queued statements into the log until the queue is empty; returns how many.

    Each batch is one transaction: contiguous seqs after the current head, leaf and interior
    hashes, queue rows removed, one operator-signed checkpoint. A crash mid-batch rolls the
    whole batch back; nothing is half-integrated.

    `coalesce_seconds`: wait that long first, with the integration request still standing,
    so that the writers committing meanwhile ride this run instead of each asking for one
    (the Celery task passes LEDGER_INTEGRATE_COALESCE_SECONDS: a few milliseconds of latency
    buy batches large enough that a run's fixed cost — lock, checkpoint signature, commit,
    the reconciliation it triggers — stops being paid per writer)."""
    limit = batch_size or settings.LEDGER_INTEGRATE_BATCH
    if coalesce_seconds > 0:
        time.sleep(coalesce_seconds)
    cache.delete(INTEGRATION_REQUESTED)
    total = 0
    while True:
        done, first, last = _integrate_batch(limit=limit)
        total += done
        if done:
            events.emit("ledger.integrated", first_seq=first, last_seq=last)
        if done < limit:
            return total


@transaction.atomic
def _integrate_batch(*, limit: int) -> tuple[int, int, int]:
    _lock_integrator()
    rows = list(
        QueuedStatement.objects.order_by("pk").values_list(
            "pk", "statement", "signature", "kind", "signer", "subject"
        )[:limit]
    )
    if not rows:
        return 0, 0, 0
    tree = _tree_head()
    size = tree.size
    now = timezone.now()
    entries: list[tuple] = []
    nodes: list[tuple[int, int, bytes]] = []
    for offset, (ref, statement, signature, kind, signer, subject) in enumerate(rows):
        seq = size + offset
        leaf = _entry_leaf(seq, bytes(statement), bytes(signature))
        entries.append((seq, leaf, kind, signer, _key_id_of(bytes(statement)), subject, ref, now))
        nodes.extend(tree.append(merkle.leaf_hash(leaf))[1:])  # level 0: see tree_nodes_get
    rows_copy(Entry, ENTRY_COLUMNS, entries, binary=True)
    rows_copy(TreeNode, ("level", "index", "hash"), nodes, binary=True)
    _delete_queued([r[0] for r in rows])
    checkpoint_publish(tree=tree)
    return len(rows), size, size + len(rows) - 1


ENTRY_COLUMNS = (
    "seq",
    "leaf",
    "kind",
    "signer",
    "key_id",
    "subject",
    "statement_ref",
    "integrated_at",
)


def _delete_queued(ids: list[int]) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM ledger_queuedstatement WHERE id = ANY(%s)", [ids])
    else:
        QueuedStatement.objects.filter(pk__in=ids).delete()


def _key_id_of(canonical_statement: bytes) -> str:
    # The statement was validated when queued; the key id sits in a fixed-format field.
    marker = b'"key_id":"'
    start = canonical_statement.index(marker) + len(marker)
    return canonical_statement[start : start + 16].decode()


def _tree_head() -> merkle.CompactRange:
    """The tree as of the latest checkpoint, rebuilt from the frontier stored with it (one
    indexed read; the frontier is also derivable from TreeNode, and `ledger verify` checks it)."""
    head = Checkpoint.objects.order_by("-tree_size").values_list("tree_size", "frontier").first()
    if head is None:
        return merkle.CompactRange()
    size, frontier = head[0], bytes(head[1])
    return merkle.CompactRange.from_hashes(
        size, [frontier[i : i + 32] for i in range(0, len(frontier), 32)]
    )


def checkpoint_publish(*, tree: merkle.CompactRange) -> Checkpoint:
    """Sign and store the checkpoint for the tree's size with the operator's active key."""
    key_id = (
        SigningKey.objects.filter(institution__is_operator=True, active=True)
        .values_list("key_id", flat=True)
        .get()
    )
    root = tree.root()
    body = CheckpointBody(origin=settings.LEDGER_ORIGIN, size=tree.size, root=root).text()
    line = sign_note(body, name=settings.LEDGER_ORIGIN, private_key=_private_key(key_id))
    return Checkpoint.objects.create(
        tree_size=tree.size,
        root_hash=root,
        frontier=b"".join(tree.hashes),
        body=body,
        signature_line=line,
        key_id=key_id,
    )


# --- witnesses ------------------------------------------------------------------------------


@transaction.atomic
def cosignature_add(
    *, institution: Institution, checkpoint_text: str, cosignature_line: str
) -> Cosignature:
    """Store a witness's cosignature after checking that (a) the checkpoint is one this log
    published, byte for byte, and (b) the line verifies under the witness's active key, with
    the institution code as the cosigner name. Idempotent per (checkpoint, witness)."""
    try:
        body = parse_checkpoint(checkpoint_text)
        line = parse_signature_line(cosignature_line.rstrip("\n"))
    except NoteError as exc:
        raise DomainError(f"not a checkpoint and cosignature line: {exc}") from None
    if body.origin != settings.LEDGER_ORIGIN:
        raise InconsistentCheckpoint("checkpoint is for another log origin")
    published = Checkpoint.objects.filter(tree_size=body.size).first()
    if published is None:
        raise InconsistentCheckpoint("no checkpoint of that size was published by this log")
    if published.body != checkpoint_text or bytes(published.root_hash) != body.root:
        raise InconsistentCheckpoint("checkpoint differs from the one this log published")
    key = signing_key_active(institution=institution)
    timestamp = verify_cosignature(
        cosignature_line.rstrip("\n"),
        checkpoint_text,
        name=institution.code,
        public_key=bytes(key.public_key),
    )
    if timestamp is None or line.name != institution.code:
        raise InvalidSignature("cosignature does not verify under the witness's active key")
    existing = Cosignature.objects.filter(checkpoint=published, institution=institution).first()
    if existing is not None:
        if existing.signature_line != line.format():
            raise Conflict("this witness already cosigned that checkpoint differently")
        return existing
    cosignature = Cosignature.objects.create(
        checkpoint=published,
        institution=institution,
        key_id=key.key_id,
        timestamp=timestamp,
        signature_line=line.format(),
    )
    witness_cosigned(institution=institution, checkpoint=published)
    return cosignature
