"""The partner API for KYC by reference (thin views)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kyc import serializers as s
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
        request=s.AccessRequestIn,
        responses={
            200: s.SealedRecordOut,
            400: OpenApiResponse(description="validation_error: purpose or order_ref missing"),
            404: OpenApiResponse(description="not_found: no such record for an order of yours"),
            409: OpenApiResponse(description="no_sealing_key: register an X25519 key first"),
            410: OpenApiResponse(description="kyc_record_erased"),
        },
    )
    def post(self, request: Request, kyc_ref: str) -> Response:
        body = s.AccessRequestIn(data=request.data)
        body.is_valid(raise_exception=True)
        sealed = kyc_access_request(
            institution=request.user,
            kyc_ref=kyc_ref,
            purpose=body.validated_data["purpose"],
            order_ref=body.validated_data["order_ref"],
        )
        return Response(sealed.envelope)
