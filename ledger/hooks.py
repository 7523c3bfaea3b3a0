"""Statements for what the foundation already knows, subscribed to institutions' events.

They are signed by the operator and queued in the emitter's transaction, so an institution, a
key or a corridor never exists without its statement on the log."""

from __future__ import annotations

import base64
from typing import Any

from django.conf import settings

from core import events
from institutions.models import Corridor, Institution, SigningKey


def _b64(raw: bytes) -> str:
    return base64.b64encode(bytes(raw)).decode()


def _issue(kind: str, body: dict[str, Any], subject: str) -> None:
    from ledger.services.log import statement_issue

    statement_issue(
        institution=settings.LEDGER_OPERATOR_CODE, kind=kind, body=body, subject=subject
    )


def on_institution_joined(*, institution: Institution, signing_key: SigningKey) -> None:
    _issue(
        "institution.joined",
        {
            "institution": institution.code,
            "name": institution.name,
            "country": institution.country,
            "currency": institution.currency_id,
            "roles": institution.roles,
            "key_id": signing_key.key_id,
            "public_key": _b64(bytes(signing_key.public_key)),
        },
        institution.code,
    )


def on_key_rotated(
    *, institution: Institution, old_key: SigningKey | None, new_key: SigningKey
) -> None:
    _issue(
        "key.rotated",
        {
            "institution": institution.code,
            "old_key_id": old_key.key_id if old_key else None,
            "new_key_id": new_key.key_id,
            "public_key": _b64(bytes(new_key.public_key)),
        },
        institution.code,
    )


def on_corridor_opened(*, corridor: Corridor) -> None:
    _issue(
        "corridor.opened",
        {
            "corridor": corridor.code,
            "source_country": corridor.source_country,
            "destination_country": corridor.destination_country,
            "source_currency": corridor.source_currency_id,
            "destination_currency": corridor.destination_currency_id,
        },
        corridor.code,
    )


def connect() -> None:
    events.subscribe("institution.joined", on_institution_joined)
    events.subscribe("key.rotated", on_key_rotated)
    events.subscribe("corridor.opened", on_corridor_opened)
