"""Refusals the wallet's own services raise; `detail` is what the customer reads (already in
their language)."""

from core.errors import DomainError


class WalletRefusal(DomainError):
    code, status, title = "wallet_refused", 400, "Refused"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field
