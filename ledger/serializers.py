from __future__ import annotations

import base64

from rest_framework import serializers


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class CheckpointQuery(serializers.Serializer):
    witnessed = serializers.IntegerField(
        min_value=0,
        max_value=100,
        required=False,
        help_text="the latest checkpoint cosigned by at least this many witnesses",
    )


class InclusionQuery(serializers.Serializer):
    index = serializers.IntegerField(min_value=0)
    tree_size = serializers.IntegerField(min_value=1, required=False)
    witnessed = serializers.IntegerField(
        min_value=0,
        max_value=100,
        required=False,
        help_text="instead of tree_size: prove against the latest checkpoint cosigned by at "
        "least this many witnesses (the answer then carries that checkpoint and its witnesses)",
    )

    def validate(self, attrs: dict) -> dict:
        if ("tree_size" in attrs) == ("witnessed" in attrs):
            raise serializers.ValidationError("give exactly one of tree_size and witnessed")
        return attrs


class ConsistencyQuery(serializers.Serializer):
    first = serializers.IntegerField(min_value=1)
    second = serializers.IntegerField(min_value=1)


class EntriesQuery(serializers.Serializer):
    start = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class CheckpointWitnessOut(serializers.Serializer):
    institution = serializers.CharField(help_text="institution code, the cosigner name")
    name = serializers.CharField()
    timestamp = serializers.IntegerField(help_text="the cosignature's time, Unix seconds")


class InclusionProofOut(serializers.Serializer):
    index = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    hashes = serializers.ListField(child=serializers.CharField())
    checkpoint = serializers.CharField(
        required=False, help_text="with `witnessed`: the cosigned checkpoint (signed note)"
    )
    witnesses = CheckpointWitnessOut(many=True, required=False)


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


class WitnessOut(serializers.Serializer):
    institution = serializers.CharField()
    name = serializers.CharField()
    cosigned_size = serializers.IntegerField(allow_null=True)
    cosigned_at = serializers.DateTimeField(allow_null=True)
    lag_entries = serializers.IntegerField()
    lag_seconds = serializers.IntegerField()
    alert = serializers.BooleanField(help_text="lagging more than the hub's alert threshold")
    checkpoint = serializers.CharField(
        allow_null=True,
        help_text="the latest checkpoint it cosigned: the operator's line and its own",
    )


class WitnessesOut(serializers.Serializer):
    tree_size = serializers.IntegerField()
    witnesses = WitnessOut(many=True)
