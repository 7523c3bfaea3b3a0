"""Compliance fixtures: staff per role, a hosted customer sending, a held order."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from core.money import Money
from kyc import services as kyc
from remittance.models import RemittanceOrder
from remittance.services.orders import order_submit
from remittance.services.quotes import quote_create
from tests.kyc.conftest import BENEFICIARY, SAMPLES
from tests.remittance.conftest import corridor, wallet_customer  # noqa: F401  (fixtures)

LISTED = {"given": "Mohammed Abdulrahman", "family": "Qurayshi"}  # alias on the UN sample


@pytest.fixture
def staff(db) -> Callable[..., tuple[object, Client]]:
    """staff(role, name=None) → (user, logged-in client); role None = superuser."""
    made: dict[str, int] = {}

    def make(role: str | None, name: str | None = None):
        made[role or "su"] = made.get(role or "su", 0) + 1
        username = name or f"{role or 'su'}{made[role or 'su']}"
        User = get_user_model()
        if role is None:
            user = User.objects.create_superuser(username, f"{username}@example.com", "pw-123456")
        else:
            user = User.objects.create_user(username, password="pw-123456", is_staff=True)
            user.groups.add(Group.objects.get(name=role))
        client = Client()
        client.force_login(user)
        return user, client

    return make


def beneficiary(owner, name: dict | None = None) -> str:
    data = copy.deepcopy(BENEFICIARY)
    if name is not None:
        data["name"] = name
    return kyc.kyc_record_create(owner=owner, role="beneficiary", data=data).kyc_ref


def send(customer, beneficiary_ref: str, amount: str = "100.00") -> RemittanceOrder:
    quote = quote_create(
        institution=customer.institution,
        customer=customer,
        corridor_code="MY-PK",
        payout_method="mobile_wallet",
        send_amount=Money.parse(amount, "MYR"),
    )
    return order_submit(
        sending_institution=customer.institution,
        order_id=uuid.uuid4(),
        quote_id=quote.pk,
        sender_kyc_ref=customer.kyc_ref,
        beneficiary_kyc_ref=beneficiary_ref,
        customer=customer,
    )


@pytest.fixture
def sample_lists(db) -> None:
    kyc.screening_list_import(
        fmt="un-xml", content=(SAMPLES / "un_consolidated.xml").read_bytes(), actor="test"
    )


@pytest.fixture
def held_order(wallet_customer, sample_lists) -> RemittanceOrder:  # noqa: F811
    """RM 100.00 from a hosted wallet to a name on the sample UN list: held (screening)."""
    ref = beneficiary(wallet_customer.institution, LISTED)
    order = send(wallet_customer, ref)
    assert order.status == "held" and "screening" in order.hold_reason
    return order
