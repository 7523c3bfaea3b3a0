"""The partner API for name checks (docs/api.md, Name checks): the receiving bank reads what
it is asked about and answers with the account's title (thin views)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import DomainError, NotFound
from core.schema import raises
from institutions.authentication import caller
from institutions.idempotency_api import idempotent
from remittance.models import NameCheck
from remittance.services import name_checks as svc

CHECK_ID = OpenApiParameter("check_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class NameCheckOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=NameCheck.Status.choices)
    payout_method = serializers.CharField()
    account = serializers.DictField(
        child=serializers.CharField(),
        help_text="{type: wallet|iban, identifier}: an E.164 MSISDN or a compact IBAN",
    )
    account_title = serializers.CharField(allow_blank=True)
    requesting_institution = serializers.CharField()
    created_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)


class NameCheckAnswerIn(serializers.Serializer):
    result = serializers.ChoiceField(choices=["matched", "not_found"])
    account_title = serializers.CharField(max_length=svc.TITLE_MAX, required=False, default="")


def name_check_out(check: NameCheck) -> dict[str, Any]:
    view = svc.name_check_view(check=check)

    def stamp(value: Any) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value else None

    kind = "wallet" if check.payout_method == "mobile_wallet" else "iban"
    return {
        "id": str(check.id),
        "status": check.status,
        "payout_method": check.payout_method,
        "account": {"type": kind, "identifier": view.identifier},
        "account_title": view.account_title,
        "requesting_institution": check.requesting_institution.code,
        "created_at": stamp(check.created_at),
        "answered_at": stamp(check.answered_at),
    }


class NameCheckDetailApi(APIView):
    @extend_schema(
        summary="A name check you were asked (receiving bank) or asked (sending bank)",
        parameters=[CHECK_ID],
        responses=NameCheckOut,
    )
    @raises(NotFound)
    def get(self, request: Request, check_id: str) -> Response:
        check = svc.name_check_get_for(institution=caller(request), check_id=check_id)
        return Response(name_check_out(check))


class NameCheckAnswerApi(APIView):
    @extend_schema(
        summary="Answer a name check with the account's title, or that there is no such account",
        parameters=[CHECK_ID],
        request=NameCheckAnswerIn,
        responses=NameCheckOut,
    )
    @raises(NotFound, DomainError, svc.NameCheckAnswered)
    @idempotent
    def post(self, request: Request, check_id: str) -> Response:
        serializer = NameCheckAnswerIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        check = svc.name_check_answer(
            institution=caller(request),
            check_id=check_id,
            matched=data["result"] == "matched",
            account_title=data["account_title"],
        )
        return Response(name_check_out(check))
