from __future__ import annotations

import base64

import pytest

from ledger.services.log import ledger_integrate, statement_issue
from partner_sdk import merkle
from partner_sdk.note import cosign, parse_checkpoint, parse_note


@pytest.fixture
def log(network):
    for i in range(45):
        statement_issue(institution="VALYOU-MY", kind="test.note", body={"n": i})
    ledger_integrate(batch_size=16)
    return network


def _b(text: str) -> bytes:
    return base64.b64decode(text)


@pytest.mark.django_db
def test_checkpoint_is_a_plain_text_signed_note(log, client):
    response = client.get("/api/v1/ledger/checkpoint")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    text, signatures = parse_note(response.content.decode())
    assert parse_checkpoint(text).size == 49
    assert len(signatures) == 1


@pytest.mark.django_db
def test_inclusion_and_consistency_proofs_verify_against_published_roots(log, client):
    roots = {}
    for size in (17, 32, 49):
        leaves = [
            merkle.leaf_hash(bytes(e))
            for e in __import__("ledger.models", fromlist=["Entry"])
            .Entry.objects.filter(seq__lt=size)
            .order_by("seq")
            .values_list("leaf", flat=True)
        ]
        roots[size] = merkle.root_from_leaf_hashes(leaves)
    for index, size in [(0, 49), (16, 17), (31, 32), (48, 49), (20, 32)]:
        body = client.get(f"/api/v1/ledger/proofs/inclusion?index={index}&tree_size={size}").json()
        assert body["index"] == index and body["tree_size"] == size
        assert merkle.verify_inclusion(
            _b(body["leaf_hash"]), index, size, [_b(h) for h in body["hashes"]], roots[size]
        )
    for first, second in [(17, 49), (32, 49), (17, 32), (49, 49)]:
        body = client.get(f"/api/v1/ledger/proofs/consistency?first={first}&second={second}").json()
        assert merkle.verify_consistency(
            first, second, roots[first], roots[second], [_b(h) for h in body["hashes"]]
        )


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/ledger/proofs/inclusion?index=49&tree_size=49",
        "/api/v1/ledger/proofs/inclusion?index=0&tree_size=50",
        "/api/v1/ledger/proofs/inclusion?index=-1&tree_size=10",
        "/api/v1/ledger/proofs/inclusion?index=abc&tree_size=10",
        "/api/v1/ledger/proofs/inclusion?tree_size=10",
        "/api/v1/ledger/proofs/inclusion?index=0&tree_size=0",
        "/api/v1/ledger/proofs/consistency?first=10&second=50",
        "/api/v1/ledger/proofs/consistency?first=20&second=10",
        "/api/v1/ledger/proofs/consistency?first=0&second=10",
        "/api/v1/ledger/proofs/consistency?first=x&second=10",
        "/api/v1/ledger/proofs/consistency?first=99999999999999999999999&second=10",
    ],
)
@pytest.mark.django_db
def test_bad_proof_parameters_are_400_problems(log, client, url):
    response = client.get(url)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] in {"validation_error", "invalid_proof_request"}


@pytest.mark.django_db
def test_entries_need_an_institution_and_return_exact_leaves(log, client):
    assert client.get("/api/v1/ledger/entries").status_code == 401
    body = log.tmb.client().get("/api/v1/ledger/entries?start=40&limit=5").json()
    assert [e["seq"] for e in body["entries"]] == [40, 41, 42, 43, 44]
    assert body["tree_size"] == 49
    assert merkle.leaf_hash(body["entries"][0]["leaf"].encode()) == _b(
        log.tmb.client()
        .get("/api/v1/ledger/proofs/inclusion?index=40&tree_size=49")
        .json()["leaf_hash"]
    )


@pytest.mark.django_db
def test_witness_cosigns_and_the_checkpoint_carries_it(log, client):
    note = client.get("/api/v1/ledger/checkpoint").content.decode()
    text, _ = parse_note(note)
    line = cosign(text, name="TMB-PK", private_key=log.tmb.private_key, timestamp=1_790_000_000)
    tmb = log.tmb.client()
    body = {"checkpoint": text, "cosignature": line}
    url = "/api/v1/ledger/cosignatures"
    missing_key = tmb.post(url, body, format="json")
    assert missing_key.status_code == 400
    assert missing_key.json()["code"] == "idempotency_key_required"
    created = tmb.post(url, body, format="json", headers={"Idempotency-Key": "c-1"})
    assert created.status_code == 201, created.content
    again = tmb.post(url, body, format="json", headers={"Idempotency-Key": "c-1"})
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    other = {**body, "cosignature": line + " "}
    reused = tmb.post(url, other, format="json", headers={"Idempotency-Key": "c-1"})
    assert reused.status_code == 409
    assert reused.json()["code"] == "idempotency_key_reused"
    fresh = tmb.post(url, body, format="json", headers={"Idempotency-Key": "c-2"})
    assert fresh.status_code == 201  # cosigning is idempotent in itself too
    served = client.get("/api/v1/ledger/checkpoint").content.decode()
    assert line in served
    _, signatures = parse_note(served)
    assert [s.name for s in signatures] == ["remit.example/ledger/v1", "TMB-PK"]


@pytest.mark.django_db
def test_cosignature_on_a_checkpoint_the_log_never_published_is_refused(log, client):
    text, _ = parse_note(client.get("/api/v1/ledger/checkpoint").content.decode())
    origin, size, _root = text.splitlines()
    forged = f"{origin}\n{size}\n{base64.b64encode(b'x' * 32).decode()}\n"
    line = cosign(forged, name="TMB-PK", private_key=log.tmb.private_key, timestamp=1)
    response = log.tmb.client().post(
        "/api/v1/ledger/cosignatures",
        {"checkpoint": forged, "cosignature": line},
        format="json",
        headers={"Idempotency-Key": "k"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "inconsistent_checkpoint"


@pytest.mark.django_db
def test_cosignature_signed_by_someone_else_is_refused(log, client):
    text, _ = parse_note(client.get("/api/v1/ledger/checkpoint").content.decode())
    line = cosign(text, name="TMB-PK", private_key=log.partner.private_key, timestamp=1)
    response = log.tmb.client().post(
        "/api/v1/ledger/cosignatures",
        {"checkpoint": text, "cosignature": line},
        format="json",
        headers={"Idempotency-Key": "k"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"


@pytest.mark.django_db
def test_empty_log_has_no_checkpoint_yet(client):
    response = client.get("/api/v1/ledger/checkpoint")
    assert response.status_code == 404
    assert response.json()["code"] == "log_empty"
