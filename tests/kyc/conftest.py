"""KYC fixtures: realistic (invented) people, the synthetic sample lists, a bank X25519 key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kyc import services
from kyc.validation import DocumentUpload

SAMPLES = Path(__file__).resolve().parents[2] / "kyc" / "samples"

SENDER = {
    "name": {"given": "Ahmad Faisal", "family": "Chaudhry", "original_script": "احمد فیصل چوہدری"},
    "date_of_birth": "1991-07-14",
    "place_of_birth": {"city": "Sialkot", "country": "PK"},
    "nationality": "PK",
    "address": {
        "line1": "Unit 12-3, Jalan Zebrafinch 7",
        "city": "Kuala Lumpur",
        "postcode": "50450",
        "country": "MY",
    },
    "id_documents": [
        {"type": "passport", "number": "QZ7719402", "issuing_country": "PK"},
        {"type": "cnic", "number": "35202-1234567-1", "issuing_country": "PK"},
    ],
    "phone": "+60123456789",
    "account": {"type": "wallet", "identifier": "+60123456789", "institution": "VALYOU-MY"},
}
BENEFICIARY = {
    "name": {"given": "Rukhsana Bibi", "family": "Chaudhry"},
    "address": {"line1": "House 88, Mohalla Quillfeather", "city": "Sialkot", "country": "PK"},
    "phone": "+923001234567",
    "account": {"type": "wallet", "identifier": "+923001234567", "institution": "TMB-PK"},
}
PII_STRINGS = [
    "Ahmad Faisal",
    "Chaudhry",
    "فیصل",
    "1991-07-14",
    "Sialkot",
    "Zebrafinch",
    "50450",
    "QZ7719402",
    "3520212345671",
    "35202-1234567-1",
    "60123456789",
    "Rukhsana",
    "Quillfeather",
    "923001234567",
]
PASSPORT_SCAN = DocumentUpload(
    kind="passport_scan",
    content_type="image/png",
    content=b"\x89PNG\r\n\x1a\n" + b"PASSPORT-IMAGE-QZ7719402-Zebrafinch" * 20,
    filename="passport.png",
)


@pytest.fixture
def sender_data():
    return copy.deepcopy(SENDER)


@pytest.fixture
def beneficiary_data():
    return copy.deepcopy(BENEFICIARY)


@pytest.fixture
def sender(network):
    return services.kyc_record_create(
        owner=network.valyou.institution,
        role="sender",
        data=copy.deepcopy(SENDER),
        documents=[PASSPORT_SCAN],
    )


@pytest.fixture
def beneficiary(network):
    return services.kyc_record_create(
        owner=network.valyou.institution, role="beneficiary", data=copy.deepcopy(BENEFICIARY)
    )


@pytest.fixture
def sample_lists(db):
    services.screening_list_import(
        fmt="un-xml", content=(SAMPLES / "un_consolidated.xml").read_bytes(), actor="test"
    )
    services.screening_list_import(
        fmt="ofac-csv",
        content=(SAMPLES / "ofac_sdn.csv").read_bytes(),
        alt_content=(SAMPLES / "ofac_alt.csv").read_bytes(),
        actor="test",
    )


@pytest.fixture
def tmb_key(network) -> X25519PrivateKey:
    """TMB registers an X25519 public key; returns the private key only TMB holds."""
    private = X25519PrivateKey.generate()
    institution = network.tmb.institution
    institution.x25519_public_key = private.public_key().public_bytes_raw()
    institution.save(update_fields=["x25519_public_key"])
    return private
