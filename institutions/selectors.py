"""Reads for institutions."""

from __future__ import annotations

from institutions.models import Institution, SigningKey


def operator_get() -> Institution:
    return Institution.objects.get(is_operator=True)


def signing_key_active(*, institution: Institution) -> SigningKey:
    return SigningKey.objects.get(institution=institution, active=True)


def signing_keys_lookup(*, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], SigningKey]:
    """The keys (active or retired) that (signer, key id) pairs name, in one query; unknown
    pairs are absent."""
    if not pairs:
        return {}
    keys = SigningKey.objects.select_related("institution").filter(
        key_id__in={key_id for _, key_id in pairs}
    )
    found = {(key.institution.code, key.key_id): key for key in keys}
    return {pair: key for pair, key in found.items() if pair in pairs}


def signing_keys_all() -> dict[str, dict[str, bytes]]:
    """Every key that ever signed, by institution code then key id (for keys.json)."""
    result: dict[str, dict[str, bytes]] = {}
    for code, kid, pub in SigningKey.objects.values_list(
        "institution__code", "key_id", "public_key"
    ).order_by("institution__code", "created_at"):
        result.setdefault(code, {})[kid] = bytes(pub)
    return result
