from __future__ import annotations

import base64
import copy
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kyc import services
from kyc.models import KycAccessLog, KycGrant
from ledger.models import Entry, QueuedStatement
from ledger.services.log import ledger_integrate
from partner_sdk import kyc as sdk

from .conftest import PASSPORT_SCAN, PII_STRINGS


def _url(kyc_ref: str) -> str:
    return f"/api/v1/kyc/{kyc_ref}/access"


@pytest.fixture
def linked(network, sender, tmb_key):
    services.kyc_link_parties(
        kyc_ref=sender.kyc_ref,
        order_ref="ord_7",
        institutions=[network.valyou.institution, network.tmb.institution],
    )
    return sender


@pytest.mark.django_db
def test_party_gets_a_sealed_record_only_its_private_key_opens(network, linked, tmb_key):
    response = network.tmb.client().post(
        _url(linked.kyc_ref), {"purpose": "travel_rule", "order_ref": "ord_7"}, format="json"
    )
    assert response.status_code == 200, response.content
    sealed = response.json()
    assert sealed["header"]["grantee"] == "TMB-PK"
    assert sealed["header"]["commitment"] == linked.commitment
    for pii in PII_STRINGS:
        assert pii not in response.content.decode()
    payload = sdk.open_sealed_record(
        sealed, tmb_key, expect_kyc_ref=linked.kyc_ref, expect_order_ref="ord_7"
    )
    assert payload["data"]["name"] == {
        "given": "Ahmad Faisal",
        "family": "Chaudhry",
        "original_script": "احمد فیصل چوہدری",
    }
    assert base64.b64decode(payload["documents"][0]["content"]) == PASSPORT_SCAN.content
    with pytest.raises(sdk.SealError, match="failed authentication"):
        sdk.open_sealed_record(sealed, X25519PrivateKey.generate())
    altered = copy.deepcopy(sealed)
    altered["header"]["purpose"] = "investigation"
    with pytest.raises(sdk.SealError, match="failed authentication"):
        sdk.open_sealed_record(altered, tmb_key)
    with pytest.raises(sdk.SealError, match="another order"):
        sdk.open_sealed_record(sealed, tmb_key, expect_order_ref="ord_8")


@pytest.mark.django_db
def test_a_share_is_granted_logged_and_stated_on_the_ledger_by_reference_only(network, linked):
    network.tmb.client().post(
        _url(linked.kyc_ref), {"purpose": "beneficiary_check", "order_ref": "ord_7"}, format="json"
    )
    grant = KycGrant.objects.get()
    assert (grant.institution, grant.purpose, grant.order_ref) == (
        network.tmb.institution,
        "beneficiary_check",
        "ord_7",
    )
    log = KycAccessLog.objects.get()
    assert (log.action, log.actor, log.purpose, log.order_ref) == (
        "share",
        "institution:TMB-PK",
        "beneficiary_check",
        "ord_7",
    )
    ledger_integrate()
    entry = Entry.objects.get(kind="kyc.shared")
    statement = json.loads(bytes(entry.leaf))["statement"]
    assert statement["signer"] == "HUB"
    assert statement["body"] == {
        "kyc_ref": linked.kyc_ref,
        "commitment": linked.commitment,
        "grantee": "TMB-PK",
        "purpose": "beneficiary_check",
        "order_ref": "ord_7",
        "grant_id": grant.grant_id,
    }
    leaves = b"".join(bytes(e.leaf) for e in Entry.objects.all())
    for pii in PII_STRINGS:
        assert pii.encode() not in leaves


@pytest.mark.django_db
def test_non_party_gets_404_indistinguishable_from_an_unknown_record(network, linked):
    body = {"purpose": "investigation", "order_ref": "ord_7"}
    not_party = network.partner.client().post(_url(linked.kyc_ref), body, format="json")
    unknown = network.partner.client().post(_url("kyc_" + "a" * 26), body, format="json")
    other_order = network.tmb.client().post(
        _url(linked.kyc_ref), dict(body, order_ref="ord_8"), format="json"
    )
    for response in (not_party, unknown, other_order):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"
    assert not_party.json() == unknown.json()
    assert not KycGrant.objects.exists()
    assert not QueuedStatement.objects.filter(kind="kyc.shared").exists()
    denied = KycAccessLog.objects.filter(action="denied").order_by("pk")
    assert [(d.actor, d.order_ref) for d in denied] == [
        ("institution:PARTNER-MY", "ord_7"),
        ("institution:TMB-PK", "ord_8"),
    ]


@pytest.mark.django_db
def test_missing_or_unknown_purpose_is_a_400(network, linked):
    client = network.tmb.client()
    missing = client.post(_url(linked.kyc_ref), {"order_ref": "ord_7"}, format="json")
    unknown = client.post(
        _url(linked.kyc_ref), {"purpose": "curiosity", "order_ref": "ord_7"}, format="json"
    )
    for response in (missing, unknown):
        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert "purpose" in response.json()["errors"]
    assert not KycAccessLog.objects.exists()
    unauthenticated = client.__class__().post(
        _url(linked.kyc_ref), {"purpose": "travel_rule", "order_ref": "ord_7"}, format="json"
    )
    assert unauthenticated.status_code == 401


@pytest.mark.django_db
def test_an_institution_without_a_sealing_key_is_told_so(network, linked):
    response = network.valyou.client().post(
        _url(linked.kyc_ref), {"purpose": "investigation", "order_ref": "ord_7"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "no_sealing_key"
    assert not KycAccessLog.objects.exists() and not KycGrant.objects.exists()
