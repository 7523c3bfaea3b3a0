"""Ledger wire format v1: key ids, times, statements, signatures and canonical entries."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from partner_sdk.wire import (
    STATEMENT_DOMAIN,
    WireFormatError,
    canonical_json,
    entry_bytes,
    format_time,
    key_id,
    make_statement,
    parse_entry,
    parse_time,
    raw_public_key,
    sign_statement,
    signing_input,
    validate_statement,
    verify_statement,
)

# RFC 8032 §7.1 TEST 1 key pair: a fixed, public Ed25519 key for known answers.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


@pytest.fixture
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(RFC8032_SEED)


@pytest.fixture
def statement(private_key: Ed25519PrivateKey) -> dict:
    return make_statement(
        kind="order.submitted",
        at=datetime(2026, 11, 22, 2, 5, 45, 123456, tzinfo=UTC),
        signer="VALYOU-MY",
        key_id=key_id(raw_public_key(private_key)),
        body={"order_id": "ord_1", "amount": {"value": "1500.00", "currency": "MYR"}},
    )


def test_key_id_is_first_8_bytes_of_sha256_in_hex(private_key: Ed25519PrivateKey) -> None:
    assert raw_public_key(private_key) == RFC8032_PUBLIC
    assert key_id(RFC8032_PUBLIC) == hashlib.sha256(RFC8032_PUBLIC).hexdigest()[:16]
    assert len(key_id(RFC8032_PUBLIC)) == 16
    with pytest.raises(WireFormatError):
        key_id(RFC8032_PUBLIC[:31])


def test_format_time_is_utc_z_milliseconds() -> None:
    at = datetime(2026, 11, 22, 2, 5, 45, 123999, tzinfo=UTC)
    assert format_time(at) == "2026-11-22T02:05:45.123Z"
    plus8 = datetime(2026, 11, 22, 10, 5, 45, tzinfo=timezone(timedelta(hours=8)))
    assert format_time(plus8) == "2026-11-22T02:05:45.000Z"
    with pytest.raises(WireFormatError):
        format_time(datetime(2026, 11, 22, 2, 5, 45))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T02:05:45Z", datetime(2026, 11, 22, 2, 5, 45, tzinfo=UTC)),
        ("2026-11-22T02:05:45.123Z", datetime(2026, 11, 22, 2, 5, 45, 123000, tzinfo=UTC)),
        ("2026-11-22t02:05:45.1234567z", datetime(2026, 11, 22, 2, 5, 45, 123456, tzinfo=UTC)),
    ],
)
def test_parse_time_accepts_rfc3339_utc(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2026-11-22T02:05:45", "2026-11-22T02:05:45+00:00", "2026-13-01T00:00:00Z", "2026-11-22", 5],
)
def test_parse_time_rejects_non_utc_or_invalid(text: object) -> None:
    with pytest.raises(WireFormatError):
        parse_time(text)  # type: ignore[arg-type]


def test_statement_shape(statement: dict) -> None:
    assert list(statement) == ["v", "kind", "at", "signer", "key_id", "body"]
    assert statement["v"] == 1
    assert statement["at"] == "2026-11-22T02:05:45.123Z"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "Order.Submitted"),
        ("kind", "submitted"),
        ("kind", "order..submitted"),
        ("body", ["not", "a", "dict"]),
        ("body", {"amount": 1.5}),
        ("at", "yesterday"),
        ("key_id", "ABCDEF0123456789"),
        ("signer", ""),
    ],
)
def test_make_statement_rejects_bad_fields(statement: dict, field: str, value: object) -> None:
    fields = {name: statement[name] for name in ("kind", "at", "signer", "key_id", "body")}
    fields[field] = value
    with pytest.raises(WireFormatError):
        make_statement(**fields)


def test_validate_statement_requires_exact_fields_and_version(statement: dict) -> None:
    with pytest.raises(WireFormatError):
        validate_statement({**statement, "extra": 1})
    with pytest.raises(WireFormatError):
        validate_statement({**statement, "v": 2})
    with pytest.raises(WireFormatError):
        validate_statement({**statement, "v": True})


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1, "x"], "c": None}}) == (
        b'{"a":{"c":null,"d":[1,"x"]},"b":1}'
    )
    assert canonical_json({"é": "\u20ac"}) == '{"é":"€"}'.encode()
    with pytest.raises(WireFormatError):
        canonical_json({"n": 2**53})
    with pytest.raises(WireFormatError):
        canonical_json({"f": 0.5})


def test_signing_input_is_domain_then_jcs(statement: dict) -> None:
    assert signing_input(statement) == STATEMENT_DOMAIN + rfc8785.dumps(statement)
    assert STATEMENT_DOMAIN == b"remit-ledger/v1/statement\n"


def test_sign_and_verify_round_trip(private_key: Ed25519PrivateKey, statement: dict) -> None:
    signature = sign_statement(private_key, statement)
    assert len(signature) == 64
    assert verify_statement(RFC8032_PUBLIC, statement, signature)
    # Key order of the Python dict does not matter: JCS is what is signed.
    reordered = dict(reversed(list(statement.items())))
    assert verify_statement(RFC8032_PUBLIC, reordered, signature)


def test_signature_is_domain_separated(private_key: Ed25519PrivateKey, statement: dict) -> None:
    bare = private_key.sign(rfc8785.dumps(statement))
    assert not verify_statement(RFC8032_PUBLIC, statement, bare)
    prefixed = private_key.sign(STATEMENT_DOMAIN + rfc8785.dumps(statement))
    assert verify_statement(RFC8032_PUBLIC, statement, prefixed)


def test_tampered_statement_fails(private_key: Ed25519PrivateKey, statement: dict) -> None:
    signature = sign_statement(private_key, statement)
    tampered = {**statement, "body": {**statement["body"], "order_id": "ord_2"}}
    assert not verify_statement(RFC8032_PUBLIC, tampered, signature)


@pytest.mark.parametrize(
    ("public_key", "signature"),
    [
        (RFC8032_PUBLIC, b""),
        (RFC8032_PUBLIC, b"\x00" * 63),
        (RFC8032_PUBLIC, b"\xff" * 64),
        (RFC8032_PUBLIC, "not bytes"),
        (b"\x00" * 31, b"\x00" * 64),
        (b"", b"\x00" * 64),
        (None, None),
    ],
)
def test_malformed_keys_and_signatures_return_false(
    statement: dict, public_key: object, signature: object
) -> None:
    assert verify_statement(public_key, statement, signature) is False  # type: ignore[arg-type]


def test_unserializable_statement_returns_false(private_key: Ed25519PrivateKey) -> None:
    assert verify_statement(RFC8032_PUBLIC, {"x": float("nan")}, b"\x00" * 64) is False
    assert verify_statement(RFC8032_PUBLIC, "not a dict", b"\x00" * 64) is False  # type: ignore[arg-type]


def test_entry_bytes_layout(private_key: Ed25519PrivateKey, statement: dict) -> None:
    signature = sign_statement(private_key, statement)
    leaf = entry_bytes(7, statement, signature)
    expected_sig = base64.b64encode(signature).decode()
    assert leaf.startswith(b'{"seq":7,"sig":"' + expected_sig.encode() + b'","statement":{')
    assert json.loads(leaf) == {"seq": 7, "statement": statement, "sig": expected_sig}
    entry = parse_entry(leaf)
    assert (entry.seq, entry.statement, entry.signature, entry.raw) == (
        7,
        statement,
        signature,
        leaf,
    )


def test_parse_entry_rejects_non_canonical_forms(
    private_key: Ed25519PrivateKey, statement: dict
) -> None:
    signature = sign_statement(private_key, statement)
    leaf = entry_bytes(0, statement, signature)
    obj = json.loads(leaf)
    non_canonical = [
        json.dumps(obj).encode(),  # whitespace
        json.dumps(dict(reversed(obj.items())), separators=(",", ":")).encode(),  # key order
        leaf + b"\n",
        b" " + leaf,
        leaf.replace(b'"seq":0', b'"seq":0.0'),
        leaf.replace(b'"seq":0', b'"seq":0,"seq":0'),  # duplicate key
    ]
    for line in non_canonical:
        with pytest.raises(WireFormatError):
            parse_entry(line)


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"not json",
        b"[]",
        b'{"seq":0}',
        b'{"seq":-1,"sig":"","statement":{}}',
        b'{"seq":true,"sig":"","statement":{}}',
        b'{"seq":0,"sig":"AAAA","statement":{}}',
        b'{"seq":0,"sig":"!!!!","statement":{}}',
        b'{"seq":0,"sig":"' + base64.b64encode(b"\x00" * 64) + b'","statement":[]}',
        b'{"seq":0,"sig":"' + base64.b64encode(b"\x00" * 64) + b'","statement":{"x":NaN}}',
        b"\xff\xfe",
    ],
)
def test_parse_entry_rejects_malformed(line: bytes) -> None:
    with pytest.raises(WireFormatError):
        parse_entry(line)


def test_parse_entry_rejects_non_canonical_base64(
    private_key: Ed25519PrivateKey, statement: dict
) -> None:
    signature = sign_statement(private_key, statement)
    sig_b64 = base64.b64encode(signature).decode()
    # 64 bytes encode to 86 chars + "=="; the last char carries 2 unused bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(sig_b64[85])
    sloppy = sig_b64[:85] + alphabet[last | 1] + "=="
    assert sloppy != sig_b64 and base64.b64decode(sloppy) == signature
    line = rfc8785.dumps({"seq": 0, "statement": statement, "sig": sloppy})
    with pytest.raises(WireFormatError):
        parse_entry(line)


def test_escaped_non_ascii_is_not_canonical(private_key: Ed25519PrivateKey) -> None:
    statement = make_statement(
        kind="kyc.referenced",
        at="2026-11-22T02:05:45.123Z",
        signer="TMB-PK",
        key_id=key_id(RFC8032_PUBLIC),
        body={"note": "café"},
    )
    leaf = entry_bytes(0, statement, sign_statement(private_key, statement))
    assert "café".encode() in leaf
    assert parse_entry(leaf).statement == statement
    with pytest.raises(WireFormatError):
        parse_entry(leaf.replace("é".encode(), b"\\u00e9"))


_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.text(),
)
_json_docs = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_json_docs)
@settings(max_examples=300, deadline=None)
def test_canonical_json_fast_path_is_byte_identical_to_rfc8785(doc):
    import rfc8785

    assert canonical_json(doc) == rfc8785.dumps(doc)
