"""Refusals the KYC services raise (stable `code`s, docs/compliance.md). None carries PII."""

from __future__ import annotations

from core.errors import Conflict, DomainError


class KycValidationError(DomainError):
    """`errors` maps a field path (`address.postcode`, `id_documents[0].number`) to messages
    that each start with the rule broken (`required:`, `checksum:`, `format:` …)."""

    code, status, title = "validation_error", 400, "Invalid request"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("One or more fields are invalid.", errors=errors)
        self.errors = errors


class RecordErased(DomainError):
    code, status, title = "kyc_record_erased", 410, "KYC record erased"


class NoSealingKey(Conflict):
    code, title = "no_sealing_key", "Institution has no X25519 key registered for sealing"


class IllegalStatusChange(Conflict):
    code, title = "illegal_status_change", "Illegal KYC status change"


class HitAlreadyDecided(Conflict):
    code, title = "screening_hit_decided", "Screening hit already decided"


class KycIntegrityError(Exception):
    """Stored ciphertext, its binding or its wrapped key failed authentication: tampering,
    a row moved, or a missing KEK. Not a client error — it surfaces as a 500 and is logged."""


class ForeignRecord(Exception):
    """A service tried to link a KYC record to an order its owner is not party to. Callers
    check ownership first (a client naming another institution's record gets 404), so this is
    a bug guard, not a client error."""
