"""The OpenAPI schema (core/schema.py) lists every problem an operation can answer."""

from __future__ import annotations

import re
import uuid

import pytest

from core.money import AMOUNT_PATTERN, CURRENCY_PATTERN
from kyc.crypto import new_ref
from remittance.services.quotes import _quote_id

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def codes(operation: dict, status: int) -> set[str]:
    """The `code`s the operation's `status` response lists."""
    response = operation["responses"][str(status)]
    assert list(response["content"]) == [PROBLEM]
    ref, narrowed = response["content"][PROBLEM]["schema"]["allOf"]
    assert ref == {"$ref": "#/components/schemas/Problem"}
    assert narrowed["properties"]["status"]["enum"] == [status]
    return set(narrowed["properties"]["code"]["enum"])


def test_every_operation_lists_its_problems_as_problem_json(schema):
    for name, operation in operations(schema):
        errors = [int(s) for s in operation["responses"] if int(s) >= 400]
        assert any(400 <= s < 500 for s in errors), name
        for status in errors:
            assert codes(operation, status), (name, status)
        assert "uri_too_long" in codes(operation, 414), name
        if operation.get("security") and {} not in operation["security"]:
            assert codes(operation, 401) == {"authentication_failed", "not_authenticated"}, name
            assert codes(operation, 429) == {"throttled"}, name
        if "requestBody" in operation:
            assert {"validation_error", "malformed_request"} <= codes(operation, 400), name
            assert codes(operation, 415) == {"unsupported_media_type"}, name
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            assert "not_found" in codes(operation, 404), name
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "code"}


def test_order_submit_lists_its_conflicts_and_refusals(schema):
    submit = schema["paths"]["/api/v1/orders"]["post"]
    assert {
        "quote_used",
        "order_id_unavailable",
        "idempotency_key_reused",
        "request_in_progress",
    } <= codes(submit, 409)
    assert {
        "quote_expired",
        "kyc_not_verified",
        "limit_exceeded",
        "travel_rule_incomplete",
        "liquidity_exceeded",
        "liquidity_not_configured",
        "insufficient_funds",
    } <= codes(submit, 422)
    assert {
        "validation_error",
        "malformed_request",
        "idempotency_key_required",
        "invalid_signature",
        "invalid_statement",
        "statement_mismatch",
    } <= codes(submit, 400)
    assert codes(submit, 404) == {"not_found"}  # the quote or a KYC record is not yours
    assert "wrong_party" not in str(submit["responses"])  # only the receiver's steps have it
    accept = schema["paths"]["/api/v1/orders/{order_id}/accept"]["post"]
    assert codes(accept, 403) == {"wrong_party"}
    assert "invalid_transition" in codes(accept, 409)


def test_every_idempotent_post_asks_for_an_idempotency_key(schema):
    for name, operation in operations(schema):
        headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
        if name == "POST /api/v1/kyc/{kyc_ref}/access":  # reads; not behind @idempotent
            assert headers == [], name
        elif name.startswith("POST"):
            assert [(h["name"], h["required"]) for h in headers] == [("Idempotency-Key", True)]
            assert "idempotency_key_required" in codes(operation, 400), name
        else:
            assert headers == [], name


def test_request_schemas_state_the_rules_the_api_enforces(schema):
    components = schema["components"]["schemas"]
    quote = components["QuoteIn"]
    assert quote["oneOf"] == [{"required": ["send_amount"]}, {"required": ["receive_amount"]}]
    money = quote["properties"]["send_amount"]["properties"]
    assert money["amount"]["pattern"] == AMOUNT_PATTERN
    assert money["currency"]["pattern"] == CURRENCY_PATTERN
    order = components["OrderIn"]["properties"]
    assert order["order_id"]["format"] == "uuid"
    # the patterns describe the ids the hub issues
    assert re.fullmatch(order["quote_id"]["pattern"], _quote_id())
    assert re.fullmatch(order["sender_kyc_ref"]["pattern"], new_ref("kyc"))
    paths = schema["paths"]
    [order_id] = paths["/api/v1/orders/{order_id}"]["get"]["parameters"]
    assert order_id["schema"]["format"] == "uuid"
    [kyc_ref] = paths["/api/v1/kyc/{kyc_ref}/access"]["post"]["parameters"]
    assert re.fullmatch(kyc_ref["schema"]["pattern"], new_ref("kyc"))


@pytest.mark.django_db
def test_refusals_the_api_answers_are_the_ones_its_schema_lists(schema, network):
    partner = network.partner.client()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    two_amounts = {
        "payout_method": "mobile_wallet",
        "send_amount": {"amount": "100.00", "currency": "MYR"},
        "receive_amount": {"amount": "100.00", "currency": "PKR"},
    }
    unknown_order = f"/api/v1/orders/{uuid.uuid4()}/accept"
    requests = [
        ("post", "/api/v1/quotes", "/api/v1/quotes", two_amounts, key),
        ("post", "/api/v1/quotes", "/api/v1/quotes", {"payout_method": "x"}, {}),
        (
            "post",
            "/api/v1/quotes",
            "/api/v1/quotes",
            {"corridor": "XX-YY", "send_amount": two_amounts["send_amount"], "payout_method": "x"},
            {"Idempotency-Key": str(uuid.uuid4())},
        ),
        (
            "post",
            "/api/v1/orders",
            "/api/v1/orders",
            {
                "order_id": str(uuid.uuid4()),
                "quote_id": "qt_" + "0" * 24,
                "sender_kyc_ref": new_ref("kyc"),
                "beneficiary_kyc_ref": new_ref("kyc"),
                "statement": {"kind": "order.submitted"},
                "signature": "AAAA",
            },
            {"Idempotency-Key": str(uuid.uuid4())},
        ),
        ("post", "/api/v1/orders/{order_id}/accept", unknown_order, {}, key),
        ("get", "/api/v1/quotes/{quote_id}", "/api/v1/quotes/qt_nope", None, {}),
        ("get", "/api/v1/orders", "/api/v1/orders?cursor=nope", None, {}),
        ("get", "/api/v1/orders", "/api/v1/orders?x=%00", None, {}),  # config/middleware.py
        ("get", "/api/v1/ledger/checkpoint", "/api/v1/ledger/checkpoint", None, {}),
    ]
    seen = set()
    for method, path, url, body, headers in requests:
        response = getattr(partner, method)(url, body, format="json", headers=headers)
        assert response["Content-Type"] == PROBLEM, (url, response.content)
        problem = response.json()
        operation = schema["paths"][path][method]
        assert problem["code"] in codes(operation, response.status_code), (url, problem)
        seen.add(problem["code"])
    assert seen == {
        "validation_error",
        "idempotency_key_required",
        "not_found",
        "invalid_cursor",
        "invalid_request",
        "log_empty",
    }
