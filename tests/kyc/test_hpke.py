"""The sealing construction: partner_sdk.kyc's own RFC 9180 code against the RFC's vector and
against the `cryptography` HPKE the hub seals with."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kyc import crypto
from partner_sdk import kyc as sdk

# RFC 9180 Appendix A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode,
# first encryption (sequence number 0).
A11 = {
    "info": "4f6465206f6e2061204772656369616e2055726e",
    "skEm": "52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736",
    "pkRm": "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d",
    "skRm": "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8",
    "enc": "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431",
    "pt": "4265617574792069732074727574682c20747275746820626561757479",
    "aad": "436f756e742d30",
    "ct": "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a9"
    "6d8770ac83d07bea87e13c512a",
}


def _v(name: str) -> bytes:
    return bytes.fromhex(A11[name])


def test_sdk_reproduces_rfc9180_a11_base_vector():
    enc, ct = sdk.hpke_seal_base(
        _v("pkRm"),
        _v("pt"),
        info=_v("info"),
        aad=_v("aad"),
        aead="AES-128-GCM",
        ephemeral_private_key=_v("skEm"),
    )
    assert (enc, ct) == (_v("enc"), _v("ct"))
    opened = sdk.hpke_open_base(
        _v("skRm"), _v("enc"), _v("ct"), info=_v("info"), aad=_v("aad"), aead="AES-128-GCM"
    )
    assert opened == _v("pt")
    with pytest.raises(sdk.SealError):
        sdk.hpke_open_base(_v("skRm"), _v("enc"), _v("ct"), info=b"other", aead="AES-128-GCM")


def test_sdk_and_cryptography_hpke_interoperate_on_the_aes256_suite():
    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    sealed = suite.encrypt(b"record", private.public_key(), info=b"ctx")
    assert sdk.hpke_open_base(private, sealed[:32], sealed[32:], info=b"ctx") == b"record"
    enc, ct = sdk.hpke_seal_base(public, b"record", info=b"ctx")
    assert suite.decrypt(enc + ct, private, info=b"ctx") == b"record"


def test_hub_envelope_opens_with_the_sdk_and_checks_the_commitment():
    private, public = sdk.x25519_generate()
    salt, data = b"s" * 32, {"name": {"given": "Ali"}}
    header = {"kyc_ref": "kyc_x", "commitment": sdk.commitment(salt, data), "grantee": "TMB-PK"}
    payload = {
        "kyc_ref": "kyc_x",
        "role": "beneficiary",
        "salt": "c3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3M=",
        "data": data,
        "documents": [],
    }
    envelope = crypto.seal(public_key=public, header=header, payload=payload)
    assert sdk.open_sealed_record(envelope, private)["data"] == data
    lying = crypto.seal(
        public_key=public, header=dict(header, commitment="0" * 64), payload=payload
    )
    with pytest.raises(sdk.SealError, match="commitment"):
        sdk.open_sealed_record(lying, private)
