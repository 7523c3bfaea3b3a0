"""`objs_insert` (core/db.py): the rows it writes read back exactly as `bulk_create`'s would,
on both backends — every column type the order batch uses (UUID, Decimal, JSON, bytes,
nullable foreign keys, auto_now stamps) — and its conflict and returning modes."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from core.db import objs_insert
from institutions.idempotency import IdempotencyRecord
from ledger.models import QueuedStatement
from tests.remittance.conftest import corridor  # noqa: F401  (the fixture)


def _rows(model, pks):
    return [model.objects.filter(pk=pk).values().get() for pk in pks]


@pytest.mark.django_db
def test_rows_read_back_as_bulk_create_writes_them():
    def statements(tag: str) -> list[QueuedStatement]:
        return [
            QueuedStatement(
                statement=b'{"v":1,"x":"\\u00e9"}' + bytes([n]),
                signature=bytes(range(64)),
                kind="order.submitted",
                signer="PARTNER-MY",
                subject=f"{tag}-{n}",
            )
            for n in range(3)
        ]

    ours = objs_insert(statements("ours"), returning_pk=True)
    theirs = QueuedStatement.objects.bulk_create(statements("theirs"))
    assert all(o.pk for o in ours) and len({o.pk for o in ours}) == 3
    for mine, django in zip(
        _rows(QueuedStatement, [o.pk for o in ours]),
        _rows(QueuedStatement, [t.pk for t in theirs]),
        strict=True,
    ):
        mine.pop("id"), django.pop("id")
        # the same instant for a batch (ours) or per row (Django's): both the insert time
        assert abs(mine.pop("queued_at") - django.pop("queued_at")).total_seconds() < 5
        assert mine.pop("subject").replace("ours", "theirs") == django.pop("subject")
        assert bytes(mine.pop("statement")) == bytes(django.pop("statement"))
        assert bytes(mine.pop("signature")) == bytes(django.pop("signature"))
        assert mine.keys() == django.keys()
    stored = QueuedStatement.objects.get(pk=ours[0].pk)
    assert stored.queued_at is not None  # auto_now_add filled


@pytest.mark.django_db
def test_json_and_nullable_columns_and_conflicts():
    body = {"amount": "10.00", "nested": [1, None, "é"], "rate": str(Decimal("63.1234"))}
    first = IdempotencyRecord(actor="institution:X", key="k", request_hash="h", response_body=body)
    objs_insert([first], returning_pk=True)
    stored = IdempotencyRecord.objects.get(pk=first.pk)
    assert stored.response_body == body
    assert stored.response_status is None and stored.completed_at is None
    assert stored.created_at is not None

    duplicate = IdempotencyRecord(actor="institution:X", key="k", request_hash="other")
    objs_insert([duplicate], ignore_conflicts=True)  # skipped, nothing raised
    assert IdempotencyRecord.objects.get(actor="institution:X", key="k").request_hash == "h"
    with pytest.raises(IntegrityError), transaction.atomic():
        objs_insert([IdempotencyRecord(actor="institution:X", key="k", request_hash="again")])


@pytest.mark.django_db
def test_uuid_decimal_and_foreign_keys(corridor):  # noqa: F811
    """The order row itself: everything a submit writes, read back."""
    from remittance.models import OrderStatusChange, RemittanceOrder
    from remittance.services.orders import orders_submit
    from tests.remittance.test_submit_batch import partner_quote, partner_request

    [order] = orders_submit([partner_request(corridor, partner_quote(corridor))])
    stored = RemittanceOrder.objects.get(pk=order.pk)
    assert isinstance(stored.pk, uuid.UUID) and stored.rate == order.rate
    assert stored.customer_id is None and stored.source_account_id == order.source_account_id
    assert stored.created_at == order.created_at and stored.updated_at is not None
    change = OrderStatusChange.objects.get(order=stored)
    assert (change.from_status, change.to_status) == ("", "submitted")


@pytest.mark.django_db
def test_quotes_braces_backslashes_sql_nulls_and_empty_bytes_survive():
    odd = 'a"{},\\'
    rows = [
        IdempotencyRecord(actor=odd, key=f"k{n}", request_hash="NULL", response_body=None)
        for n in range(3)
    ]
    objs_insert(rows, returning_pk=True)
    got = list(IdempotencyRecord.objects.filter(pk__in=[r.pk for r in rows]).order_by("pk"))
    assert [g.key for g in got] == ["k0", "k1", "k2"]
    assert all(g.actor == odd and g.request_hash == "NULL" for g in got)
    assert all(g.response_body is None for g in got)
    json_null = IdempotencyRecord(actor="b", key="j", request_hash="x", response_body="null")
    objs_insert([json_null], returning_pk=True)
    assert IdempotencyRecord.objects.get(pk=json_null.pk).response_body == "null"
    empty = QueuedStatement(statement=b"", signature=b"\x00" * 64, kind="k", signer="s")
    objs_insert([empty], returning_pk=True)
    assert bytes(QueuedStatement.objects.get(pk=empty.pk).statement) == b""
