"""The partner API for KYC by reference (thin views)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.schema import raises
from institutions.authentication import caller
from kyc import serializers as s
from kyc.errors import NoSealingKey, RecordErased
from kyc.services import kyc_access_request


class KycAccessApi(APIView):
    @extend_schema(
        summary="Ask for a KYC record of an order you are party to, sealed to your X25519 key",
        description=(
            "Purpose is one of beneficiary_check, travel_rule, investigation. A grant, an "
            "access-log row and a `kyc.shared` ledger statement (refs only) are recorded. Open "
            "the answer with `partner_sdk.kyc.open_sealed_record` (HPKE, RFC 9180 base mode, "
            "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM)."
        ),
        parameters=[
            OpenApiParameter("kyc_ref", str, OpenApiParameter.PATH, pattern=s.KYC_REF_PATTERN)
        ],
        request=s.AccessRequestIn,
        responses={200: s.SealedRecordOut},
    )
    @raises(NoSealingKey, RecordErased)  # and 404 not_found: no such record for an order of yours
    def post(self, request: Request, kyc_ref: str) -> Response:
        body = s.AccessRequestIn(data=request.data)
        body.is_valid(raise_exception=True)
        sealed = kyc_access_request(
            institution=caller(request),
            kyc_ref=kyc_ref,
            purpose=body.validated_data["purpose"],
            order_ref=body.validated_data["order_ref"],
        )
        return Response(sealed.envelope)
