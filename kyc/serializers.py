"""Shapes of the KYC API (validation of input shape only; the rules live in services)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from kyc.models import KycGrant

# A KYC reference as the hub issues it (kyc/crypto.py new_ref): any other string is not found.
KYC_REF_PATTERN = r"^kyc_[a-z2-7]{26}$"


@extend_schema_field({"type": "string", "pattern": KYC_REF_PATTERN})
class KycRefField(serializers.CharField):
    pass


class AccessRequestIn(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=KycGrant.Purpose.choices)
    order_ref = serializers.CharField(max_length=64, help_text="the order's id (a UUID)")


class SealSuiteOut(serializers.Serializer):
    mode = serializers.CharField()
    kem = serializers.CharField()
    kdf = serializers.CharField()
    aead = serializers.CharField()


class SealHeaderOut(serializers.Serializer):
    kyc_ref = serializers.CharField()
    commitment = serializers.CharField(help_text="hex SHA-256; the one on `kyc.shared`")
    grantee = serializers.CharField()
    purpose = serializers.CharField()
    order_ref = serializers.CharField()
    grant_id = serializers.CharField()
    sealed_at = serializers.CharField()


class SealedRecordOut(serializers.Serializer):
    format = serializers.CharField(help_text="remit-kyc-seal/v1")
    suite = SealSuiteOut()
    header = SealHeaderOut(help_text="bound into the HPKE `info`; altering it breaks opening")
    enc = serializers.CharField(help_text="base64 HPKE encapsulated key (32 bytes)")
    ciphertext = serializers.CharField(help_text="base64 AES-256-GCM ciphertext and tag")
