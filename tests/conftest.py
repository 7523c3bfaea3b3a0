"""Shared fixtures: a small network built through the real services (so every statement the
foundation emits is queued as it would be in production)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection
from rest_framework.test import APIClient

from institutions import services as inst
from institutions.models import Institution


@dataclass
class Member:
    institution: Institution
    private_key: Ed25519PrivateKey | None
    key_id: str
    api_key: str = ""

    @property
    def code(self) -> str:
        return self.institution.code

    def client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.api_key}")
        return client


@dataclass
class Network:
    hub: Member
    valyou: Member
    partner: Member
    tmb: Member
    members: dict[str, Member] = field(default_factory=dict)


def _member(**kwargs) -> Member:
    new = inst.institution_create(**kwargs)
    institution = new.signing_key.institution
    _, api_key = inst.api_credential_create(institution=institution, label="test")
    return Member(institution, new.private_key, new.signing_key.key_id, api_key)


def _currencies() -> None:
    """Transactional tests flush every table, the migration-seeded currencies included."""
    from institutions.models import Currency
    from institutions.money import ISO4217

    for code, (minor, name) in ISO4217.items():
        Currency.objects.get_or_create(code=code, defaults={"name": name, "minor_units": minor})


@pytest.fixture
def network(db) -> Network:
    _currencies()
    hub = _member(code="HUB", name="Hub", country="MY", currency="MYR", is_operator=True)
    valyou = _member(
        code="VALYOU-MY", name="Valyou", country="MY", currency="MYR", is_sending=True, hosted=True
    )
    partner = _member(
        code="PARTNER-MY", name="Partner", country="MY", currency="MYR", is_sending=True
    )
    tmb = _member(code="TMB-PK", name="TMB", country="PK", currency="PKR", is_receiving=True)
    net = Network(hub=hub, valyou=valyou, partner=partner, tmb=tmb)
    net.members = {m.code: m for m in (hub, valyou, partner, tmb)}
    return net


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
)
