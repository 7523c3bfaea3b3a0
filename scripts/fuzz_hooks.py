"""Schemathesis hooks for scripts/fuzz_api.py (loaded through SCHEMATHESIS_HOOKS).

Every request gets its own Idempotency-Key, as a real client's retries-aside requests do.
Generated keys repeat ("0", "a"), and the hub answers a key it has seen with another body
409 `idempotency_key_reused` before the view runs: left alone, most POSTs would never reach
the code under test. A missing, blank or over-long key is left as generated (those cases
test the 400 `idempotency_key_required`).
"""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis

HEADER = "Idempotency-Key"


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    key = (case.headers or {}).get(HEADER)
    if isinstance(key, str) and key.strip() and len(key) <= 160:
        case.headers[HEADER] = f"{key}-{uuid.uuid4()}"
