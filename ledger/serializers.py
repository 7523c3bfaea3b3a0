from __future__ import annotations

import base64

from rest_framework import serializers


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class InclusionQuery(serializers.Serializer):
    index = serializers.IntegerField(min_value=0)
    tree_size = serializers.IntegerField(min_value=1)


class ConsistencyQuery(serializers.Serializer):
    first = serializers.IntegerField(min_value=1)
    second = serializers.IntegerField(min_value=1)


class EntriesQuery(serializers.Serializer):
    start = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class InclusionProofOut(serializers.Serializer):
    index = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    hashes = serializers.ListField(child=serializers.CharField())


class ConsistencyProofOut(serializers.Serializer):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    hashes = serializers.ListField(child=serializers.CharField())


class CosignatureIn(serializers.Serializer):
    checkpoint = serializers.CharField(
        trim_whitespace=False, help_text="checkpoint text (origin, size, root lines)"
    )
    cosignature = serializers.CharField(
        trim_whitespace=False, help_text="the witness's signature line, '— <code> <base64>'"
    )


class EntryOut(serializers.Serializer):
    seq = serializers.IntegerField()
    leaf = serializers.CharField(help_text="the exact canonical leaf bytes, as a UTF-8 string")
    entry = serializers.JSONField()


class EntriesOut(serializers.Serializer):
    tree_size = serializers.IntegerField()
    entries = EntryOut(many=True)


class CosignatureOut(serializers.Serializer):
    tree_size = serializers.IntegerField()
    witness = serializers.CharField()
