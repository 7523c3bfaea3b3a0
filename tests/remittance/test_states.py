"""The order state machine, in Python and in the database (issue 12: a transition the map
does not allow is refused even by raw SQL)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from remittance.errors import InvalidTransition
from remittance.models import OrderStatus, RemittanceOrder
from remittance.services.orders import TRANSITIONS
from remittance.services.orders.states import order_transition

from .test_orders_api import quote, submit

pytestmark = pytest.mark.django_db

ALL = [s.value for s in OrderStatus]


def _migration_moves():
    from importlib import import_module

    module = import_module("remittance.migrations.0005_order_transition_guard")
    return set(module.MOVES), set(module.START)


def test_the_database_guard_holds_the_same_map_as_the_code():
    moves, start = _migration_moves()
    assert start == TRANSITIONS[""]
    assert moves == {(a, b) for a, targets in TRANSITIONS.items() if a for b in targets}


def _raw_status(order_id, status) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE remittance_remittanceorder SET status = %s WHERE id = %s",
            [status, order_id.hex if connection.vendor == "sqlite" else order_id],
        )


@pytest.mark.parametrize("target", ["credited", "settled", "refunded", "held"])
def test_raw_sql_cannot_skip_a_step(corridor, target):
    order = RemittanceOrder.objects.get(pk=submit(corridor, quote(corridor)).json()["id"])
    assert order.status == "submitted"
    with pytest.raises(DatabaseError, match="state machine"), transaction.atomic():
        _raw_status(order.pk, target)
    assert RemittanceOrder.objects.get(pk=order.pk).status == "submitted"


def test_raw_sql_may_make_an_allowed_move_and_a_no_change_update(corridor):
    order = RemittanceOrder.objects.get(pk=submit(corridor, quote(corridor)).json()["id"])
    _raw_status(order.pk, "submitted")  # unchanged: not a move
    _raw_status(order.pk, "accepted")
    assert RemittanceOrder.objects.get(pk=order.pk).status == "accepted"


def test_an_order_cannot_be_inserted_in_a_later_state(corridor):
    order = RemittanceOrder.objects.get(pk=submit(corridor, quote(corridor)).json()["id"])
    order.pk = None
    order.id = __import__("uuid").uuid4()
    order.status = "credited"
    with pytest.raises(DatabaseError, match="state machine"), transaction.atomic():
        order.save(force_insert=True)


@pytest.mark.parametrize("current", ALL)
def test_order_transition_refuses_every_move_outside_the_map(current):
    order = RemittanceOrder(status=current)
    for target in ALL:
        order.status = current
        if target in TRANSITIONS[current]:
            change = order_transition(order, target, actor="test")
            assert (change.from_status, change.to_status, order.status) == (
                current,
                target,
                target,
            )
        else:
            with pytest.raises(InvalidTransition):
                order_transition(order, target, actor="test")
            assert order.status == current
