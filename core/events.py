"""In-process hooks so a lower app can tell a higher one that something happened without
importing it (docs/architecture.md). Listeners run synchronously, inside the emitter's
transaction unless the emitter defers the call to commit. Where the caller may import the
callee, it calls it directly instead; these are the only events:

| event | emitted by | heard by | payload |
|---|---|---|---|
| `institution.joined` | institutions.services | ledger.hooks (statement) | institution, signing_key |
| `key.rotated` | institutions.services | ledger.hooks (statement) | institution, old_key, new_key |
| `corridor.opened` | institutions.services | ledger.hooks (statement) | corridor |
| `ledger.integrated` | ledger.services.log | settlement.hooks (reconcile) | first_seq, last_seq |
| `liquidity.restored` | settlement.services.liquidity (on commit) | remittance.hooks (release held orders) | institution, currency |
| `settlement.window_settled` | settlement.services.windows | remittance.hooks (orders → settled) | window_id, order_ids |
| `order.status_changed` | remittance.services.orders.states (one call per batch) | wallet.notices (customer notices) | changes: [(order id, new status)] |
| `kyc.status_changed` | kyc.services | wallet.notices | kyc_ref, status, change_id |
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

Listener = Callable[..., None]
_listeners: dict[str, list[Listener]] = defaultdict(list)


def subscribe(event: str, listener: Listener) -> None:
    if listener not in _listeners[event]:
        _listeners[event].append(listener)


def emit(event: str, **payload: Any) -> None:
    for listener in list(_listeners[event]):
        listener(**payload)
