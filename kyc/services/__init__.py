"""Writes for KYC by reference (DESIGN.md §5, docs/compliance.md).

Who may call what:
- onboarding / the wallet UI / the order flow: `kyc_record_create`, `kyc_link_parties`,
  `travel_rule_missing`, `screening_check_parties`, `tier_limits`;
- the partner API: `kyc_access_request`;
- compliance staff (admin) and operators (management commands): `kyc_record_read`,
  `kyc_record_status_set`, `screening_hit_decide`, `kyc_record_erase`, `kek_rewrap_all`,
  `screening_list_import`.

Every decryption goes through `_payload_open`, which writes the access-log row in the same
transaction as the read; nothing here logs, raises or signs a value from inside a record.
"""

from kyc.services.limits import Limits, tier_limits, travel_rule_missing
from kyc.services.records import (
    kek_rewrap_all,
    kyc_document_read,
    kyc_record_create,
    kyc_record_erase,
    kyc_record_read,
    kyc_record_status_set,
)
from kyc.services.screening import (
    ScreeningResult,
    screening_check_parties,
    screening_check_records,
    screening_hit_decide,
    screening_list_import,
)
from kyc.services.sharing import (
    SealedRecord,
    kyc_access_request,
    kyc_link_parties,
    kyc_links_create,
)
from kyc.services.vault import PURPOSES, TIERS, TRANSITIONS

__all__ = [
    "PURPOSES",
    "TIERS",
    "TRANSITIONS",
    "Limits",
    "ScreeningResult",
    "SealedRecord",
    "kek_rewrap_all",
    "kyc_access_request",
    "kyc_document_read",
    "kyc_link_parties",
    "kyc_links_create",
    "kyc_record_create",
    "kyc_record_erase",
    "kyc_record_read",
    "kyc_record_status_set",
    "screening_check_parties",
    "screening_check_records",
    "screening_hit_decide",
    "screening_list_import",
    "tier_limits",
    "travel_rule_missing",
]
