"""Stable error codes of the order API (docs/api.md)."""

from core.errors import Conflict, DomainError, NotFound


class QuoteExpired(DomainError):
    code, status, title = "quote_expired", 422, "Quote expired"


class QuoteUsed(Conflict):
    code, title = "quote_used", "Quote already used by another order"


class AmountOutOfRange(DomainError):
    code, status, title = "amount_out_of_range", 422, "Amount outside the corridor's limits"


class UnsupportedPayoutMethod(DomainError):
    code, status, title = "unsupported_payout_method", 422, "Payout method not offered"


class InsufficientFunds(DomainError):
    code, status, title = "insufficient_funds", 422, "Insufficient funds"


class LimitExceeded(DomainError):
    code, status, title = "limit_exceeded", 422, "KYC tier limit exceeded"


class KycNotVerified(DomainError):
    code, status, title = "kyc_not_verified", 422, "Sender KYC is not verified"


class TravelRuleIncomplete(DomainError):
    code, status, title = "travel_rule_incomplete", 422, "Travel-rule data missing"


class InvalidTransition(Conflict):
    code, title = "invalid_transition", "Order is not in a state that allows this"


class StatementMismatch(DomainError):
    code, status, title = "statement_mismatch", 400, "Signed statement does not match request"


class OrderNotFound(NotFound):
    code, title = "not_found", "Order not found"


class WrongParty(DomainError):
    code, status, title = "wrong_party", 403, "Not this institution's step"


class OrderIdUnavailable(Conflict):
    """A new order named an id that another institution's order already has. Answered only
    after every other check passed, as for a fresh id, so it tells a non-party nothing the
    id's public ledger entries do not."""

    code, title = "order_id_unavailable", "Order id unavailable"
