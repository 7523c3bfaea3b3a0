"""Name checks over the partner API: the receiving bank reads what it was asked and answers
with the account's title; nobody else sees the check; the webhook names only its id."""

from __future__ import annotations

import json
import uuid

import pytest

from partner_sdk.simulator import account_title
from remittance.models import NameCheck
from remittance.services import name_checks
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db


def _check(corridor, identifier="+923001234567"):
    return name_checks.name_check_request(
        institution=corridor.network.valyou.institution,
        corridor_code="MY-PK",
        payout_method="mobile_wallet",
        identifier=identifier,
    )


def _post(member, url, body):
    return member.client().post(
        url, body, format="json", headers={"Idempotency-Key": str(uuid.uuid4())}
    )


def test_the_receiving_bank_reads_the_number_and_answers_with_the_title(corridor):
    webhook_endpoint_create(
        institution=corridor.network.tmb.institution, url="http://127.0.0.1:9/webhooks"
    )
    check = _check(corridor)
    delivery = WebhookDelivery.objects.get(event_type="name_check.requested")
    assert json.loads(delivery.payload)["data"] == {
        "check_id": str(check.pk),
        "payout_method": "mobile_wallet",
        "receiving_institution": "TMB-PK",
    }
    tmb = corridor.network.tmb
    seen = tmb.client().get(f"/api/v1/name-checks/{check.pk}").json()
    assert seen["account"] == {"type": "wallet", "identifier": "+923001234567"}
    assert seen["status"] == "pending" and seen["requesting_institution"] == "VALYOU-MY"
    answered = _post(
        tmb,
        f"/api/v1/name-checks/{check.pk}/answer",
        {"result": "matched", "account_title": "ALI  RAZA"},
    )
    assert answered.status_code == 200, answered.content
    assert answered.json()["account_title"] == "ALI RAZA"
    assert answered.json()["status"] == "matched"
    again = _post(tmb, f"/api/v1/name-checks/{check.pk}/answer", {"result": "not_found"})
    assert again.status_code == 409
    assert again.json()["code"] == "name_check_answered"
    check.refresh_from_db()
    assert name_checks.name_check_view(check=check).account_title == "ALI RAZA"


def test_a_matched_answer_needs_a_title(corridor):
    check = _check(corridor)
    response = _post(
        corridor.network.tmb, f"/api/v1/name-checks/{check.pk}/answer", {"result": "matched"}
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    check.refresh_from_db()
    assert check.status == "pending"


def test_other_institutions_see_no_check(corridor):
    check = _check(corridor)
    partner = corridor.network.partner
    assert partner.client().get(f"/api/v1/name-checks/{check.pk}").status_code == 404
    assert (
        _post(
            partner, f"/api/v1/name-checks/{check.pk}/answer", {"result": "not_found"}
        ).status_code
        == 404
    )
    assert partner.client().get("/api/v1/name-checks/not-a-uuid").status_code == 404
    assert NameCheck.objects.get().status == "pending"


def test_the_identifier_is_sealed_and_bound_to_its_check(corridor):
    from institutions.crypto import UnwrapError

    first, second = _check(corridor), _check(corridor, "+923217654321")
    assert b"923001234567" not in bytes(first.sealed)
    second.sealed = first.sealed  # a sealed blob moved onto another check does not open
    with pytest.raises(UnwrapError):
        name_checks.name_check_view(check=second)


def test_the_simulator_names_accounts_stably_and_knows_none_ending_0000():
    assert account_title("+923001234567") == account_title("+923001234567")
    assert account_title("+923001234567") != account_title("+923001234568")
    assert account_title("PK36SCBL0000001123450000") is None
