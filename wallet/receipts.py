"""A transfer's receipt and the material its verify page checks in the browser.

Reads only (selectors): the receipt's facts in the customer's words, and the proof bundle —
the transfer's ledger entries (exact leaf bytes), an RFC 9162 inclusion proof for each
against one signed checkpoint (a C2SP signed note), the operator's checkpoint key, the
witnesses' keys for the cosignatures on it, and the keys that signed each statement. The
browser recomputes everything from those bytes (wallet/static/wallet/verify.js); nothing here
says "valid"."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from typing import Any

from django.conf import settings

from institutions.selectors import operator_get, signing_keys_lookup
from ledger.models import Checkpoint, Entry
from ledger.selectors.log import (
    checkpoint_latest,
    checkpoint_note_with_cosignatures,
    entries_for_subject,
    inclusion_proof,
    queued_count_for_subject,
)
from ledger.selectors.witnesses import checkpoint_witnessed, witnesses_count
from partner_sdk.note import NoteVerifier
from remittance.models import RemittanceOrder
from wallet.display import PAYOUT_WORDS, money_text, rate_text, status_text, time_text
from wallet.references import order_reference


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Receipt:
    reference: str
    order_id: str
    status: str
    status_word: str
    delivered: bool
    created_at: str
    credited_at: str
    send: str
    fee: str
    total: str
    rate: str
    mid_rate: str
    margin_percent: str
    receive: str
    recipient: str
    sending_bank: str
    receiving_bank: str
    payout_reference: str
    ledger_seqs: list[int]


def receipt_for(
    order: RemittanceOrder,
    *,
    tz: tzinfo,
    language: str | None = None,
    with_ledger: bool = True,
    recipient: str | None = None,
) -> Receipt:
    """The receipt's facts, formatted for the active (or given) language and `tz`
    (`with_ledger=False`: without the entries' seqs, one query less, for lists)."""
    quote = order.quote
    mid = Decimal(quote.mid_rate)
    margin = (Decimal(1) - Decimal(order.rate) / mid) * 100 if mid else Decimal(0)
    method = str(PAYOUT_WORDS.get(order.payout_method, order.payout_method))
    entries = entries_for_subject(subject=str(order.pk)) if with_ledger else []
    return Receipt(
        reference=order_reference(order.pk),
        order_id=str(order.pk),
        status=order.status,
        status_word=status_text(order.status),
        delivered=order.status in ("credited", "settled"),
        created_at=time_text(order.created_at, tz, language=language),
        credited_at=time_text(order.credited_at, tz, language=language)
        if order.credited_at
        else "",
        send=money_text(order.send_minor, order.send_currency, language=language),
        fee=money_text(order.fee_minor, order.send_currency, language=language),
        total=money_text(
            order.send_minor + order.fee_minor, order.send_currency, language=language
        ),
        rate=rate_text(Decimal(order.rate), language=language),
        mid_rate=rate_text(mid, language=language),
        margin_percent=rate_text(margin.quantize(Decimal("0.01")), language=language),
        receive=money_text(order.receive_minor, order.receive_currency, language=language),
        recipient=recipient
        or f"{method} {order.recipient.payout_hint if order.recipient else ''}".strip(),
        sending_bank=order.sending_institution.name,
        receiving_bank=order.receiving_institution.name,
        payout_reference=order.payout_reference,
        ledger_seqs=[e.seq for e in entries],
    )


def _checkpoint_covering(last_seq: int) -> Checkpoint | None:
    """The checkpoint the receipt is checked against: the latest one cosigned by every
    witness the hub expects when it already includes the transfer's last entry (no single
    party, the operator included, can then have shown this customer a history the witnesses
    did not see), else the latest checkpoint."""
    witnesses = witnesses_count()
    if witnesses:
        witnessed = checkpoint_witnessed(min_witnesses=witnesses)
        if witnessed is not None and witnessed.tree_size > last_seq:
            return witnessed
    latest = checkpoint_latest()
    return latest if latest is not None and latest.tree_size > last_seq else None


def proof_bundle(order: RemittanceOrder) -> dict[str, Any]:
    """What the verify page needs, as JSON-ready values (bytes in base64)."""
    entries: list[Entry] = entries_for_subject(subject=str(order.pk))
    pending = queued_count_for_subject(subject=str(order.pk))
    bundle: dict[str, Any] = {
        "reference": order_reference(order.pk),
        "order_id": str(order.pk),
        "origin": settings.LEDGER_ORIGIN,
        "entries": [],
        "pending": pending,
        "checkpoint": None,
        "operator_key": None,
        "witness_keys": [],
        "signer_keys": [],
    }
    if not entries:
        return bundle
    checkpoint = _checkpoint_covering(entries[-1].seq)
    if checkpoint is None:
        bundle["pending"] = pending + len(entries)
        return bundle
    cosignatures = list(checkpoint.cosignatures.select_related("institution"))
    pairs = {(e.signer, e.key_id) for e in entries}
    pairs |= {(c.institution.code, c.key_id) for c in cosignatures}
    operator_pair = (operator_get().code, checkpoint.key_id)
    keys = signing_keys_lookup(pairs=pairs | {operator_pair})
    operator = NoteVerifier(settings.LEDGER_ORIGIN, bytes(keys[operator_pair].public_key))
    bundle["checkpoint"] = checkpoint_note_with_cosignatures(checkpoint)
    bundle["operator_key"] = {
        "name": operator.name,
        "public_key": _b64(operator.public_key_raw),
        "vkey": operator.vkey,
    }
    bundle["witness_keys"] = [
        {
            "name": c.institution.code,
            "institution": c.institution.name,
            "public_key": _b64(bytes(keys[(c.institution.code, c.key_id)].public_key)),
        }
        for c in cosignatures
        if (c.institution.code, c.key_id) in keys
    ]
    bundle["signer_keys"] = [
        {
            "signer": signer,
            "key_id": key_id,
            "institution": key.institution.name,
            "public_key": _b64(bytes(key.public_key)),
        }
        for (signer, key_id), key in sorted(keys.items())
        if (signer, key_id) in {(e.signer, e.key_id) for e in entries}
    ]
    for entry in entries:
        proof = inclusion_proof(index=entry.seq, size=checkpoint.tree_size)
        bundle["entries"].append(
            {
                "seq": entry.seq,
                "kind": entry.kind,
                "signer": entry.signer,
                "leaf": _b64(bytes(entry.leaf)),
                "proof": [_b64(h) for h in proof.hashes],
            }
        )
    return bundle
