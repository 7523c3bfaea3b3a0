"""Orders and their state machine (DESIGN.md §3), one module per job:

| module | job |
|---|---|
| `states.py` | the transition map and `order_transition`, the only function that moves an order's status (the database refuses any other move) |
| `submit.py` | a sending institution's submits, batched (group commit): the batch and its writes |
| `submit_checks.py` | a submit batch's reads and checks, each request as if alone |
| `answers.py` | the receiving institution's accepts and credits (batched) and rejects |
| `decisions.py` | refunds, expiry, compliance's hold decisions, liquidity release, settled |
| `batch.py` | the batch driver submits and answers share: retries, redo, stored refusals, Idempotency-Keys in the batch's transaction |
| `signing.py` | each step's signed statement: the partner's verbatim, or the hub's |
| `funds.py` | the order's transfers (reserve, post, fee, payout, void) |
| `notify.py` | webhooks to the parties |

Every state change another party relies on is a signed statement on the log. Money moves only
through `ledger.services.money`, with transfer ids derived from the order id, so a retried
call never moves money twice. Top-level services are `atomic(durable=True)`: nobody can wrap
them and roll them back half-way. Services take and return domain values and raise
`DomainError`s; HTTP (serializers, replays) stays in `remittance/apis.py`.
"""

from remittance.services.orders.answers import (
    AnswerRequest,
    order_answer,
    order_answer_grouped,
    order_reject,
    orders_answer,
)
from remittance.services.orders.batch import Answer
from remittance.services.orders.decisions import (
    order_cancel,
    order_expire,
    order_hold_decide,
    orders_expire_due,
    orders_mark_settled,
    orders_release_liquidity_held,
)
from remittance.services.orders.notify import webhook_data
from remittance.services.orders.signing import SignedStatement
from remittance.services.orders.states import ACTIVE, TRANSITIONS
from remittance.services.orders.submit import (
    SubmitRequest,
    order_submit,
    order_submit_grouped,
    orders_submit,
)

__all__ = [
    "ACTIVE",
    "TRANSITIONS",
    "Answer",
    "AnswerRequest",
    "SignedStatement",
    "SubmitRequest",
    "order_answer",
    "order_answer_grouped",
    "order_cancel",
    "order_expire",
    "order_hold_decide",
    "order_reject",
    "order_submit",
    "order_submit_grouped",
    "orders_answer",
    "orders_expire_due",
    "orders_mark_settled",
    "orders_release_liquidity_held",
    "orders_submit",
    "webhook_data",
]
