"""FX rates, settlement windows and netting, liquidity limits, reconciliation (DESIGN.md §3.6–7).

Amounts are integers in minor units of the currency named beside them; rates are Decimals.
Rows that hold money facts are written only by `settlement.services`; the admin looks and calls
services, it never edits them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

# --- FX rates -------------------------------------------------------------------------------


class FxRate(models.Model):
    """A mid-market rate: 1 unit of `base` = `rate` units of `quote`, from `source` at `as_of`.

    Rates are never edited; a new observation is a new row. Quotes reference the row they
    were priced on, so every customer rate can be traced to its source."""

    base = models.ForeignKey("institutions.Currency", on_delete=models.PROTECT, related_name="+")
    quote = models.ForeignKey("institutions.Currency", on_delete=models.PROTECT, related_name="+")
    rate = models.DecimalField(max_digits=20, decimal_places=10)
    source = models.CharField(max_length=64, help_text="e.g. manual, csv:<file>, provider name")
    as_of = models.DateTimeField(help_text="when the source observed the rate")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-as_of"]
        indexes = [models.Index(fields=["base", "quote", "-as_of"], name="fxrate_pair_latest")]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gt=0), name="fxrate_positive"),
            models.CheckConstraint(condition=~Q(base=models.F("quote")), name="fxrate_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.base_id}/{self.quote_id} {self.rate} ({self.source})"


# --- settlement windows ---------------------------------------------------------------------


class WindowStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSING = "closing", "Closing (close requested; still collecting until the close commits)"
    CLOSED = "closed", "Closed (netted, awaiting settlement)"
    SETTLED = "settled", "Settled"
    FAILED = "failed", "Failed"


CURRENT_STATUSES = (WindowStatus.OPEN, WindowStatus.CLOSING)


class SettlementWindow(models.Model):
    """A period of one corridor's credited orders that settle together.

    `open`/`closing` windows are "current": every credited order of the corridor lands in the
    current one; at most one per corridor (partial unique index). The close moves it to `closed`
    and opens the next in the same transaction, so there is never a gap nor an overlap."""

    corridor = models.ForeignKey(
        "institutions.Corridor", on_delete=models.PROTECT, related_name="settlement_windows"
    )
    number = models.PositiveIntegerField(help_text="1, 2, … per corridor")
    status = models.CharField(
        max_length=8, choices=WindowStatus.choices, default=WindowStatus.OPEN, db_index=True
    )
    send_currency = models.CharField(max_length=3)
    receive_currency = models.CharField(max_length=3)
    opened_at = models.DateTimeField()
    close_requested_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True, default="")
    # totals, written by the close from the incremental aggregates
    order_count = models.BigIntegerField(default=0)
    send_minor = models.BigIntegerField(default=0)
    fee_minor = models.BigIntegerField(default=0)
    receive_minor = models.BigIntegerField(default=0)
    # settlement
    settlement_rate = models.DecimalField(
        max_digits=20,
        decimal_places=10,
        null=True,
        blank=True,
        help_text="1 send-currency unit = this many receive-currency units",
    )
    rate_source = models.CharField(max_length=64, blank=True, default="")
    converted_minor = models.BigIntegerField(
        null=True, blank=True, help_text="send total at the settlement rate, receive currency"
    )
    fx_pnl_minor = models.BigIntegerField(
        null=True, blank=True, help_text="converted − receive total: FX gain (+) or loss (−)"
    )
    close_statement_ref = models.BigIntegerField(null=True, blank=True)
    statement_ref = models.BigIntegerField(
        null=True, blank=True, help_text="queued ref of the signed settlement.executed statement"
    )
    orders_marked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["corridor", "number"], name="window_number"),
            models.UniqueConstraint(
                fields=["corridor"],
                condition=Q(status__in=["open", "closing"]),
                name="one_current_window_per_corridor",
            ),
            models.CheckConstraint(
                condition=Q(settlement_rate__isnull=True) | Q(settlement_rate__gt=0),
                name="window_rate_positive",
            ),
            models.CheckConstraint(
                condition=~Q(status="settled")
                | Q(settlement_rate__isnull=False, statement_ref__isnull=False),
                name="window_settled_has_rate_and_statement",
            ),
        ]

    def __str__(self) -> str:
        return f"window {self.corridor_id}#{self.number} ({self.status})"

    @property
    def is_current(self) -> bool:
        return self.status in CURRENT_STATUSES


class WindowAggregate(models.Model):
    """Running totals of a window's credited orders, per (sending, receiving, currencies,
    stripe), added to by every credit in its own transaction (an UPSERT). Several stripes per
    pair spread concurrent credits over several rows; the close sums them. Closing therefore
    reads a few rows, never the orders."""

    window = models.ForeignKey(SettlementWindow, on_delete=models.PROTECT, related_name="+")
    sending_institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="+"
    )
    receiving_institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="+"
    )
    send_currency = models.CharField(max_length=3)
    receive_currency = models.CharField(max_length=3)
    stripe = models.PositiveSmallIntegerField(default=0)
    order_count = models.BigIntegerField(default=0)
    send_minor = models.BigIntegerField(default=0)
    fee_minor = models.BigIntegerField(default=0)
    receive_minor = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "window",
                    "sending_institution",
                    "receiving_institution",
                    "send_currency",
                    "receive_currency",
                    "stripe",
                ],
                name="window_aggregate_key",
            )
        ]

    def __str__(self) -> str:
        return f"aggregate w{self.window_id} {self.sending_institution_id}→{self.receiving_institution_id}#{self.stripe}"


class ReconStatus(models.TextChoices):
    PENDING = "pending", "Not yet matched"
    MATCHED = "matched", "Three facts match"
    BROKEN = "broken", "Break opened"


class WindowOrder(models.Model):
    """A credited order as settlement saw it on `order.credited`, in exactly one window (the
    primary key is the order id). The facts are copied so settlement and reconciliation never
    read the orders app."""

    order_id = models.UUIDField(primary_key=True)
    window = models.ForeignKey(SettlementWindow, on_delete=models.PROTECT, related_name="orders")
    sending_institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="+"
    )
    receiving_institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="+"
    )
    send_currency = models.CharField(max_length=3)
    send_minor = models.BigIntegerField()
    fee_minor = models.BigIntegerField()
    receive_currency = models.CharField(max_length=3)
    receive_minor = models.BigIntegerField()
    rate = models.DecimalField(max_digits=20, decimal_places=10, help_text="customer rate")
    payout_reference = models.CharField(max_length=64)
    credited_at = models.DateTimeField()
    recon_status = models.CharField(
        max_length=8, choices=ReconStatus.choices, default=ReconStatus.PENDING
    )
    reconciled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["credited_at"]
        indexes = [
            models.Index(fields=["window", "order_id"], name="windoworder_window"),
            models.Index(
                fields=["credited_at"],
                condition=Q(recon_status="pending"),
                name="windoworder_unmatched",
            ),
        ]

    def __str__(self) -> str:
        return str(self.order_id)


class Obligation(models.Model):
    """Gross bilateral obligation of a closed window: what `sending_institution` collected for
    `receiving_institution` (send currency) and what the receiver paid out (receive currency)."""

    window = models.ForeignKey(
        SettlementWindow, on_delete=models.PROTECT, related_name="obligations"
    )
    sending_institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="+"
    )
    receiving_institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="+"
    )
    send_currency = models.CharField(max_length=3)
    receive_currency = models.CharField(max_length=3)
    order_count = models.BigIntegerField()
    send_minor = models.BigIntegerField()
    fee_minor = models.BigIntegerField()
    receive_minor = models.BigIntegerField()

    class Meta:
        ordering = ["window", "sending_institution", "receiving_institution"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "window",
                    "sending_institution",
                    "receiving_institution",
                    "send_currency",
                    "receive_currency",
                ],
                name="obligation_key",
            )
        ]

    def __str__(self) -> str:
        return f"w{self.window_id} {self.sending_institution_id}→{self.receiving_institution_id}"


class NetRole(models.TextChoices):
    SENDING = "sending", "Sending institution (pays in)"
    RECEIVING = "receiving", "Receiving institution (is paid out)"
    FX_DESK = "fx_desk", "Operator FX desk (converts)"


class NetPosition(models.Model):
    """Multilateral net position of one institution in one currency for a closed window:
    positive = it receives, negative = it pays. Per window and currency the rows sum to zero;
    each non-operator row is one settlement instruction (`end_to_end_id`)."""

    window = models.ForeignKey(SettlementWindow, on_delete=models.PROTECT, related_name="positions")
    institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="+"
    )
    currency = models.CharField(max_length=3)
    role = models.CharField(max_length=10, choices=NetRole.choices)
    net_minor = models.BigIntegerField()
    end_to_end_id = models.CharField(max_length=35, unique=True)

    class Meta:
        ordering = ["window", "currency", "net_minor"]
        constraints = [
            models.UniqueConstraint(
                fields=["window", "institution", "currency"], name="net_position_key"
            )
        ]

    def __str__(self) -> str:
        return f"w{self.window_id} {self.institution_id} {self.net_minor} {self.currency}"


# --- liquidity ------------------------------------------------------------------------------


class LiquidityMode(models.TextChoices):
    PREFUNDED = "prefunded", "Prefunded (headroom = funds deposited, consumed at settlement)"
    NET_DEBIT_CAP = "net_debit_cap", "Net debit cap (headroom restored at settlement)"


class BreachAction(models.TextChoices):
    HOLD = "hold", "Hold the order"
    REFUSE = "refuse", "Refuse the order"


class LiquidityLimit(models.Model):
    """How much a sending institution may have outstanding (reserved or credited, not yet
    settled) in one currency. `used` is read from the ledger: the institution's position
    account, so it can never drift from the money."""

    institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="liquidity_limits"
    )
    currency = models.CharField(max_length=3)
    mode = models.CharField(
        max_length=16, choices=LiquidityMode.choices, default=LiquidityMode.NET_DEBIT_CAP
    )
    amount_minor = models.BigIntegerField(
        help_text="the cap, or what is prefunded now (minor units of `currency`)"
    )
    on_breach = models.CharField(
        max_length=8, choices=BreachAction.choices, default=BreachAction.HOLD
    )
    alert_percent = models.PositiveSmallIntegerField(default=80)
    alerted_at = models.DateTimeField(
        null=True, blank=True, help_text="threshold crossed and not restored since"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["institution", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "currency"], name="one_limit"),
            models.CheckConstraint(condition=Q(amount_minor__gte=0), name="limit_non_negative"),
            models.CheckConstraint(
                condition=Q(alert_percent__gte=1, alert_percent__lte=100),
                name="limit_alert_percent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.institution_id} {self.currency} {self.mode}"


class LiquidityAlert(models.Model):
    class Kind(models.TextChoices):
        THRESHOLD = "threshold", "Threshold crossed"
        BREACH = "breach", "Order held or refused"
        RESTORED = "restored", "Headroom restored"

    institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="+"
    )
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    used_minor = models.BigIntegerField()
    cap_minor = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.institution_id} {self.currency}"


# --- reconciliation -------------------------------------------------------------------------


class BreakKind(models.TextChoices):
    DEBIT_MISMATCH = "debit_mismatch", "Sender's debit missing or different"
    PAYOUT_MISMATCH = "payout_mismatch", "Receiver's position credit missing or different"
    STATEMENT_MISSING = "statement_missing", "An order statement is not on the log"
    STATEMENT_MISMATCH = "statement_mismatch", "A statement on the log contradicts the order"
    CONFIRMATION_MISMATCH = "confirmation_mismatch", "Credit confirmation differs"
    CREDIT_OVERDUE = "credit_overdue", "Accepted but not credited within the SLA"
    CREDIT_WITHOUT_ORDER = "credit_without_order", "A credit with no matching order"
    LINE_UNMATCHED = "line_unmatched", "Statement line matches no order"
    LINE_MISMATCH = "line_mismatch", "Statement line differs from the order"
    LINE_DUPLICATE = "line_duplicate", "Statement line repeats an earlier one"


class BreakStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Break(models.Model):
    """A difference between facts that should agree. `expected` (what the hub recorded) and
    `actual` (what the other source says) are the evidence shown side by side. `key` makes
    opening idempotent: a re-run never opens the same break twice, nor reopens a resolved one."""

    kind = models.CharField(max_length=24, choices=BreakKind.choices, db_index=True)
    status = models.CharField(
        max_length=8, choices=BreakStatus.choices, default=BreakStatus.OPEN, db_index=True
    )
    key = models.CharField(max_length=160, unique=True)
    order_id = models.UUIDField(null=True, blank=True, db_index=True)
    subject = models.CharField(max_length=64, blank=True, default="")
    detail = models.CharField(max_length=255, blank=True, default="")
    expected = models.JSONField(null=True, blank=True)
    actual = models.JSONField(null=True, blank=True)
    statement_import = models.ForeignKey(
        "StatementImport", on_delete=models.PROTECT, null=True, blank=True, related_name="breaks"
    )
    line_no = models.IntegerField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    opened_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open") | ~Q(resolution_reason=""),
                name="break_resolved_has_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject or self.order_id}"


class BreakEvent(models.Model):
    """Audit trail of what people did with a break (append-only by convention of the services)."""

    brk = models.ForeignKey(Break, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=16)
    actor = models.CharField(max_length=150)
    note = models.TextField(blank=True, default="")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"


class StatementFormat(models.TextChoices):
    PAYOUT_CSV = "payout-csv", "Receiving bank payout statement (CSV)"
    CAMT053 = "camt053", "Settlement bank statement (ISO 20022 camt.053)"


class StatementImport(models.Model):
    format = models.CharField(max_length=12, choices=StatementFormat.choices)
    institution = models.ForeignKey(
        "institutions.Institution",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="whose statement (for a payout statement: the receiving institution)",
    )
    filename = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    line_count = models.BigIntegerField(default=0)
    matched_count = models.BigIntegerField(default=0)
    break_count = models.BigIntegerField(default=0)
    imported_by = models.CharField(max_length=150, blank=True, default="")
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-imported_at"]
        constraints = [models.UniqueConstraint(fields=["format", "sha256"], name="statement_once")]

    def __str__(self) -> str:
        return f"{self.format} {self.filename}"


class StatementLine(models.Model):
    """Staging: one line of an imported statement, loaded in bulk (COPY on PostgreSQL) and then
    matched set-based in SQL. `order_id` is the parsed id (NULL when the line's id is none)."""

    statement_import = models.ForeignKey(
        StatementImport, on_delete=models.CASCADE, related_name="+"
    )
    line_no = models.IntegerField()
    order_id = models.UUIDField(null=True, blank=True)
    end_to_end_id = models.CharField(max_length=64, blank=True, default="")
    reference = models.CharField(max_length=64, blank=True, default="")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["statement_import", "line_no"], name="line_key")
        ]
        indexes = [
            models.Index(fields=["statement_import", "order_id", "line_no"], name="line_order"),
        ]

    def __str__(self) -> str:
        return f"line {self.line_no} of import {self.statement_import_id}"


class ReconCursor(models.Model):
    """How far the reconciliation sweep has read the log (highest seq it has matched)."""

    name = models.CharField(max_length=32, primary_key=True)
    seq = models.BigIntegerField(default=-1)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}@{self.seq}"
