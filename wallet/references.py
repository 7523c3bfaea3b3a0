"""The short human reference a customer reads out on the phone: `R7K3-Q9M2`.

Derived stably from the order id (the same order always shows the same reference, on the
track page, the receipt, the CSV and the e-mails), so nothing is stored. It is for people, not
for lookups: 8 Crockford base-32 characters carry 40 bits, so two orders may share one in a
very large history; code that finds an order by reference must scope it to one customer and
accept that more than one may match.

Crockford's alphabet leaves out I, L, O and U, so what is read aloud or typed back cannot be
confused (`reference_normalise` maps the look-alikes back).
"""

from __future__ import annotations

import hashlib
import uuid

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8
_DOMAIN = b"remit-wallet/v1/reference\n"
_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})


def order_reference(order_id: uuid.UUID | str) -> str:
    """`XXXX-XXXX` from the first 40 bits of SHA-256(domain ‖ the id's 16 bytes)."""
    raw = order_id.bytes if isinstance(order_id, uuid.UUID) else uuid.UUID(str(order_id)).bytes
    number = int.from_bytes(hashlib.sha256(_DOMAIN + raw).digest()[:5], "big")
    chars = [ALPHABET[(number >> shift) & 31] for shift in range(5 * (LENGTH - 1), -1, -5)]
    return "".join(chars[:4]) + "-" + "".join(chars[4:])


def reference_normalise(text: str) -> str | None:
    """What a customer typed (`r7k3 q9m2`, `R7K3Q9M2`, `r7k3-q9m2`) as `R7K3-Q9M2`, or None."""
    compact = "".join(ch for ch in text.upper() if ch not in " -").translate(_LOOKALIKES)
    if len(compact) != LENGTH or any(ch not in ALPHABET for ch in compact):
        return None
    return compact[:4] + "-" + compact[4:]
