"""The hub's partner API from a bank's side: what a sending or receiving bank runs.

No Django, no server imports: HTTP (httpx) and the public wire format only.

- Every POST carries an `Idempotency-Key` (a uuid4 per logical call, reused by that call's own
  retries), so a retried POST can never act twice.
- Transient failures are retried with exponential backoff and jitter: connection errors,
  timeouts, 5xx, 429 (honouring `Retry-After`) and 409 `request_in_progress` (the first try is
  still running). Any other 4xx is an answer, not a glitch, and is raised at once.
- Errors are RFC 9457 problem JSON, raised as `HubError` (subclasses by code or status:
  `NotFound`, `Conflict`, `InvalidSignature`, `QuoteExpired`, …).
- Steps that move an order carry the ledger statement this bank signed (DESIGN.md §4/§6).

    client = HubClient.from_credentials("var/demo/TMB-PK.json")
    order = client.get_order("ord_…")
    client.accept(order["id"])
    client.credit(order["id"], "EP-1234", order["receive_amount"])
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from partner_sdk.note import cosign, parse_note
from partner_sdk.wire import decode_b64, encode_b64, format_time, make_statement, sign_statement

API_PREFIX = "/api/v1"
USER_AGENT = "remit-partner-sdk/1"
BACKOFF_BASE = 0.2  # seconds; doubled per retry, plus up to 50% jitter
BACKOFF_CAP = 5.0
RETRY_AFTER_CAP = 30.0
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_jitter = random.SystemRandom()


# --- errors --------------------------------------------------------------------------------


class HubError(Exception):
    """The hub refused or failed a request. `code` is the problem's stable code (see
    docs/api.md); `body` the whole problem document (or the raw text if it was not JSON)."""

    def __init__(
        self, status: int, code: str, title: str, detail: str | None, body: Any = None
    ) -> None:
        super().__init__(f"{status} {code}: {detail or title}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.body = body


class BadRequest(HubError):
    pass


class ValidationFailed(BadRequest):
    pass


class InvalidSignature(BadRequest):
    pass


class AuthenticationFailed(HubError):
    pass


class PermissionDenied(HubError):
    pass


class NotFound(HubError):
    pass


class Conflict(HubError):
    pass


class Gone(HubError):
    pass


class RateLimited(HubError):
    pass


class ServerError(HubError):
    pass


class QuoteExpired(HubError):
    pass


class InsufficientFunds(HubError):
    pass


class LimitExceeded(HubError):
    pass


class HubUnavailable(HubError):
    """No answer at all after every retry (connection refused, timeouts)."""


_BY_CODE: dict[str, type[HubError]] = {
    "validation_error": ValidationFailed,
    "invalid_signature": InvalidSignature,
    "not_authenticated": AuthenticationFailed,
    "authentication_failed": AuthenticationFailed,
    "permission_denied": PermissionDenied,
    "not_found": NotFound,
    "conflict": Conflict,
    "idempotency_key_reused": Conflict,
    "request_in_progress": Conflict,
    "quote_expired": QuoteExpired,
    "insufficient_funds": InsufficientFunds,
    "limit_exceeded": LimitExceeded,
    "throttled": RateLimited,
}
_BY_STATUS: dict[int, type[HubError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    410: Gone,
    429: RateLimited,
}


def _error_class(status: int, code: str) -> type[HubError]:
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, HubError)


def error_from_response(response: httpx.Response) -> HubError:
    """The HubError a non-2xx response stands for (problem JSON, or whatever came back)."""
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = response.text[:2000]
    if isinstance(body, dict):
        code = str(body.get("code") or "error")
        title = str(body.get("title") or response.reason_phrase)
        detail = body.get("detail")
    else:
        code, title, detail = "error", response.reason_phrase, (body or None)
    cls = _error_class(response.status_code, code)
    return cls(response.status_code, code, title, detail, body)


# --- the client ----------------------------------------------------------------------------


def money(amount: Decimal | str | int, currency: str) -> dict[str, str]:
    """`{"amount": "1000.00", "currency": "MYR"}`; floats are refused (use Decimal or str)."""
    if isinstance(amount, float):
        raise TypeError("amounts are decimal strings or Decimal, never float")
    return {"amount": str(amount), "currency": currency}


class HubClient:
    """A bank's client for the hub. Thread-safe (one httpx connection pool, no shared state
    beyond it); share one per process."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        institution: str,
        signing_key: Ed25519PrivateKey,
        key_id: str,
        timeout: float = 10,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.institution = institution
        self.signing_key = signing_key
        self.key_id = key_id
        self.retries = retries
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={"authorization": f"Bearer {api_key}", "user-agent": USER_AGENT},
            transport=transport,
        )

    @classmethod
    def from_credentials(cls, path: str | Path, **kwargs: Any) -> HubClient:
        """From an onboarding file (var/demo/<CODE>.json): institution, hub_url, api_key,
        signing_key (base64 raw Ed25519 private key), key_id."""
        creds = json.loads(Path(path).read_text())
        key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(creds["signing_key"]))
        return cls(
            kwargs.pop("base_url", None) or creds["hub_url"],
            creds["api_key"],
            institution=creds["institution"],
            signing_key=key,
            key_id=creds["key_id"],
            **kwargs,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ---

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """One logical call, retried on transient failures; returns the 2xx response or raises
        HubError. POSTs get an Idempotency-Key (fresh unless given) kept across retries."""
        headers: dict[str, str] = {}
        if method.upper() == "POST":
            headers["idempotency-key"] = idempotency_key or str(uuid.uuid4())
        url = path if path.startswith(("http://", "https://")) else API_PREFIX + path
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, url, json=json_body, params=clean_params, headers=headers
                )
            except httpx.TransportError as exc:  # connect errors, timeouts, broken connections
                if attempt >= self.retries:
                    raise HubUnavailable(
                        0, "unavailable", "Hub unavailable", f"{type(exc).__name__}: {exc}"
                    ) from exc
                self._sleep(attempt, None)
                attempt += 1
                continue
            if response.is_success:
                return response
            error = error_from_response(response)
            if attempt < self.retries and _transient(response.status_code, error.code):
                self._sleep(attempt, response.headers.get("retry-after"))
                attempt += 1
                continue
            raise error

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)
        delay += delay * _jitter.uniform(0, 0.5)
        if retry_after:
            with contextlib.suppress(ValueError):  # an HTTP date: the backoff will do
                delay = max(delay, min(float(retry_after), RETRY_AFTER_CAP))
        time.sleep(delay)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    # --- signing ---

    def sign(self, kind: str, body: dict[str, Any], *, at: datetime | None = None) -> dict:
        """`{"statement": …, "signature": base64}` — a ledger statement this bank signs."""
        statement = make_statement(
            kind=kind,
            at=format_time(at or datetime.now(UTC)),
            signer=self.institution,
            key_id=self.key_id,
            body=body,
        )
        return {
            "statement": statement,
            "signature": encode_b64(sign_statement(self.signing_key, statement)),
        }

    # --- quotes and orders ---

    def create_quote(
        self,
        *,
        corridor: str = "MY-PK",
        send_amount: dict[str, str] | None = None,
        receive_amount: dict[str, str] | None = None,
        payout_method: str = "mobile_wallet",
    ) -> dict:
        if (send_amount is None) == (receive_amount is None):
            raise ValueError("give exactly one of send_amount and receive_amount")
        body: dict[str, Any] = {"corridor": corridor, "payout_method": payout_method}
        if send_amount is not None:
            body["send_amount"] = send_amount
        else:
            body["receive_amount"] = receive_amount
        return self._json("POST", "/quotes", json_body=body)

    def get_quote(self, quote_id: str) -> dict:
        return self._json("GET", f"/quotes/{quote_id}")

    def submit_order(
        self,
        *,
        order_id: str,
        quote_id: str,
        sender_kyc_ref: str,
        beneficiary_kyc_ref: str,
        body_extra: dict[str, Any] | None = None,
        quote: dict[str, Any] | None = None,
    ) -> dict:
        """Post an order for this bank's own customer, with the `order.submitted` statement it
        signs (the hub checks the statement carries the request's facts). Pass the `quote`
        you got to sign its amounts and rate as well, so they are on the log under your key."""
        facts: dict[str, Any] = {
            "order_id": order_id,
            "quote_id": quote_id,
            "sender_kyc_ref": sender_kyc_ref,
            "beneficiary_kyc_ref": beneficiary_kyc_ref,
        }
        if quote is not None:
            facts.update({k: quote[k] for k in ("send_amount", "fee", "receive_amount", "rate")})
        body = {**facts, **(body_extra or {}), **self.sign("order.submitted", facts)}
        return self._json("POST", "/orders", json_body=body)

    def accept(self, order_id: str) -> dict:
        signed = self.sign("order.accepted", {"order_id": order_id})
        return self._json("POST", f"/orders/{order_id}/accept", json_body=signed)

    def reject(self, order_id: str, reason_code: str) -> dict:
        signed = self.sign("order.rejected", {"order_id": order_id, "reason_code": reason_code})
        body = {"reason_code": reason_code, **signed}
        return self._json("POST", f"/orders/{order_id}/reject", json_body=body)

    def credit(self, order_id: str, payout_reference: str, receive_amount: dict[str, str]) -> dict:
        facts = {
            "order_id": order_id,
            "payout_reference": payout_reference,
            "receive_amount": receive_amount,
        }
        body = {
            "payout_reference": payout_reference,
            "receive_amount": receive_amount,
            **self.sign("order.credited", facts),
        }
        return self._json("POST", f"/orders/{order_id}/credit", json_body=body)

    def get_order(self, order_id: str) -> dict:
        return self._json("GET", f"/orders/{order_id}")

    # --- name checks (receiving bank) ---

    def get_name_check(self, check_id: str) -> dict:
        """What a sending bank asks about: `{"id", "status", "account": {"type", "identifier"},
        …}` (webhook `name_check.requested` carries only the id)."""
        return self._json("GET", f"/name-checks/{check_id}")

    def answer_name_check(self, check_id: str, *, account_title: str | None) -> dict:
        """The account's title as the bank holds it, or None: no such account."""
        body: dict[str, Any] = (
            {"result": "matched", "account_title": account_title}
            if account_title
            else {"result": "not_found"}
        )
        return self._json("POST", f"/name-checks/{check_id}/answer", json_body=body)

    def list_orders(
        self,
        status: str | None = None,
        since: datetime | str | None = None,
        cursor: str | None = None,
    ) -> dict:
        """One page: `{"results": [...], "next": cursor or None}`."""
        if isinstance(since, datetime):
            since = format_time(since)
        if cursor and cursor.startswith(("http://", "https://")):
            return self._json("GET", cursor)
        params = {"status": status, "since": since, "cursor": cursor}
        return self._json("GET", "/orders", params=params)

    def iter_orders(
        self, status: str | None = None, since: datetime | str | None = None
    ) -> Iterator[dict]:
        """Every matching order, following the cursor."""
        cursor: str | None = None
        while True:
            page = self.list_orders(status=status, since=since, cursor=cursor)
            yield from page["results"]
            cursor = page.get("next")
            if not cursor:
                return

    # --- KYC, ledger, webhooks ---

    def request_kyc(self, kyc_ref: str, *, purpose: str, order_ref: str) -> dict:
        """The KYC record sealed to this bank's X25519 key (open it with
        `partner_sdk.kyc.open_sealed_record`); purpose e.g. `beneficiary_check`."""
        return self._json(
            "POST", f"/kyc/{kyc_ref}/access", json_body={"purpose": purpose, "order_ref": order_ref}
        )

    def checkpoint(self, witnessed: int | None = None) -> str:
        """The latest signed checkpoint note, with any witness cosignatures; with `witnessed`,
        the latest one cosigned by at least that many witnesses (404 `not_witnessed` if none)."""
        params = None if witnessed is None else {"witnessed": witnessed}
        return self.request("GET", "/ledger/checkpoint", params=params).text

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 consistency proof hashes between two tree sizes (both at least 1)."""
        body = self._json(
            "GET", "/ledger/proofs/consistency", params={"first": first, "second": second}
        )
        return [decode_b64(h) for h in body["hashes"]]

    def entries(self, start: int, limit: int = 1000) -> list[bytes]:
        """Up to `limit` (≤ 1000) entries from seq `start`, as their exact leaf bytes, in seq
        order. Checking them (seq, canonical form, signatures) is the caller's job."""
        body = self._json("GET", "/ledger/entries", params={"start": start, "limit": limit})
        return [item["leaf"].encode() for item in body["entries"]]

    def cosignature_submit(self, checkpoint_text: str, cosignature_line: str) -> dict:
        """Hand the hub this bank's cosignature line on a checkpoint it published."""
        return self._json(
            "POST",
            "/ledger/cosignatures",
            json_body={"checkpoint": checkpoint_text, "cosignature": cosignature_line},
        )

    def witnesses(self) -> list[dict]:
        """Every witness the hub knows, each with the latest checkpoint it cosigned (the note
        with the operator's line and that witness's line) and its lag."""
        return self._json("GET", "/ledger/witnesses")["witnesses"]

    def cosign_latest(self, timestamp: int | None = None) -> dict:
        """Cosign the latest checkpoint without checking anything (cosignature/v1, name = this
        bank's code). A witness checks first: `python -m partner_sdk.witness` verifies the
        operator's signature, the consistency proof and every new entry before it cosigns."""
        text, _ = parse_note(self.checkpoint())
        line = cosign(
            text,
            name=self.institution,
            private_key=self.signing_key,
            timestamp=int(time.time()) if timestamp is None else timestamp,
        )
        return self.cosignature_submit(text, line)

    def register_webhook(self, url: str, event_types: list[str] | None = None) -> dict:
        """Register an endpoint; the answer's `secret` (whsec_…) is shown this once."""
        body: dict[str, Any] = {"url": url}
        if event_types:
            body["event_types"] = event_types
        return self._json("POST", "/webhook-endpoints", json_body=body)

    def list_webhooks(self) -> list[dict]:
        return self._json("GET", "/webhook-endpoints")["results"]

    def delete_webhook(self, endpoint_id: int) -> None:
        self.request("DELETE", f"/webhook-endpoints/{endpoint_id}")


def _transient(status: int, code: str) -> bool:
    return status in _RETRY_STATUSES or (status == 409 and code == "request_in_progress")
