"""Reads for institutions."""

from __future__ import annotations

from institutions.models import Institution, SigningKey


def institution_get(*, code: str) -> Institution | None:
    return Institution.objects.filter(code=code).first()


def operator_get() -> Institution:
    return Institution.objects.get(is_operator=True)


def signing_key_active(*, institution: Institution) -> SigningKey:
    return SigningKey.objects.get(institution=institution, active=True)


def signing_key_lookup(*, signer: str, key_id: str) -> SigningKey | None:
    """The key (active or retired) a statement names; None if the pair is unknown."""
    return (
        SigningKey.objects.select_related("institution")
        .filter(key_id=key_id, institution__code=signer)
        .first()
    )


def signing_keys_all() -> dict[str, dict[str, bytes]]:
    """Every key that ever signed, by institution code then key id (for keys.json)."""
    result: dict[str, dict[str, bytes]] = {}
    for code, kid, pub in SigningKey.objects.values_list(
        "institution__code", "key_id", "public_key"
    ).order_by("institution__code", "created_at"):
        result.setdefault(code, {})[kid] = bytes(pub)
    return result
