"""In-process hooks so a lower app can tell higher apps that something happened without
importing them (DESIGN.md §2). Listeners run synchronously, inside the emitter's transaction,
so e.g. the ledger queues its statement atomically with the change it describes.

Events emitted here: `institution.joined`, `key.rotated`, `corridor.opened`,
`order.status_changed` (changes: list of (order id, new status), one call per batch, from
remittance.services.orders.states) and `kyc.status_changed` (kyc_ref, status, change_id, from
kyc.services), both heard by the wallet to notify its customers.
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
