"""The ledger's public read API and the witnesses' cosignature endpoint (thin views)."""

from __future__ import annotations

import json

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Conflict, DomainError, InvalidSignature
from core.schema import raises
from institutions.authentication import caller
from institutions.idempotency_api import idempotent
from ledger import serializers as s
from ledger.models import Checkpoint
from ledger.selectors import log as selectors
from ledger.selectors import witnesses
from ledger.services.log import InconsistentCheckpoint, cosignature_add


class CheckpointApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Latest signed checkpoint (C2SP signed note) with witness cosignatures",
        parameters=[s.CheckpointQuery],
        responses={(200, "text/plain"): str},
    )
    @raises(selectors.LogEmpty, witnesses.NotWitnessed)
    def get(self, request: Request) -> HttpResponse:
        query = s.CheckpointQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        checkpoint = _checkpoint(query.validated_data.get("witnessed"))
        return HttpResponse(
            selectors.checkpoint_note_with_cosignatures(checkpoint),
            content_type="text/plain; charset=utf-8",
        )


def _checkpoint(witnessed: int | None) -> Checkpoint:
    """The latest checkpoint, or with `witnessed` the latest cosigned by that many."""
    if witnessed is None:
        checkpoint = selectors.checkpoint_latest()
        if checkpoint is None:
            raise selectors.LogEmpty()
        return checkpoint
    checkpoint = witnesses.checkpoint_witnessed(min_witnesses=witnessed)
    if checkpoint is None:
        raise witnesses.NotWitnessed(f"no checkpoint is cosigned by {witnessed} witnesses yet")
    return checkpoint


class InclusionProofApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="RFC 9162 inclusion proof",
        parameters=[s.InclusionQuery],
        responses=s.InclusionProofOut,
    )
    @raises(selectors.BadProofRequest, witnesses.NotWitnessed)
    def get(self, request: Request) -> Response:
        query = s.InclusionQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        witnessed = query.validated_data.get("witnessed")
        checkpoint = None if witnessed is None else _checkpoint(witnessed)
        proof = selectors.inclusion_proof(
            index=query.validated_data["index"],
            size=query.validated_data["tree_size"] if checkpoint is None else checkpoint.tree_size,
        )
        answer = {
            "index": proof.index,
            "tree_size": proof.tree_size,
            "leaf_hash": s.b64(proof.leaf_hash),
            "hashes": [s.b64(h) for h in proof.hashes],
        }
        if checkpoint is not None:
            answer["checkpoint"] = selectors.checkpoint_note_with_cosignatures(checkpoint)
            answer["witnesses"] = [
                {"institution": w.institution, "name": w.name, "timestamp": w.timestamp}
                for w in witnesses.checkpoint_witnesses(checkpoint)
            ]
        return Response(answer)


class ConsistencyProofApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="RFC 9162 consistency proof",
        parameters=[s.ConsistencyQuery],
        responses=s.ConsistencyProofOut,
    )
    @raises(selectors.BadProofRequest)
    def get(self, request: Request) -> Response:
        query = s.ConsistencyQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        proof = selectors.consistency_proof(
            first=query.validated_data["first"], second=query.validated_data["second"]
        )
        return Response(
            {
                "first": proof.first,
                "second": proof.second,
                "hashes": [s.b64(h) for h in proof.hashes],
            }
        )


class EntriesApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Log entries (exact leaf bytes as JSON values) from `start`",
        parameters=[s.EntriesQuery],
        responses=s.EntriesOut,
    )
    def get(self, request: Request) -> Response:
        query = s.EntriesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        entries = selectors.entries_page(**query.validated_data)
        return Response(
            {
                "tree_size": selectors.tree_size(),
                "entries": [
                    {
                        "seq": e.seq,
                        "leaf": bytes(e.leaf).decode(),
                        "entry": json.loads(bytes(e.leaf)),
                    }
                    for e in entries
                ],
            }
        )


class CosignatureApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Submit a witness cosignature for a published checkpoint",
        request=s.CosignatureIn,
        responses={201: s.CosignatureOut},
    )
    @raises(
        DomainError,  # invalid_request: not a checkpoint and a cosignature line
        InconsistentCheckpoint,
        InvalidSignature,
        Conflict,  # this witness already cosigned that checkpoint differently
    )
    @idempotent
    def post(self, request: Request) -> Response:
        body = s.CosignatureIn(data=request.data)
        body.is_valid(raise_exception=True)
        cosignature = cosignature_add(
            institution=caller(request),
            checkpoint_text=body.validated_data["checkpoint"],
            cosignature_line=body.validated_data["cosignature"],
        )
        return Response(
            {"tree_size": cosignature.checkpoint.tree_size, "witness": caller(request).code},
            status=201,
        )


class WitnessesApi(APIView):
    """Public, like the checkpoint: what each witness last vouched for is what other witnesses
    compare with their own view (gossip), and what anyone may check."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Witnesses: each one's latest cosigned checkpoint and how far behind it is",
        responses=s.WitnessesOut,
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "tree_size": selectors.tree_size(),
                "witnesses": [
                    {
                        "institution": w.institution,
                        "name": w.name,
                        "cosigned_size": w.last_cosigned_size,
                        "cosigned_at": w.last_cosigned_at,
                        "lag_entries": w.lag_entries,
                        "lag_seconds": round(w.lag_seconds),
                        "alert": w.lag_alert_since is not None,
                        "checkpoint": w.checkpoint,
                    }
                    for w in witnesses.witnesses_status()
                ],
            }
        )
