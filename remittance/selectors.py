"""Reads for remittance. An institution sees only orders it sends or receives."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

from django.db.models import Q, QuerySet

from core.errors import DomainError, NotFound
from institutions.models import Institution
from remittance.models import OrderStatus, Quote, RemittanceOrder


class BadCursor(DomainError):
    code, status, title = "invalid_cursor", 400, "Invalid cursor"


def quote_get_for(*, institution: Institution, quote_id: str) -> Quote:
    quote = Quote.objects.filter(pk=quote_id, institution=institution).first()
    if quote is None:
        raise NotFound(f"no quote {quote_id}")
    return quote


def _visible(institution: Institution) -> QuerySet[RemittanceOrder]:
    return RemittanceOrder.objects.select_related(
        "sending_institution", "receiving_institution"
    ).filter(Q(sending_institution=institution) | Q(receiving_institution=institution))


def order_get_for(*, institution: Institution, order_id: str | uuid.UUID) -> RemittanceOrder:
    try:
        order = _visible(institution).filter(pk=uuid.UUID(str(order_id))).first()
    except ValueError:
        order = None
    if order is None:
        raise NotFound(f"no order {order_id}")
    return order


def order_id_visible_to(*, institution: Institution, order_id: str | uuid.UUID) -> uuid.UUID:
    """The order id if `institution` sends or receives that order; else NotFound (malformed
    ids included). One narrow query: for the answer endpoints' 404 before they parse a body."""
    try:
        pk = uuid.UUID(str(order_id))
    except ValueError:
        raise NotFound(f"no order {order_id}") from None
    found = RemittanceOrder.objects.filter(
        Q(sending_institution_id=institution.pk) | Q(receiving_institution_id=institution.pk),
        pk=pk,
    ).exists()
    if not found:
        raise NotFound(f"no order {order_id}")
    return pk


def _encode(order: RemittanceOrder) -> str:
    raw = json.dumps([order.updated_at.isoformat(), str(order.pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, pk = json.loads(raw)
        return datetime.fromisoformat(stamp), uuid.UUID(pk)
    except (ValueError, TypeError):
        raise BadCursor("cursor is not one this API returned") from None


def orders_page(
    *,
    institution: Institution,
    status: str | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[RemittanceOrder], str | None]:
    """Orders by (updated_at, id) ascending — a stable cursor for syncing changes."""
    orders = _visible(institution)
    if status:
        if status not in OrderStatus.values:
            raise DomainError(f"unknown status {status!r}")
        orders = orders.filter(status=status)
    if since:
        orders = orders.filter(updated_at__gte=since)
    if cursor:
        stamp, pk = _decode(cursor)
        orders = orders.filter(Q(updated_at__gt=stamp) | Q(updated_at=stamp, pk__gt=pk))
    page = list(orders.order_by("updated_at", "pk")[: limit + 1])
    next_cursor = _encode(page[limit - 1]) if len(page) > limit else None
    return page[:limit], next_cursor
