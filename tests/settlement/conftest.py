"""Settlement fixtures: the remittance corridor (real orders through the partner API) plus
helpers to credit orders and to craft order facts for the window hook."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from institutions import services as inst
from institutions.models import Corridor, Institution
from ledger.services.log import ledger_integrate
from tests.conftest import Member
from tests.remittance.conftest import corridor, fund, signed, wallet_customer
from tests.remittance.test_orders_api import answer, quote, submit


def credited_order(corridor, amount: str = "1000.00", payout_reference: str | None = None) -> str:
    """A real order through the partner API: quote, submit, accept, credit. Returns its id."""
    q = quote(corridor, amount)
    order_id = str(uuid.uuid4())
    created = submit(corridor, q, order_id)
    assert created.status_code == 201, created.content
    assert answer(corridor, order_id, "accept").status_code == 200
    credited = answer(
        corridor,
        order_id,
        "credit",
        payout_reference=payout_reference or f"EP-{order_id[:8]}",
        receive_amount=q["receive_amount"],
    )
    assert credited.status_code == 200, credited.content
    return order_id


def accepted_order(corridor, amount: str = "100.00") -> str:
    q = quote(corridor, amount)
    order_id = str(uuid.uuid4())
    assert submit(corridor, q, order_id).status_code == 201
    assert answer(corridor, order_id, "accept").status_code == 200
    return order_id


@dataclass
class FakeOrder:
    """What the `order.credited` hook reads (duck-typed like RemittanceOrder)."""

    sending_institution: Institution
    receiving_institution: Institution
    send_minor: int
    fee_minor: int
    receive_minor: int
    rate: Decimal
    corridor_id: int
    send_currency: str = "MYR"
    receive_currency: str = "PKR"
    payout_reference: str = "EP-1"
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    credited_at: datetime = field(default_factory=timezone.now)


@pytest.fixture
def my_pk(network) -> Corridor:
    return inst.corridor_open(
        code="MY-PK",
        source_country="MY",
        destination_country="PK",
        source_currency="MYR",
        destination_currency="PKR",
    )


@pytest.fixture
def second_receiver(network) -> Institution:
    new = inst.institution_create(
        code="HBL-PK", name="HBL", country="PK", currency="PKR", is_receiving=True
    )
    institution = new.signing_key.institution
    # an external bank keeps its own key: it witnesses the log like the others
    network.members["HBL-PK"] = Member(institution, new.private_key, new.signing_key.key_id)
    return institution


def integrate() -> None:
    ledger_integrate()


__all__ = [
    "FakeOrder",
    "accepted_order",
    "corridor",
    "credited_order",
    "fund",
    "integrate",
    "signed",
    "wallet_customer",
]
