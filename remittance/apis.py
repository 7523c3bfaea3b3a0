"""The partner API for quotes and orders (thin views: validate, call one service, serialize)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import DomainError, InvalidSignature, NotFound
from core.schema import raises
from institutions.authentication import caller
from institutions.idempotency import Replay
from institutions.idempotency_api import (
    idempotency_claim,
    idempotent,
    idempotent_in_service,
    problem_body,
    replay_response,
)
from ledger.services.log import InvalidStatement
from remittance import errors, selectors
from remittance import serializers as s
from remittance.services import orders as order_services
from remittance.services.quotes import quote_create
from settlement.rates import RateUnavailable
from settlement.services.liquidity import LiquidityExceeded, LiquidityNotConfigured

ORDER_ID = OpenApiParameter(
    "order_id",
    OpenApiTypes.UUID,
    OpenApiParameter.PATH,
    description="the order_id it was sent with",
)
QUOTE_ID = OpenApiParameter("quote_id", str, OpenApiParameter.PATH, pattern=s.QUOTE_ID_PATTERN)

# What a signed step's statement can be refused for (ledger/services/log.py statements_check
# and the order services' own comparison with the request).
SIGNED_STEP_REFUSALS = (InvalidSignature, InvalidStatement, errors.StatementMismatch)
# An answer to an order (accept, reject, credit) by the receiving institution.
ANSWER_REFUSALS = (*SIGNED_STEP_REFUSALS, errors.WrongParty, errors.InvalidTransition)


def _valid(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _stored_as(status: int) -> Any:
    """How an order step's answer is stored under its Idempotency-Key: the order as this view
    shows it with `status`, or the problem that refused it — what the client got."""

    def respond(result: Any) -> tuple[int, Any]:
        if isinstance(result, DomainError):
            return problem_body(result)
        return status, s.order_out(result)

    return respond


def _order_response(result: Any, status: int) -> Response:
    """The order step's answer, or the first answer again for a retried Idempotency-Key."""
    if isinstance(result, Replay):
        return replay_response(result)
    return Response(s.order_out(result), status=status)


def _signed(data: dict[str, Any]) -> order_services.SignedStatement:
    return order_services.SignedStatement.from_request(data["statement"], data["signature"])


class QuoteCreateApi(APIView):
    @extend_schema(summary="Get a firm quote", request=s.QuoteIn, responses={201: s.QuoteOut})
    @raises(
        DomainError,  # invalid_request: a currency not the corridor's, not a sending institution
        NotFound,  # no open corridor of that code
        errors.UnsupportedPayoutMethod,
        errors.AmountOutOfRange,
        RateUnavailable,
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _valid(s.QuoteIn, request.data)
        quote = quote_create(
            institution=caller(request),
            corridor_code=data["corridor"],
            payout_method=data["payout_method"],
            send_amount=data.get("send_amount"),
            receive_amount=data.get("receive_amount"),
        )
        return Response(s.quote_out(quote), status=201)


class QuoteDetailApi(APIView):
    @extend_schema(
        summary="A quote (still answers after it expired)",
        parameters=[QUOTE_ID],
        responses=s.QuoteOut,
    )
    def get(self, request: Request, quote_id: str) -> Response:
        return Response(
            s.quote_out(selectors.quote_get_for(institution=caller(request), quote_id=quote_id))
        )


class OrderListCreateApi(APIView):
    @extend_schema(
        operation_id="orders_list",
        summary="Orders you send or receive, by last change (cursor pagination)",
        parameters=[s.OrderListQuery],
        responses=s.OrderPage,
    )
    @raises(selectors.BadCursor)
    def get(self, request: Request) -> Response:
        query = _valid(s.OrderListQuery, request.query_params)
        page, next_cursor = selectors.orders_page(institution=caller(request), **query)
        return Response({"results": [s.order_out(o) for o in page], "next": next_cursor})

    @extend_schema(
        summary="Submit an order for your customer (statement order.submitted)",
        request=s.OrderIn,
        responses={201: s.OrderOut},
    )
    @raises(
        *SIGNED_STEP_REFUSALS,
        NotFound,  # the quote or a KYC record is not yours
        errors.QuoteUsed,
        errors.OrderIdUnavailable,
        errors.QuoteExpired,
        errors.KycNotVerified,
        DomainError,  # invalid_request: the sender's limits are in another currency
        errors.LimitExceeded,
        errors.TravelRuleIncomplete,
        LiquidityNotConfigured,
        LiquidityExceeded,
        errors.InsufficientFunds,
    )
    @idempotent_in_service
    def post(self, request: Request) -> Response:
        data = _valid(s.OrderIn, request.data)
        result = order_services.order_submit_grouped(
            order_services.SubmitRequest(
                sending_institution=caller(request),
                order_id=data["order_id"],
                quote_id=data["quote_id"],
                sender_kyc_ref=data["sender_kyc_ref"],
                beneficiary_kyc_ref=data["beneficiary_kyc_ref"],
                signed=_signed(data),
                claim=idempotency_claim(request, _stored_as(201)),
            )
        )
        return _order_response(result, 201)


class OrderDetailApi(APIView):
    @extend_schema(
        summary="An order you send or receive", parameters=[ORDER_ID], responses=s.OrderOut
    )
    def get(self, request: Request, order_id: str) -> Response:
        return Response(
            s.order_out(selectors.order_get_for(institution=caller(request), order_id=order_id))
        )


class _OrderStepApi(APIView):
    def _order_id(self, order_id: str) -> Any:
        # 404 for anything that is not one of the caller's orders, malformed ids included
        return selectors.order_id_visible_to(institution=caller(self.request), order_id=order_id)


class OrderAcceptApi(_OrderStepApi):
    @extend_schema(
        summary="Accept (receiving institution; statement order.accepted)",
        parameters=[ORDER_ID],
        request=s.SignedIn,
        responses=s.OrderOut,
    )
    @raises(*ANSWER_REFUSALS)
    @idempotent_in_service
    def post(self, request: Request, order_id: str) -> Response:
        pk = self._order_id(order_id)
        data = _valid(s.SignedIn, request.data)
        result = order_services.order_answer_grouped(
            order_services.AnswerRequest(
                step="accept",
                institution=caller(request),
                order_id=pk,
                signed=_signed(data),
                claim=idempotency_claim(request, _stored_as(200)),
            )
        )
        return _order_response(result, 200)


class OrderRejectApi(_OrderStepApi):
    @extend_schema(
        summary="Reject with a reason code (statement order.rejected); refunds",
        parameters=[ORDER_ID],
        request=s.RejectIn,
        responses=s.OrderOut,
    )
    @raises(*ANSWER_REFUSALS)
    @idempotent
    def post(self, request: Request, order_id: str) -> Response:
        pk = self._order_id(order_id)
        data = _valid(s.RejectIn, request.data)
        order = order_services.order_reject(
            institution=caller(request),
            order_id=pk,
            reason_code=data["reason_code"],
            signed=_signed(data),
        )
        return Response(s.order_out(order))


class OrderCreditApi(_OrderStepApi):
    @extend_schema(
        summary="Confirm the beneficiary was paid (statement order.credited)",
        parameters=[ORDER_ID],
        request=s.CreditIn,
        responses=s.OrderOut,
    )
    @raises(*ANSWER_REFUSALS, DomainError)  # invalid_request: payout_reference missing
    @idempotent_in_service
    def post(self, request: Request, order_id: str) -> Response:
        pk = self._order_id(order_id)
        data = _valid(s.CreditIn, request.data)
        result = order_services.order_answer_grouped(
            order_services.AnswerRequest(
                step="credit",
                institution=caller(request),
                order_id=pk,
                signed=_signed(data),
                payout_reference=data["payout_reference"],
                receive_amount=data["receive_amount"],
                claim=idempotency_claim(request, _stored_as(200)),
            )
        )
        return _order_response(result, 200)
